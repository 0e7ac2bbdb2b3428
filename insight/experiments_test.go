package insight

import (
	"context"
	"strings"
	"testing"
	"time"

	"journeybot/conversations"
	"journeybot/internal/redistest"
)

func twoArms(id string, holdout float64, goal bool) *conversations.Experiment {
	e := &conversations.Experiment{ID: id, Flow: "f", Window: 7 * 24 * time.Hour, Holdout: holdout,
		Variants: []*conversations.Variant{{Name: "a", Share: 1}, {Name: "b", Share: 1}}}
	if goal {
		e.Goal = &conversations.Goal{Raw: "order.paid", Event: "order.paid"}
	}
	return e
}

// Several processes record; a read sums them, by the day of exposure in
// the business's time zone, conversions on their customer's exposure day.
func TestRecorderSumsProcessesByExposureDay(t *testing.T) {
	redistest.Each(t, testRecorderSumsProcessesByExposureDay)
}

func testRecorderSumsProcessesByExposureDay(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	e := twoArms("gift", 0.2, true)
	scripts := &conversations.Scripts{Experiments: []*conversations.Experiment{e}}
	// 23:30 on Monday in São Paulo is Tuesday in UTC: it counts on Monday.
	late := time.Date(2026, 3, 2, 23, 30, 0, 0, sp)
	tuesday := time.Date(2026, 3, 3, 10, 0, 0, 0, sp)
	for p := range 3 {
		rec := NewExperimentCounter(r.Client, r.Prefix, sp)
		for range 4 {
			rec.Record(conversations.ExperimentHit{Experiment: "gift", Variant: "a", Exposed: late, At: late})
		}
		rec.Record(conversations.ExperimentHit{Experiment: "gift", Variant: "b", Exposed: late, At: late})
		rec.Record(conversations.ExperimentHit{Experiment: "gift", Variant: conversations.HoldoutName, Exposed: tuesday, At: tuesday})
		// A conversion three days later counts on the exposure day.
		rec.Record(conversations.ExperimentHit{Experiment: "gift", Variant: "a", Converted: true, Exposed: late, At: late.Add(72 * time.Hour)})
		if p == 0 {
			rec.Record(conversations.ExperimentHit{Experiment: "gift", Variant: "b", Converted: true, Exposed: late, At: tuesday})
		}
		if err := rec.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	monday := time.Date(2026, 3, 2, 0, 0, 0, 0, sp)
	got, err := ReadExperiments(ctx, r.Client, r.Prefix, scripts, monday, monday)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{"a": {12, 3}, "b": {3, 1}, conversations.HoldoutName: {0, 0}}
	check := func(day string, got []Experiment, want map[string][2]int64) {
		t.Helper()
		if len(got) != 1 || len(got[0].Variants) != 3 {
			t.Fatalf("%s: %+v, want gift with a, b and the holdout", day, got)
		}
		for _, v := range got[0].Variants {
			if w := want[v.Name]; v.Customers != w[0] || v.Conversions != w[1] {
				t.Errorf("%s, %s: %d customers, %d conversions; want %d, %d", day, v.Name, v.Customers, v.Conversions, w[0], w[1])
			}
		}
	}
	check("Monday", got, want)
	got, err = ReadExperiments(ctx, r.Client, r.Prefix, scripts, monday, tuesday)
	if err != nil {
		t.Fatal(err)
	}
	check("Monday and Tuesday", got, map[string][2]int64{"a": {12, 3}, "b": {3, 1}, conversations.HoldoutName: {3, 0}})
	if ttl := r.Client.TTL(ctx, ExperimentKey(r.Prefix, "gift", monday)).Val(); ttl < 399*24*time.Hour {
		t.Errorf("a day's counts expire in %v, want 400 days", ttl)
	}
	if none, err := ReadExperiments(ctx, r.Client, r.Prefix, &conversations.Scripts{}, monday, tuesday); err != nil || none == nil || len(none) != 0 {
		t.Errorf("scripts without experiments: %v, %v; want an empty list (JSON [])", none, err)
	}
	if _, err := ReadExperiments(ctx, r.Client, r.Prefix, scripts, tuesday, monday); err == nil || !strings.Contains(err.Error(), "ends (2026-03-02) before it starts (2026-03-03)") {
		t.Errorf("a reversed range: %v", err)
	}
}

func TestSummarizeVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		e      *conversations.Experiment
		counts map[string]*Arm
		want   string // the verdict, or its start and end around "|"
		winner string
	}{
		{"winner", twoArms("x", 0, true), map[string]*Arm{"a": {N: 2000, C: 200}, "b": {N: 2000, C: 300}}, "b wins: 15.0% vs 10.0%, |% likely best", "b"},
		{"small", twoArms("x", 0, true), map[string]*Arm{"a": {N: 40, C: 4}, "b": {N: 40, C: 7}}, "No winner yet: about 340 more customers per variant needed", ""},
		{"none", twoArms("x", 0, true), nil, "No customers yet", ""},
		{"no traffic", twoArms("x", 0.1, true), map[string]*Arm{"a": {N: 40, C: 4}, "holdout": {N: 5, C: 0}}, "No winner yet: b has no customers yet", ""},
		{"no conversions", twoArms("x", 0, true), map[string]*Arm{"a": {N: 40}, "b": {N: 35}}, "No winner yet: no conversions so far", ""},
		{"tie", twoArms("x", 0, true), map[string]*Arm{"a": {N: 50, C: 4}, "b": {N: 50, C: 4}}, "No winner yet: the variants convert alike so far (8.0% vs 8.0%)", ""},
		{"no goal", twoArms("x", 0, false), map[string]*Arm{"a": {N: 50}, "b": {N: 50}}, "No goal: customers are counted, conversions are not (give the step a goal)", ""},
	} {
		got := Summarize(tc.e, tc.counts)
		start, end, _ := strings.Cut(tc.want, "|")
		if !strings.HasPrefix(got.Verdict, start) || !strings.HasSuffix(got.Verdict, end) || end == "" && got.Verdict != start || got.Winner != tc.winner {
			t.Errorf("%s: verdict %q, winner %q; want %q, %q", tc.name, got.Verdict, got.Winner, tc.want, tc.winner)
		}
	}
	x := Summarize(twoArms("x", 0, true), map[string]*Arm{"a": {N: 263, C: 81}})
	if a := x.Variants[0]; a.Rate == nil || *a.Rate != 0.308 || a.Interval != [2]float64{0.2553, 0.3662} {
		t.Errorf("81 of 263: rate %v, interval %v; want 0.308 and [0.2553, 0.3662]", a.Rate, a.Interval)
	}
	if b := x.Variants[1]; b.Rate != nil || b.Customers != 0 || b.Interval != [2]float64{0, 1} {
		t.Errorf("a variant without customers: %+v", b)
	}
}

func TestRoundUp(t *testing.T) {
	for in, want := range map[int64]int64{7: 7, 99: 99, 340: 340, 341: 350, 1001: 1100, 12345: 13000} {
		if got := roundUp(in); got != want {
			t.Errorf("roundUp(%d) = %d, want %d", in, got, want)
		}
	}
}
