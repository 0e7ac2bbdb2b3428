package bot_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/conversations"
	"journeybot/insight"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

// Customers go through two experiments on the real runtime, two processes
// sharing one Redis, on a simulated clock: exposures and conversions are
// counted once per customer, summed across processes, attributed to the
// exposure day, and read back with their statistics — a variant with no
// traffic and a tie included.
func TestExperimentsThroughTheRuntime(t *testing.T) {
	redistest.Each(t, testExperimentsThroughTheRuntime)
}

func testExperimentsThroughTheRuntime(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	scripts, _, err := conversations.LoadDir("testdata/experiments")
	if err != nil {
		t.Fatal(err)
	}
	clk := simclock.New(schStart) // Monday 10:00 in São Paulo
	var bots []*bot.Bot
	var recorders []*insight.ExperimentCounter
	var recs []*channeltest.Recorder
	for range 2 {
		rec := insight.NewExperimentCounter(r.Client, r.Prefix, saoPaulo)
		b := bot.New(bot.Options{
			Store:  journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix}),
			Engine: conversations.NewEngine(scripts, schOptions()), Now: clk.Now, Experiments: rec,
		})
		ch := channeltest.New("telegram")
		b.AddChannel(ch)
		bots, recorders, recs = append(bots, b), append(recorders, rec), append(recs, ch)
	}
	seq := 0
	event := func(p int, customer, typ string, edit func(*journey.Event)) {
		t.Helper()
		seq++
		ev := journey.Event{ID: fmt.Sprintf("ev%d", seq), Type: typ, At: clk.Now(),
			Customer: journey.EventCustomer{ID: customer, TelegramChat: customer}}
		if edit != nil {
			edit(&ev)
		}
		if _, err := bots[p].HandleEvent(ctx, ev); err != nil {
			t.Fatalf("%s for %s: %v", typ, customer, err)
		}
	}
	sent := func(customer string) []string {
		var out []string
		for _, ch := range recs {
			out = append(out, ch.Texts(customer)...)
		}
		return out
	}

	gift := scripts.Experiment("gift")
	const customers = 60
	arms := map[string][]string{}
	for i := range customers {
		id := fmt.Sprintf("%d", 7000+i)
		arms[conversations.Assign(id, gift)] = append(arms[conversations.Assign(id, gift)], id)
		event(i%2, id, "order.delivered", func(ev *journey.Event) { ev.Order = &journey.Order{ID: "o" + id} })
	}
	if len(arms["vip"]) != 0 || len(arms["ten"]) < 10 || len(arms["points"]) < 10 || len(arms["holdout"]) == 0 {
		t.Fatalf("assignment of the 60 customers: %d ten, %d points, %d vip, %d holdout; the test wants vip without traffic",
			len(arms["ten"]), len(arms["points"]), len(arms["vip"]), len(arms["holdout"]))
	}
	for _, id := range arms["holdout"] {
		if got := sent(id); len(got) != 0 {
			t.Fatalf("%s in the holdout was sent %q", id, got)
		}
	}
	for _, id := range arms["ten"] {
		if got := sent(id); !slices.Equal(got, []string{"10% off with TEN"}) {
			t.Fatalf("%s (ten) was sent %q", id, got)
		}
	}
	// A second delivery shows the same variant and is no new exposure.
	event(1, arms["points"][0], "order.delivered", func(ev *journey.Event) { ev.Order = &journey.Order{ID: "again"} })
	if got := sent(arms["points"][0]); !slices.Equal(got, []string{"Double points this week", "Double points this week"}) {
		t.Fatalf("second delivery for %s sent %q", arms["points"][0], got)
	}

	// Two days later: every "ten" customer buys, a third of "points", one
	// in the holdout; nine days later one more "points" customer buys,
	// outside the 7-day window.
	clk.Add(48 * time.Hour)
	buy := func(id string) {
		event(seq%2, id, "order.paid", func(ev *journey.Event) { ev.Order = &journey.Order{ID: "p" + id + clk.Now().Format("0102")} })
	}
	for _, id := range arms["ten"] {
		buy(id)
		buy(id) // a second purchase is not a second conversion
	}
	pointsBuyers := len(arms["points"]) / 3
	for _, id := range arms["points"][:pointsBuyers] {
		buy(id)
	}
	buy(arms["holdout"][0])
	clk.Add(7 * 24 * time.Hour)
	buy(arms["points"][len(arms["points"])-1])

	// The greeting's pick: ab, with 10 customers in each text and 3 of each
	// reaching the goal stage: a tie.
	hello := scripts.Experiment("hello.greet")
	clk.Add(24 * time.Hour) // another day: the gift's range does not include it
	helloDay := clk.Now()
	byText := map[string][]string{}
	for i := 0; len(byText["A"]) < 10 || len(byText["B"]) < 10; i++ {
		id := fmt.Sprintf("h%d", i)
		v := conversations.Assign(id, hello)
		if len(byText[v]) == 10 {
			continue
		}
		byText[v] = append(byText[v], id)
		event(i%2, id, "customer.created", nil)
	}
	clk.Add(time.Hour)
	for _, v := range []string{"A", "B"} {
		for _, id := range byText[v][:3] {
			event(0, id, "coupon.redeemed", func(ev *journey.Event) { ev.Coupon = "X" })
		}
	}

	for _, rec := range recorders {
		if err := rec.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	day := schStart
	got, err := insight.ReadExperiments(ctx, r.Client, r.Prefix, scripts, day, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "gift" || got[1].ID != "hello.greet" {
		t.Fatalf("experiments %+v, want gift and hello.greet", got)
	}
	g := got[0]
	want := map[string][2]int64{
		"ten":     {int64(len(arms["ten"])), int64(len(arms["ten"]))},
		"points":  {int64(len(arms["points"])), int64(pointsBuyers)},
		"vip":     {0, 0},
		"holdout": {int64(len(arms["holdout"])), 1},
	}
	var names []string
	for _, v := range g.Variants {
		names = append(names, v.Name)
		if w := want[v.Name]; v.Customers != w[0] || v.Conversions != w[1] {
			t.Errorf("gift %s: %d customers, %d conversions; want %d, %d", v.Name, v.Customers, v.Conversions, w[0], w[1])
		}
	}
	if !slices.Equal(names, []string{"ten", "points", "vip", "holdout"}) {
		t.Errorf("gift variants %v, want ten, points, vip, holdout", names)
	}
	t.Logf("gift: %+v", g)
	vip := g.Variants[2]
	if vip.Rate != nil || vip.Interval != [2]float64{0, 1} || g.Winner != "" || g.Verdict != "No winner yet: vip has no customers yet" {
		t.Errorf("gift with a variant without traffic: vip %+v, winner %q, verdict %q", vip, g.Winner, g.Verdict)
	}
	if ten := g.Variants[0]; ten.Rate == nil || *ten.Rate != 1 || ten.ProbabilityBest < 0.5 {
		t.Errorf("ten: %+v, want rate 1 and the likely best", ten)
	}
	if g.Goal != "order.paid" || g.Window != "7d" || g.Holdout != 0.2 {
		t.Errorf("gift goal %q window %q holdout %v", g.Goal, g.Window, g.Holdout)
	}
	if h := got[1]; h.Variants[0].Customers != 0 {
		t.Errorf("hello on the gift's day: %+v, want no customers (they came a day later)", h.Variants)
	}

	got, err = insight.ReadExperiments(ctx, r.Client, r.Prefix, scripts, helloDay, helloDay)
	if err != nil {
		t.Fatal(err)
	}
	h := got[1]
	for _, v := range h.Variants {
		if v.Customers != 10 || v.Conversions != 3 || v.ProbabilityBest != 0.5 || v.Rate == nil || *v.Rate != 0.3 {
			t.Errorf("tie, variant %s: %+v, want 10 customers, 3 conversions, rate 0.3, probability best 0.5", v.Name, v)
		}
	}
	if h.Winner != "" || h.Verdict != "No winner yet: the variants convert alike so far (30.0% vs 30.0%)" {
		t.Errorf("tie: winner %q, verdict %q", h.Winner, h.Verdict)
	}
	if got[0].Verdict != "No customers yet" {
		t.Errorf("gift on a day without exposures: %q", got[0].Verdict)
	}
}
