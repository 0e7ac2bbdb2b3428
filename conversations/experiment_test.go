package conversations

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"journeybot/journey"
)

func TestAssignIsStickyIndependentAndByShares(t *testing.T) {
	e1 := &Experiment{ID: "gift", Holdout: 0.1, Variants: []*Variant{{Name: "a", Share: 1}, {Name: "b", Share: 2}}}
	e2 := &Experiment{ID: "tone", Variants: []*Variant{{Name: "x", Share: 1}, {Name: "y", Share: 1}}}
	const n = 30000
	count := map[string]int{}
	joint := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("tg:%d", 100000+i)
		v1, v2 := Assign(id, e1), Assign(id, e2)
		if Assign(id, e1) != v1 {
			t.Fatalf("%s: assignment changed between calls", id)
		}
		count[v1]++
		if v1 != HoldoutName {
			joint[v1+v2]++
		}
	}
	share := func(k string) float64 { return float64(count[k]) / n }
	// Holdout 10%, then a:b = 1:2 of the remaining 90%.
	for k, want := range map[string]float64{HoldoutName: 0.1, "a": 0.3, "b": 0.6} {
		if math.Abs(share(k)-want) > 0.015 {
			t.Errorf("share of %s = %.3f, want %.2f", k, share(k), want)
		}
	}
	// Independent experiments: being in a says nothing of x or y.
	in := float64(count["a"])
	if r := float64(joint["ax"]) / in; math.Abs(r-0.5) > 0.02 {
		t.Errorf("P(x | a) = %.3f, want 0.5: experiments are not independent", r)
	}
}

const experimentScripts = `
settings: {languages: [pt-BR, en], fallback: fallback}
stages:
  - {id: new, initial: true}
  - {id: loyal}
transitions:
  - {on: order.delivered, to: loyal}
intents:
  - {id: gift, keywords: [presente]}
  - {id: hi, keywords: [oi]}
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "?", en: "?"}
  - id: gift
    triggers: [{intent: gift}]
    steps:
      - id: pick
        experiment: gift_test
        goal: order.paid
        window: 7d
        holdout: 20%
        variants:
          - name: ten
            say: {pt-BR: "Dez por cento: {{ coupon | default \"\" }}", en: "Ten percent: {{ coupon | default \"\" }}"}
            offer: {code: DEZ, expires: 7d}
          - name: points
            say: {pt-BR: "Pontos em dobro", en: "Double points"}
      - say: {pt-BR: "Até logo", en: "Bye"}
  - id: hi
    triggers: [{intent: hi}]
    steps:
      - id: greet
        say:
          - {pt-BR: "Olá A", en: "Hello A"}
          - {pt-BR: "Olá B", en: "Hello B"}
          - {pt-BR: "Olá C", en: "Hello C"}
        pick: ab
        goal: stage.loyal
        window: 2d
  - id: nps
    triggers: [{command: nps}]
    steps:
      - id: tone
        experiment: nps_tone
        goal: nps>=9
        variants:
          - {name: short, say: {pt-BR: "Rápido:", en: "Quick:"}}
          - {name: warm, say: {pt-BR: "Com carinho:", en: "Warmly:"}}
      - id: ask
        survey: nps
        text: {pt-BR: "De 0 a 10?", en: "From 0 to 10?"}
`

func experimentEngine(t *testing.T) *Engine {
	t.Helper()
	s, probs := Load(map[string][]byte{"x.yaml": []byte(experimentScripts)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := len(s.Experiments); got != 3 {
		t.Fatalf("%d experiments, want 3 (gift_test, hi.greet, nps_tone)", got)
	}
	return NewEngine(s, DefaultOptions())
}

func TestExperimentStepAssignsOnceAndHoldsOut(t *testing.T) {
	e := experimentEngine(t)
	exp := e.Scripts().Experiment("gift_test")
	now := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	for i := range 200 {
		j := journey.New(fmt.Sprintf("c%d", i), now)
		want := Assign(j.ID, exp)
		seen[want]++
		r := e.Handle(j, Input{Kind: InText, Text: "presente"}, now)
		if len(r.Experiments) != 1 || r.Experiments[0] != (ExperimentHit{Experiment: "gift_test", Variant: want, Exposed: now, At: now}) {
			t.Fatalf("%s: hits %+v, want one exposure to %s", j.ID, r.Experiments, want)
		}
		if a := j.Experiments["gift_test"]; a.Variant != want || a.At != now.Unix() {
			t.Fatalf("%s: stored assignment %+v, want %s at %d", j.ID, a, want, now.Unix())
		}
		got := texts(r)
		switch want {
		case HoldoutName:
			if len(got) != 0 || j.Answers["coupon"] != "" {
				t.Fatalf("%s in the holdout got %q (coupon %q): the holdout gets nothing from the flow", j.ID, got, j.Answers["coupon"])
			}
		case "ten":
			if !slices.Equal(got, []string{"Dez por cento: DEZ", "Até logo"}) || j.Answers["coupon"] != "DEZ" {
				t.Fatalf("%s (ten) got %q, coupon %q", j.ID, got, j.Answers["coupon"])
			}
		case "points":
			if !slices.Equal(got, []string{"Pontos em dobro", "Até logo"}) || j.Answers["coupon"] != "" {
				t.Fatalf("%s (points) got %q, coupon %q", j.ID, got, j.Answers["coupon"])
			}
		}
		// Again a day later: the same variant, no second exposure.
		r = e.Handle(j, Input{Kind: InText, Text: "presente"}, now.Add(24*time.Hour))
		if len(r.Experiments) != 0 || j.Experiments["gift_test"].At != now.Unix() {
			t.Fatalf("%s: second visit counted again: %+v", j.ID, r.Experiments)
		}
	}
	if seen[HoldoutName] == 0 || seen["ten"] == 0 || seen["points"] == 0 {
		t.Fatalf("200 customers did not reach every arm: %v", seen)
	}
}

func TestExperimentConversionsWithinTheWindowOnce(t *testing.T) {
	e := experimentEngine(t)
	now := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	paid := func(j *journey.Journey, at time.Time, id string) *Result {
		return e.Handle(j, Input{Kind: InEvent, Event: &journey.Event{ID: id, Type: "order.paid", At: at, Order: &journey.Order{ID: id}}}, at)
	}
	j := journey.New("c1", now)
	e.Handle(j, Input{Kind: InText, Text: "presente"}, now)
	v := j.Experiments["gift_test"].Variant
	if r := paid(j, now.Add(3*24*time.Hour), "1"); len(r.Experiments) != 1 || !r.Experiments[0].Converted || r.Experiments[0].Variant != v || !r.Experiments[0].Exposed.Equal(now) {
		t.Fatalf("a purchase 3 days after exposure: hits %+v, want one conversion of %s exposed at %v", r.Experiments, v, now)
	}
	if r := paid(j, now.Add(4*24*time.Hour), "2"); len(r.Experiments) != 0 {
		t.Fatalf("a second purchase converted again: %+v", r.Experiments)
	}
	late := journey.New("c2", now)
	e.Handle(late, Input{Kind: InText, Text: "presente"}, now)
	if r := paid(late, now.Add(8*24*time.Hour), "3"); len(r.Experiments) != 0 {
		t.Fatalf("a purchase 8 days after exposure (window 7d) converted: %+v", r.Experiments)
	}
	// An imported purchase from before the exposure is no conversion;
	// one within the window, imported later, is (by its own time).
	imp := journey.New("c3", now)
	e.Handle(imp, Input{Kind: InText, Text: "presente"}, now)
	if r := paid(imp, now.Add(-time.Hour), "4"); len(r.Experiments) != 0 {
		t.Fatalf("a purchase before the exposure converted: %+v", r.Experiments)
	}
	ev := &journey.Event{ID: "5", Type: "order.paid", At: now.Add(2 * time.Hour), Order: &journey.Order{ID: "5"}}
	if r := e.Handle(imp, Input{Kind: InEvent, Event: ev}, now.Add(10*24*time.Hour)); len(r.Experiments) != 1 || !r.Experiments[0].At.Equal(ev.At) {
		t.Fatalf("an imported purchase 2 hours after exposure: %+v, want a conversion at its time", r.Experiments)
	}
}

func TestPickABIsAnExperimentOfEveryText(t *testing.T) {
	e := experimentEngine(t)
	now := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	shown := map[string]bool{}
	converted := 0
	for i := range 60 {
		j := journey.New(fmt.Sprintf("ab%d", i), now)
		r := e.Handle(j, Input{Kind: InText, Text: "oi"}, now)
		name := j.Experiments["hi.greet"].Variant
		if got := texts(r); len(got) != 1 || got[0] != "Olá "+name {
			t.Fatalf("%s: got %q, want the text of variant %s", j.ID, got, name)
		}
		shown[name] = true
		// Goal stage.loyal within 2 days: half the customers get there in a
		// day, the others in three.
		delay := 24 * time.Hour
		if i%2 == 1 {
			delay = 72 * time.Hour
		}
		at := now.Add(delay)
		r = e.Handle(j, Input{Kind: InEvent, Event: &journey.Event{ID: "d", Type: "order.delivered", At: at, Order: &journey.Order{ID: "9"}}}, at)
		if j.Stage != "loyal" {
			t.Fatalf("stage %q, want loyal", j.Stage)
		}
		converted += len(r.Experiments)
		if len(r.Experiments) != 1-i%2 {
			t.Fatalf("%s reached the stage after %v: hits %+v", j.ID, delay, r.Experiments)
		}
	}
	if len(shown) != 3 {
		t.Fatalf("variants shown: %v, want A, B and C (a third text is a variant too)", shown)
	}
	if converted != 30 {
		t.Fatalf("%d conversions, want 30", converted)
	}
}

func TestSurveyGoal(t *testing.T) {
	e := experimentEngine(t)
	now := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		score string
		hits  int
	}{{"9", 1}, {"10", 1}, {"8", 0}, {"3", 0}} {
		j := journey.New("s"+tc.score, now)
		r := e.Handle(j, Input{Kind: InCommand, Command: "nps"}, now)
		if len(texts(r)) != 2 || !strings.HasSuffix(texts(r)[1], "De 0 a 10?") {
			t.Fatalf("nps flow sent %q", texts(r))
		}
		r = e.Handle(j, Input{Kind: InText, Text: tc.score}, now.Add(time.Minute))
		if len(r.Experiments) != tc.hits {
			t.Errorf("nps %s: hits %+v, want %d conversion(s) for goal nps>=9", tc.score, r.Experiments, tc.hits)
		}
	}
}

// Lint names each mistake of an experiment at its FILE:LINE:COL.
func TestLintExperiments(t *testing.T) {
	src := `settings: {languages: [pt-BR, en], fallback: fallback}
stages: [{id: new, initial: true}]
intents: [{id: a, keywords: [a]}, {id: b, keywords: [b]}, {id: c, keywords: [c]}]
flows:
  - id: fallback
    steps: [{say: {pt-BR: "?", en: "?"}}]
  - id: a
    triggers: [{intent: a}]
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
      - id: x
        experiment: gift
        goal: order.payed
        holdout: 120%
        variants:
          - {name: one, say: {pt-BR: "Um"}}
          - {name: one, say: {pt-BR: "Dois", en: "Two"}, share: 0}
          - {name: holdout, say: {pt-BR: "Três", en: "Three"}}
          - {name: empty}
          - {name: coupon, say: {pt-BR: "{{ coupon }} até {{ coupon_expires }}", en: "{{ coupon }}"}, offer: {code: C, expires: 1d}}
          - {name: nocoupon, say: {pt-BR: "{{ coupon }}", en: "{{ coupon }}"}}
  - id: b
    triggers: [{intent: b}]
    steps:
      - id: y
        experiment: gift
        goal: stage.vip
        variants: [{name: solo, say: {pt-BR: "S", en: "S"}}]
      - id: z
        experiment: bad goal
        goal: nps>=11
        variants: [{name: p, say: {pt-BR: "P", en: "P"}}, {name: q, say: {pt-BR: "Q", en: "Q"}}]
  - id: c
    triggers: [{intent: c}]
    steps:
      - id: w
        say: {pt-BR: "W", en: "W"}
        goal: order.paid
      - id: v
        experiment: feel
        goal: csat>=4
        variants: [{name: p, say: {pt-BR: "P", en: "P"}}, {name: q, say: {pt-BR: "Q", en: "Q"}}]
`
	_, probs := Load(map[string][]byte{"x.yaml": []byte(src)})
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	for _, p := range got {
		if strings.Contains(p, `variant "coupon"`) {
			t.Errorf("a variant's text may use its own offer's coupon: %s", p)
		}
	}
	for _, want := range []string{
		`x.yaml:13:15: goal: event type "order.payed" is not one the bot knows (did you mean "order.paid"?); a store's own type must be listed in settings.events`,
		`x.yaml:14:18: holdout must be a share from 0 up to (not including) 100%, e.g. 10%`,
		`x.yaml:16:30: variant "one" say: text missing in language en`,
		`x.yaml:17:13: duplicate variant name "one" in experiment "gift"`,
		`x.yaml:17:13: variant "one": share must be more than 0 (a relative weight, default 1)`,
		`x.yaml:18:13: variant name "holdout" is the holdout's: give the variant another name, and the holdout share with holdout:`,
		`x.yaml:19:13: variant "empty" needs say (a text), offer, or both`,
		`x.yaml:11:9: warning: experiment "gift" holds customers out at this step, but step "1" before it already sends them something: put the experiment first so the holdout gets nothing from flow "a"`,
		`x.yaml:21:43: warning: variant "nocoupon" say: {{ coupon }} may have no data; add | default "..." or wrap it in {{ if coupon }}`,
		`x.yaml:26:21: duplicate experiment id "gift" (also at x.yaml:12:21): results would mix`,
		`x.yaml:27:15: goal: stage "vip" does not exist`,
		`x.yaml:25:9: experiment "gift" compares nothing: give it two variants or more, or one and a holdout`,
		`x.yaml:30:21: experiment id "bad goal" may not contain spaces or ':'`,
		`x.yaml:31:15: goal "nps>=11": no survey step saves "nps"`,
		`x.yaml:36:9: goal and window go with pick: ab (or an experiment step)`,
		`x.yaml:41:15: goal "csat>=4": no survey step saves "csat"`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing problem:\n  %s\ngot:\n  %s", want, strings.Join(got, "\n  "))
		}
	}
}

// An experiment step with buttons waits for a press like a say step, for
// every variant; the press (a button or its typed label) goes on.
func TestExperimentStepWithButtons(t *testing.T) {
	src := `settings: {languages: [en], fallback: fallback}
stages: [{id: new, initial: true}]
intents: [{id: deal, keywords: [deal]}]
flows:
  - id: fallback
    steps: [{say: "?"}]
  - id: deal
    triggers: [{intent: deal}]
    steps:
      - id: offer
        experiment: deal_text
        goal: coupon.redeemed
        variants:
          - {name: plain, say: "A deal", offer: {code: PLAIN, expires: 2d}}
          - {name: fancy, say: "A fancy deal", offer: {code: FANCY, expires: 2d}}
        buttons:
          - {label: "Show me", goto: show}
        end: true
      - id: show
        say: "Your code: {{ coupon }}"
`
	s, probs := Load(map[string][]byte{"d.yaml": []byte(src)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	e := NewEngine(s, DefaultOptions())
	now := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i := range 20 {
		j := journey.New(fmt.Sprintf("b%d", i), now)
		r := e.Handle(j, Input{Kind: InText, Text: "deal"}, now)
		v := j.Experiments["deal_text"].Variant
		seen[v] = true
		if len(r.Messages) != 1 || len(r.Messages[0].Buttons) != 1 || !j.Conv.Waiting {
			t.Fatalf("%s (%s): %+v, waiting %v; want one message with the button, waiting", j.ID, v, r.Messages, j.Conv.Waiting)
		}
		in := Input{Kind: InButton, Data: r.Messages[0].Buttons[0].Data}
		if i%2 == 1 {
			in = Input{Kind: InText, Text: "show me"}
		}
		r = e.Handle(j, in, now.Add(time.Minute))
		want := "Your code: " + strings.ToUpper(v)
		if got := texts(r); len(got) != 1 || got[0] != want {
			t.Fatalf("%s pressed: %q, want %q", j.ID, got, want)
		}
		r = e.Handle(j, Input{Kind: InEvent, Event: &journey.Event{ID: "r", Type: "coupon.redeemed", Coupon: strings.ToUpper(v)}}, now.Add(time.Hour))
		if len(r.Experiments) != 1 || !r.Experiments[0].Converted {
			t.Fatalf("%s redeemed: %+v, want a conversion", j.ID, r.Experiments)
		}
	}
	if !seen["plain"] || !seen["fancy"] {
		t.Fatalf("20 customers saw only %v", seen)
	}
}

// Assignments to experiments gone from the scripts are dropped once as old
// as their counts; current ones, and recent ones of a removed experiment, stay.
func TestOldAssignmentsAreForgotten(t *testing.T) {
	e := experimentEngine(t)
	now := time.Date(2027, 6, 1, 13, 0, 0, 0, time.UTC)
	old := now.Add(-401 * 24 * time.Hour).Unix()
	j := journey.New("f1", now)
	j.Experiments = map[string]journey.Assignment{
		"gift_test": {Variant: "ten", At: old},                           // still in the scripts
		"gone_old":  {Variant: "a", At: old},                             // removed long ago
		"gone_new":  {Variant: "a", At: now.Add(-24 * time.Hour).Unix()}, // removed lately: may come back
	}
	e.Handle(j, Input{Kind: InText, Text: "oi"}, now)
	if _, ok := j.Experiments["gone_old"]; ok || len(j.Experiments) != 3 {
		t.Fatalf("assignments after a turn: %v; want gift_test, gone_new and hi.greet", j.Experiments)
	}
}
