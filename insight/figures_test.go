package insight_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/events"
	"journeybot/insight"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

var saoPaulo = func() *time.Location {
	l, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		panic(err)
	}
	return l
}()

// day is 2026-03-DD at hh:mm in São Paulo, the business's zone.
func day(dd, hh, mm int) time.Time { return time.Date(2026, 3, dd, hh, mm, 0, 0, saoPaulo) }

// world is the real runtime on Redis with a simulated clock.
type world struct {
	t      *testing.T
	ctx    context.Context
	clk    *simclock.Clock
	bot    *bot.Bot
	stats  *bot.Stats
	rec    *channeltest.Recorder
	redis  *redistest.Redis
	engine *conversations.Engine
	seq    int
}

func newWorld(t *testing.T, r *redistest.Redis) *world {
	t.Helper()
	scripts, _, err := conversations.LoadDir("testdata/figures")
	if err != nil {
		t.Fatal(err)
	}
	clk := simclock.New(day(2, 9, 30))
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	eng := conversations.NewEngine(scripts, conversations.DefaultOptions())
	stats := bot.NewStats(r.Client, r.Prefix, clk.Now).InZone(saoPaulo)
	b := bot.New(bot.Options{
		Store: store, Engine: eng, Now: clk.Now, Metrics: bot.NewMetrics(stats),
		Figures: insight.NewRecorder(saoPaulo, 3*24*time.Hour),
	})
	rec := channeltest.New("telegram")
	b.AddChannel(rec)
	return &world{t: t, ctx: context.Background(), clk: clk, bot: b, stats: stats, rec: rec, redis: r, engine: eng}
}

func (w *world) at(t time.Time) { w.t.Helper(); w.clk.Set(t) }

func (w *world) inbound(in channels.Inbound) {
	w.t.Helper()
	w.seq++
	in.Channel, in.ID = "telegram", fmt.Sprint("m", w.seq)
	if err := w.bot.HandleInbound(w.ctx, in); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) say(addr, text string) {
	w.t.Helper()
	w.inbound(channels.Inbound{Address: addr, Kind: channels.KindText, Text: text, FirstName: "Ana", LanguageCode: "en"})
}

// press presses the button labelled label of the last message to addr.
func (w *world) press(addr, label string) {
	w.t.Helper()
	sent := w.rec.To(addr)
	if len(sent) == 0 {
		w.t.Fatalf("nothing was sent to %s", addr)
	}
	for _, b := range sent[len(sent)-1].Buttons {
		if b.Label == label {
			w.inbound(channels.Inbound{Address: addr, Kind: channels.KindButton, Data: b.Data, Text: label})
			return
		}
	}
	w.t.Fatalf("no button %q in the last message to %s: %+v", label, addr, sent[len(sent)-1])
}

func (w *world) command(addr, cmd string) {
	w.t.Helper()
	w.inbound(channels.Inbound{Address: addr, Kind: channels.KindCommand, Command: cmd})
}

func (w *world) event(id, typ, customer string, order *journey.Order, coupon string) {
	w.t.Helper()
	ev := journey.Event{ID: id, Type: typ, At: w.clk.Now(), Customer: journey.EventCustomer{ID: customer}, Order: order, Coupon: coupon}
	if _, err := w.bot.HandleEvent(w.ctx, ev); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) tick() {
	w.t.Helper()
	if _, err := w.bot.Tick(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) report(from, to time.Time) *insight.Report {
	w.t.Helper()
	if err := w.stats.Flush(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	r := insight.NewReader(w.redis.Client, insight.ReaderOptions{
		Prefix: w.redis.Prefix, Zone: saoPaulo, Scripts: w.engine.Scripts(), AbandonAfter: 3 * 24 * time.Hour, Now: w.clk.Now,
	})
	rep, err := r.Report(w.ctx, from, to)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// history is the store's past, imported: h1 bought in January and
// February, h2 in January only (so by March h2 is at risk).
const history = `{"id":"h1-a","type":"order.paid","occurred_at":"2026-01-10T15:00:00-03:00","customer":{"id":"h1","addresses":{"telegram":"201"}},"order":{"id":"h1a","total":100,"currency":"BRL"}}
{"id":"h2-a","type":"order.paid","occurred_at":"2026-01-20T15:00:00-03:00","customer":{"id":"h2","addresses":{"telegram":"202"}},"order":{"id":"h2a","total":80,"currency":"BRL"}}
{"id":"h1-b","type":"order.paid","occurred_at":"2026-02-15T15:00:00-03:00","customer":{"id":"h1"},"order":{"id":"h1b","total":50,"currency":"BRL"}}
`

// The figures of a week of a small shop, computed from what customers did
// through the real runtime: flows, surveys, a coupon, purchases (imported
// and live), a nudge and its replies, a case; with a day of no activity.
func TestFiguresFromAWeekOfJourneys(t *testing.T) {
	redistest.Each(t, testFiguresFromAWeekOfJourneys)
}

func testFiguresFromAWeekOfJourneys(t *testing.T, r *redistest.Redis) {
	w := newWorld(t, r)
	sum, err := events.Import(w.ctx, strings.NewReader(history), w.bot, events.ImportOptions{Now: w.clk.Now, Workers: 1})
	if err != nil || sum.Applied != 3 {
		t.Fatalf("import: %+v, %v", sum, err)
	}

	// Monday 2: h2's 30 days since January's purchase have passed.
	w.at(day(2, 10, 0))
	w.tick()
	w.at(day(2, 10, 5))
	w.say("101", "hello") // a1 signs up all the way
	w.at(day(2, 10, 6))
	w.say("101", "a1@example.com")
	w.at(day(2, 10, 7))
	w.press("101", "Tea")
	w.at(day(2, 11, 0))
	w.say("102", "hello") // a2 never gives the e-mail

	// Tuesday 3: nothing happens.

	// Wednesday 4.
	w.at(day(4, 12, 0))
	w.say("103", "hello") // a3 never answers either
	w.at(day(4, 12, 10))
	w.say("101", "rate us")
	w.say("101", "10")
	w.at(day(4, 12, 20))
	w.say("102", "rate us") // a2 leaves the e-mail question for the survey
	w.say("102", "6")
	w.at(day(4, 12, 30))
	w.say("101", "coupon")
	w.at(day(4, 13, 0))
	w.event("a1-paid", "order.paid", "telegram:101", &journey.Order{ID: "a1", Total: 40, Currency: "BRL"}, "")
	w.at(day(4, 13, 5))
	w.event("a1-coupon", "coupon.redeemed", "telegram:101", &journey.Order{ID: "a1"}, "BACK10")
	w.at(day(4, 13, 10))
	w.event("h2-b", "order.paid", "h2", &journey.Order{ID: "h2b", Total: 60, Currency: "BRL"}, "")
	// The store tells the same payment again, under another event id: one purchase.
	w.event("h2-b-again", "order.paid", "h2", &journey.Order{ID: "h2b", Total: 60, Currency: "BRL"}, "")
	w.at(day(4, 13, 15))
	ev := journey.Event{ID: "c5-paid", Type: "order.paid", At: w.clk.Now(),
		Customer: journey.EventCustomer{ID: "c5", Addresses: map[string]string{"telegram": "105"}},
		Order:    &journey.Order{ID: "c5", Total: 25, Currency: "BRL"}}
	if _, err := w.bot.HandleEvent(w.ctx, ev); err != nil {
		t.Fatal(err)
	}
	w.at(day(4, 14, 0))
	w.say("106", "human") // a6 asks for a person: a case
	w.at(day(4, 14, 10))
	if won, _, err := w.bot.Claim(w.ctx, "telegram:106", "U1", "Bia"); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	w.at(day(4, 15, 10))
	if _, err := w.bot.Resolve(w.ctx, "telegram:106", "Bia"); err != nil {
		t.Fatal(err)
	}
	w.at(day(4, 15, 12))
	w.say("106", "4")

	// Thursday 5: the day-after CSAT nudges go to a1, h2 and c5; c5 has
	// blocked the bot.
	w.rec.Block("105")
	w.at(day(5, 14, 0))
	w.tick()
	w.at(day(5, 14, 30))
	w.say("101", "5")
	w.at(day(5, 15, 0))
	w.command("202", "stop")

	// Monday 9: a4 starts signing up; the report is read at noon.
	w.at(day(9, 10, 0))
	w.say("104", "hello")
	w.at(day(9, 12, 0))
	if err := w.stats.Flush(w.ctx); err != nil {
		t.Fatal(err)
	}
	// Who is in each stage now, as the changes counted it (the report
	// below counts it afresh from the journeys the first time: the same).
	if got := w.allTime("now|"); got["now|new"] != 4 || got["now|customer"] != 4 || got["now|at_risk"] != 0 {
		t.Errorf("stage counts by their changes: %v", got)
	}
	rep := w.report(day(2, 0, 0), day(9, 0, 0))

	if rep.From != "2026-03-02" || rep.To != "2026-03-09" || rep.Zone != "America/Sao_Paulo" || len(rep.Days) != 8 {
		t.Fatalf("range %s..%s in %s, %d days", rep.From, rep.To, rep.Zone, len(rep.Days))
	}

	// Flows and steps, in script order.
	flows := map[string]insight.Flow{}
	var order []string
	for _, f := range rep.Flows {
		flows[f.ID] = f
		order = append(order, f.ID)
	}
	if got := strings.Join(order, " "); got != "fallback signup rate coupon csat_tip handoff after_case optout" {
		t.Errorf("flows in the order %s", got)
	}
	signup := flows["signup"]
	if signup.Started != 4 || signup.Completed != 1 || signup.Abandoned != 2 || signup.Waiting != 1 {
		t.Errorf("signup: started %d completed %d abandoned %d waiting %d, want 4 1 2 1", signup.Started, signup.Completed, signup.Abandoned, signup.Waiting)
	}
	steps := map[string]insight.Step{}
	for _, s := range signup.Steps {
		steps[s.ID] = s
	}
	if s := steps["ask_email"]; s.Reached != 4 || s.Abandoned != 2 || s.Waiting != 1 || !near(s.DropOff, 0.5) {
		t.Errorf("ask_email: %+v, want reached 4, abandoned 2 (a2 left for the survey, a3 never answered), waiting 1, drop-off 0.5", s)
	}
	if s := steps["pick"]; s.Reached != 1 || s.Abandoned != 0 || !near(s.DropOff, 0) {
		t.Errorf("pick: %+v", s)
	}
	if s := steps["thanks"]; s.Reached != 1 {
		t.Errorf("thanks: %+v", s)
	}
	if f := flows["rate"]; f.Started != 2 || f.Completed != 2 || f.Abandoned != 0 || f.NPS == nil || f.NPS.Answers != 2 {
		t.Errorf("rate: %+v", f)
	}
	tip := flows["csat_tip"]
	if tip.Started != 3 || tip.Completed != 1 || tip.Abandoned != 2 {
		t.Errorf("csat_tip: started %d completed %d abandoned %d, want 3 1 2", tip.Started, tip.Completed, tip.Abandoned)
	}
	if p := tip.Proactive; p == nil || p.Sent != 3 || p.Replied != 2 || !near(p.OpenRate, 2.0/3) || p.OptOuts != 1 || p.Blocks != 1 {
		t.Errorf("csat_tip nudges: %+v, want 3 sent, 2 replied, 1 opt-out, 1 block", p)
	}
	if flows["signup"].Proactive != nil {
		t.Error("signup is not proactive")
	}

	// Surveys.
	if n := rep.NPS; n.Answers != 2 || n.Promoters != 1 || n.Detractors != 1 || n.Passives != 0 || !near(n.Score, 0) {
		t.Errorf("NPS %+v", n)
	}
	if c := rep.CSAT; c.Answers != 2 || !near(c.Average, 4.5) || !near(c.SatisfiedShare, 1) || len(c.ByFlow) != 2 {
		t.Errorf("CSAT %+v", c)
	}

	// Stages.
	stages := map[string]insight.Stage{}
	for _, s := range rep.Stages.List {
		stages[s.ID] = s
	}
	want := map[string]insight.Stage{
		"new":      {ID: "new", Entered: 5, Now: 4},      // a1..a4, a6 wrote; a2, a3, a4, a6 are still new
		"customer": {ID: "customer", Entered: 3, Now: 4}, // a1, h2 (back), c5 (directly); h1 since February
		"at_risk":  {ID: "at_risk", Entered: 1, Now: 0},  // h2, until it bought again
	}
	for id, s := range want {
		if stages[id] != s {
			t.Errorf("stage %s: %+v, want %+v", id, stages[id], s)
		}
	}
	funnel := map[string]insight.FunnelStep{}
	for _, f := range rep.Stages.Funnel {
		funnel[f.From+">"+f.To] = f
	}
	// a1 was new from Monday 10:05 to Wednesday 13:00: the 2-3 day bucket.
	if f := funnel["new>customer"]; f.Moved != 1 || !near(f.Rate, 0.2) || !near(f.MedianHours, 60) {
		t.Errorf("new>customer: %+v", f)
	}
	// The one who went at risk this week had entered customer 45 days
	// before (an import): the move is this week's, but of the 3 who entered
	// customer this week none is at risk yet — the rate is of those 3.
	if f := funnel["customer>at_risk"]; f.Moved != 1 || !near(f.Rate, 0) || !near(f.MedianHours, 45*24) {
		t.Errorf("customer>at_risk: %+v", f)
	}
	if f := funnel["at_risk>customer"]; f.Moved != 1 || !near(f.Rate, 1) {
		t.Errorf("at_risk>customer: %+v", f)
	}

	// Offers.
	if len(rep.Offers) != 1 || rep.Offers[0].Code != "BACK10" || rep.Offers[0].Sent != 1 || rep.Offers[0].Redeemed != 1 ||
		!near(rep.Offers[0].Rate, 1) || rep.Offers[0].Revenue != 40 {
		t.Errorf("offers %+v", rep.Offers)
	}

	// Customers: the imported purchases count in January and February.
	c := rep.Customers
	if c.New != 2 || c.Orders != 3 || c.Revenue != 125 || c.Buyers != 3 || c.Repeat != 1 || !near(c.RepeatRate, 1.0/3) ||
		c.AtRisk != 1 || c.WonBack != 1 || !near(c.RepeatRateAllTime, 0.5) {
		t.Errorf("customers %+v", c)
	}
	if !near(c.CLV.Average, 88.75) || c.CLV.Currency != "BRL" || c.CLV.ByStage["customer"] != 88.75 || len(c.CLV.ByStage) != 1 {
		t.Errorf("CLV %+v", c.CLV)
	}
	if c.CLV.ByCohort["2026-01"] != 145 || c.CLV.ByCohort["2026-03"] != 32.5 {
		t.Errorf("CLV by cohort %+v", c.CLV.ByCohort)
	}
	if len(c.Cohorts) != 2 {
		t.Fatalf("cohorts %+v", c.Cohorts)
	}
	jan, mar := c.Cohorts[0], c.Cohorts[1]
	if jan.Month != "2026-01" || jan.Customers != 2 || fmt.Sprint(jan.Returned) != "[1 1]" || fmt.Sprint(jan.Retention) != "[0.5 0.5]" {
		t.Errorf("January cohort %+v", jan)
	}
	if mar.Month != "2026-03" || mar.Customers != 2 || len(mar.Returned) != 0 {
		t.Errorf("March cohort %+v", mar)
	}

	// Cases: taken after 10 minutes, resolved after 70.
	k := rep.Cases
	if k.Opened != 1 || k.Resolved != 1 || !near(k.MedianTakeoverMins, 10) || !near(k.MedianResolveMins, 90) ||
		k.CSATAfter.Answers != 1 || !near(k.CSATAfter.Average, 4) {
		t.Errorf("cases %+v (CSAT after %+v)", k, k.CSATAfter)
	}

	// Days: Tuesday had no activity; the surveys fall on their days.
	d := rep.Days
	if d[1].Date != "2026-03-03" || d[1] != (insight.Day{Date: "2026-03-03"}) {
		t.Errorf("the quiet Tuesday: %+v", d[1])
	}
	if d[0].Inbound != 4 || d[2].NPSN != 2 || !near(d[2].NPS, 0) || d[2].CSATN != 1 || d[3].CSATN != 1 || !near(d[3].CSAT, 5) ||
		d[3].Proactive != 3 || d[3].OptOuts != 1 {
		t.Errorf("days %+v", d[:4])
	}

	// a2 asks to be erased: she leaves "new" now; what she did stays counted.
	if _, err := w.bot.Erase(w.ctx, "telegram:102", "operator"); err != nil {
		t.Fatal(err)
	}
	after := w.report(day(2, 0, 0), day(9, 0, 0))
	if s := after.Stages.List[0]; s.ID != "new" || s.Now != 3 || s.Entered != 5 || after.NPS.Answers != 2 {
		t.Errorf("after the erase: %+v, NPS answers %d", s, after.NPS.Answers)
	}

	// Without the scripts (say, a flow removed since), the flows counted
	// are listed all the same, by name, with their steps by name (fallback
	// never ran: nothing counted, not listed).
	bare, err := insight.NewReader(w.redis.Client, insight.ReaderOptions{Prefix: w.redis.Prefix, Zone: saoPaulo, Now: w.clk.Now}).
		Report(w.ctx, day(2, 0, 0), day(9, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range bare.Flows {
		names = append(names, f.ID)
		if f.ID == "signup" && (f.Started != 4 || f.Abandoned != 2 || len(f.Steps) != 3 || f.Steps[0].ID != "ask_email") {
			t.Errorf("signup without scripts: %+v", f)
		}
	}
	if got := strings.Join(names, " "); got != "after_case coupon csat_tip handoff optout rate signup" {
		t.Errorf("flows without scripts: %s", got)
	}

	// Earlier in the week, a3's question was still waiting, not abandoned.
	early := w.reportAt(day(5, 18, 0), day(4, 0, 0), day(4, 0, 0))
	for _, f := range early.Flows {
		if f.ID == "signup" && (f.Waiting != 1 || f.Abandoned != 0 || f.Started != 1) {
			t.Errorf("signup on Wednesday, seen on Thursday: %+v", f)
		}
	}
}

// allTime sums the all-time figures' shards, for the fields starting with prefix.
func (w *world) allTime(prefix string) map[string]int64 {
	w.t.Helper()
	out := map[string]int64{}
	for s := range insight.Shards {
		m, err := w.redis.Client.HGetAll(w.ctx, insight.AllKey(w.redis.Prefix, s)).Result()
		if err != nil {
			w.t.Fatal(err)
		}
		for k, v := range m {
			if strings.HasPrefix(k, prefix) {
				var n int64
				fmt.Sscan(v, &n)
				out[k] += n
			}
		}
	}
	return out
}

// reportAt reads a report as it would have been read at now.
func (w *world) reportAt(now, from, to time.Time) *insight.Report {
	w.t.Helper()
	r := insight.NewReader(w.redis.Client, insight.ReaderOptions{
		Prefix: w.redis.Prefix, Zone: saoPaulo, Scripts: w.engine.Scripts(), Now: func() time.Time { return now },
	})
	rep, err := r.Report(w.ctx, from, to)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func near(v *float64, want float64) bool { return v != nil && math.Abs(*v-want) < 1e-9 }

func TestReportRefusesABadRange(t *testing.T) {
	r := redistest.New(t)
	rd := insight.NewReader(r.Client, insight.ReaderOptions{Prefix: r.Prefix, Zone: saoPaulo})
	if _, err := rd.Report(context.Background(), day(9, 0, 0), day(2, 0, 0)); err == nil || !strings.Contains(err.Error(), "ends (2026-03-02) before it starts (2026-03-09)") {
		t.Errorf("reversed range: %v", err)
	}
	if _, err := rd.Report(context.Background(), day(1, 0, 0).AddDate(-2, 0, 0), day(1, 0, 0)); err == nil || !strings.Contains(err.Error(), "more than 400 days") {
		t.Errorf("two years: %v", err)
	}
	// A range with nothing in it: every day listed, nothing counted.
	rep, err := rd.Report(context.Background(), day(2, 0, 0), day(4, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Days) != 3 || rep.Days[2].Date != "2026-03-04" || rep.NPS.Score != nil || rep.CSAT.Average != nil || len(rep.Flows) != 0 {
		t.Errorf("empty report %+v", rep)
	}
}

// Journeys from before the figures were kept are counted in their stage by
// the first report, and changes go on from there.
func TestStagesNowCountJourneysFromBefore(t *testing.T) {
	redistest.Each(t, testStagesNowCountJourneysFromBefore)
}

func testStagesNowCountJourneysFromBefore(t *testing.T, r *redistest.Redis) {
	w := newWorld(t, r)
	store := w.bot.Store()
	for i, st := range []string{"customer", "customer", "at_risk"} {
		id := fmt.Sprint("old-", i)
		if _, err := store.Update(w.ctx, id, "", w.clk.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			j.Stage, j.LastEvent = st, w.clk.Now().Unix() // a store customer of an earlier version
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	w.at(day(2, 10, 0))
	w.say("301", "hello")
	first := w.report(day(2, 0, 0), day(2, 0, 0))
	w.at(day(2, 11, 0))
	w.event("old-2-paid", "order.paid", "old-2", &journey.Order{ID: "o2", Total: 10}, "")
	second := w.report(day(2, 0, 0), day(2, 0, 0))
	now := func(rep *insight.Report) string {
		var parts []string
		for _, s := range rep.Stages.List {
			parts = append(parts, fmt.Sprint(s.ID, "=", s.Now))
		}
		return strings.Join(parts, " ")
	}
	if got := now(first); got != "new=1 customer=2 at_risk=1" {
		t.Errorf("first report: %s", got)
	}
	if got := now(second); got != "new=1 customer=3 at_risk=0" {
		t.Errorf("after old-2 bought: %s", got)
	}
}
