package conversations

import (
	"strings"
	"testing"
	"time"

	"journeybot/journey"
)

// marks spells a result's marks out: "start:signup reach:signup/ask wait:signup/ask".
func marks(r *Result) string {
	var out []string
	names := map[MarkKind]string{MarkStart: "start", MarkReach: "reach", MarkWait: "wait", MarkResume: "resume",
		MarkDone: "done", MarkSurvey: "survey", MarkNudge: "nudge", MarkOffer: "offer"}
	for _, m := range r.Marks {
		s := names[m.Kind] + ":" + m.Flow
		if m.Step != "" {
			s += "/" + m.Step
		}
		if m.Value != "" {
			s += "=" + m.Value
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// The engine reports what its flows did, for the figures: a question waits
// and is answered or left, a flow ends or is left for another.
func TestMarksSayWhatTheFlowsDid(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	steps := []struct{ in, want string }{
		{"cadastro", "start:signup reach:signup/ask wait:signup/ask"},
		{"not an e-mail", ""}, // asked again: no progress, no new wait
		{"ana@example.com", "resume:signup/ask reach:signup/2 done:signup"},
		{"cadastro", "start:signup reach:signup/ask wait:signup/ask"},
		// Another request leaves the question (abandoned, if never answered).
		{"cupom", "start:coupon reach:coupon/1 offer:coupon/1=VOLTE10 reach:coupon/2 done:coupon"},
		{"blá", "start:fallback reach:fallback/1 done:fallback"},
	}
	for _, s := range steps {
		if got := marks(e.Handle(j, Input{Kind: InText, Text: s.in}, monday10)); got != s.want {
			t.Errorf("%q: marks %q, want %q", s.in, got, s.want)
		}
	}
}

func TestMarksOfSurveysButtonsAndNudges(t *testing.T) {
	e := testEngine(t)
	j := journey.New("c1", monday10)
	if got := marks(e.Handle(j, Input{Kind: InCommand, Command: "nps"}, monday10)); got != "start:nps reach:nps/q wait:nps/q" {
		t.Errorf("survey asked: %q", got)
	}
	if got := marks(e.Handle(j, Input{Kind: InText, Text: "10"}, monday10)); got != "resume:nps/q survey:nps/q=nps reach:nps/promo wait:nps/promo" {
		t.Errorf("survey answered: %q", got)
	}
	if got := marks(e.Handle(j, Input{Kind: InText, Text: "Avaliar"}, monday10)); got != "resume:nps/promo reach:nps/review done:nps" {
		t.Errorf("button pressed: %q", got)
	}
	// A nudge: the tips a day after delivery, then a wait (not the
	// customer's turn: no wait mark) and the second tip.
	e.Handle(j, Input{Kind: InEvent, Event: &journey.Event{ID: "d1", Type: "order.delivered", At: monday10}}, monday10)
	day := monday10.Add(24 * time.Hour)
	if got := marks(e.Handle(j, Input{Kind: InTick}, day)); got != "start:tips reach:tips/1 reach:tips/2 nudge:tips" {
		t.Errorf("nudge: %q", got)
	}
	if got := marks(e.Handle(j, Input{Kind: InTick}, day.Add(48*time.Hour))); got != "reach:tips/3 done:tips nudge:tips" {
		t.Errorf("after the wait: %q", got)
	}
}
