package bot_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

// Scheduler tests: several bot processes (each its own Bot and Store, so
// its own cache) share one Redis and one simulated clock.

var saoPaulo = mustZone("America/Sao_Paulo")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// schStart is a Monday morning in São Paulo.
var schStart = time.Date(2026, 3, 2, 10, 0, 0, 0, saoPaulo)

type schEnv struct {
	t     *testing.T
	r     *redistest.Redis
	clk   *simclock.Clock
	bots  []*bot.Bot
	recs  []*channeltest.Recorder
	stats *bot.Stats
	seq   int
}

// schOptions are the production defaults: 12h grace, 2 a day, 5 a week,
// quiet from 21:00 to 09:00 in São Paulo.
func schOptions() conversations.Options {
	return conversations.Options{Grace: 12 * time.Hour, MaxPerDay: 2, MaxPerWeek: 5, QuietStart: 21 * time.Hour, QuietEnd: 9 * time.Hour, TimeZone: saoPaulo}
}

func newSchEnv(t *testing.T, r *redistest.Redis, processes int, opt conversations.Options) *schEnv {
	t.Helper()
	return newSchEnvBatch(t, r, processes, opt, 0)
}

// newSchEnvBatch is newSchEnv with the scheduler's batch size (0: the default).
func newSchEnvBatch(t *testing.T, r *redistest.Redis, processes int, opt conversations.Options, batch int) *schEnv {
	t.Helper()
	scripts, _, err := conversations.LoadDir("testdata/scheduler")
	if err != nil {
		t.Fatal(err)
	}
	e := &schEnv{t: t, r: r, clk: simclock.New(schStart)}
	e.stats = bot.NewStats(r.Client, r.Prefix, e.clk.Now)
	for i := 0; i < processes; i++ {
		store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
		b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(scripts, opt), Now: e.clk.Now, Metrics: bot.NewMetrics(e.stats), Batch: batch})
		rec := channeltest.New("telegram")
		b.AddChannel(rec)
		e.bots = append(e.bots, b)
		e.recs = append(e.recs, rec)
	}
	return e
}

// event applies an event of type typ for customer (whose chat address is
// its id) through process 0, at the simulated now.
func (e *schEnv) event(customer, typ string, edit func(*journey.Event)) *bot.EventOutcome {
	e.t.Helper()
	e.seq++
	ev := journey.Event{ID: fmt.Sprintf("ev%d", e.seq), Type: typ, At: e.clk.Now(),
		Customer: journey.EventCustomer{ID: customer, TelegramChat: customer}}
	if edit != nil {
		edit(&ev)
	}
	out, err := e.bots[0].HandleEvent(context.Background(), ev)
	if err != nil {
		e.t.Fatalf("event %s for %s: %v", typ, customer, err)
	}
	return out
}

func (e *schEnv) tick(p int) int {
	e.t.Helper()
	n, err := e.bots[p].Tick(context.Background())
	if err != nil {
		e.t.Fatalf("tick: %v", err)
	}
	return n
}

// texts returns what every process sent to customer.
func (e *schEnv) texts(customer string) []string {
	var out []string
	for _, r := range e.recs {
		out = append(out, r.Texts(customer)...)
	}
	return out
}

func (e *schEnv) expect(customer string, want ...string) {
	e.t.Helper()
	if got := e.texts(customer); !slices.Equal(got, want) {
		e.t.Fatalf("%s got %q, want %q", customer, got, want)
	}
}

// note returns today's count of a journey happening (nudge.dropped_late...).
func (e *schEnv) note(name string) int64 {
	e.t.Helper()
	return e.noteOn(name, e.clk.Now())
}

// noteOn is a count of the day containing day.
func (e *schEnv) noteOn(name string, day time.Time) int64 {
	e.t.Helper()
	if err := e.stats.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	d, err := e.stats.Day(context.Background(), day)
	if err != nil {
		e.t.Fatal(err)
	}
	return d[name]
}

func (e *schEnv) journey(id string) *journey.Journey {
	e.t.Helper()
	j, found, err := e.bots[0].Store().Get(context.Background(), id)
	if err != nil || !found {
		e.t.Fatalf("journey %s: found=%v err=%v", id, found, err)
	}
	return j
}

func (e *schEnv) pending() int64 {
	e.t.Helper()
	n, err := e.bots[0].Store().Pending(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestDelayedStepFiresOnceWithTwoSchedulers(t *testing.T) {
	redistest.Each(t, testDelayedStepFiresOnceWithTwoSchedulers)
}

func testDelayedStepFiresOnceWithTwoSchedulers(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 2, schOptions())
	const customers = 60
	for i := 0; i < customers; i++ {
		e.event(fmt.Sprint("c", i), "customer.created", nil)
	}
	if n := e.pending(); n != customers {
		t.Fatalf("%d customers wait on a timer, want %d", n, customers)
	}
	// Nothing is due yet.
	if e.tick(0)+e.tick(1) != 0 {
		t.Fatal("customers woken before their timer was due")
	}
	e.clk.Add(time.Hour)
	// Both processes tick at once, several times over.
	var wg sync.WaitGroup
	for p := range e.bots {
		for k := 0; k < 3; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.bots[p].Tick(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	tips := 0
	for i := 0; i < customers; i++ {
		got := e.texts(fmt.Sprint("c", i))
		if !slices.Equal(got, []string{"welcome", "first tip"}) {
			t.Fatalf("c%d got %q, want welcome then one first tip", i, got)
		}
		tips++
	}
	// Both processes took part (the claim spreads the work), and none sent twice.
	perProcess := []int{0, 0}
	for p, r := range e.recs {
		for _, m := range r.Sent() {
			if m.Text == "first tip" {
				perProcess[p]++
			}
		}
	}
	if perProcess[0]+perProcess[1] != customers {
		t.Fatalf("first tips sent per process = %v, want %d in all", perProcess, customers)
	}
	if n := e.pending(); n != 0 {
		t.Fatalf("%d customers still in the due index, want 0", n)
	}
	if e.tick(0)+e.tick(1) != 0 {
		t.Fatal("customers woken again after their timers fired")
	}
}

// Many customers due at once, two schedulers ticking side by side in
// batches smaller than what is due (so claims compete and batches come out
// short): every customer gets its tip exactly once.
func TestManyDueAtOnceFireOnceInBatches(t *testing.T) {
	redistest.Each(t, testManyDueAtOnceFireOnceInBatches)
}

func testManyDueAtOnceFireOnceInBatches(t *testing.T, r *redistest.Redis) {
	e := newSchEnvBatch(t, r, 2, schOptions(), 7)
	const customers = 300
	for i := 0; i < customers; i++ {
		e.event(fmt.Sprint("c", i), "customer.created", nil)
	}
	// Process 1 has cached none of them; process 0 all.
	e.clk.Add(time.Hour)
	var wg sync.WaitGroup
	woken := make([]int, len(e.bots))
	for p := range e.bots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := e.bots[p].Tick(context.Background())
			if err != nil {
				t.Error(err)
			}
			woken[p] = n
		}()
	}
	wg.Wait()
	if woken[0]+woken[1] != customers {
		t.Fatalf("woken per process %v, want %d in all (one tick each drains the due index)", woken, customers)
	}
	for i := 0; i < customers; i++ {
		e.expect(fmt.Sprint("c", i), "welcome", "first tip")
	}
	if n := e.pending(); n != 0 {
		t.Fatalf("%d customers still in the due index, want 0", n)
	}
}

// A batch where one customer's commit fails: the others fire, and the one
// that failed fires once its lease has run out (and Redis takes the write
// again), not before and not twice.
func TestFailedCommitInABatchIsRetriedAfterTheLease(t *testing.T) {
	redistest.Each(t, testFailedCommitInABatchIsRetriedAfterTheLease)
}

func testFailedCommitInABatchIsRetriedAfterTheLease(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 1, schOptions())
	ctx := context.Background()
	const customers = 10
	for i := 0; i < customers; i++ {
		e.event(fmt.Sprint("c", i), "customer.created", nil)
	}
	// c3's journey key holds something else for a while; the process still
	// caches the journey, so its commit script is what fails.
	key := e.bots[0].Store().Key("{c:c3}")
	if err := r.Client.Rename(ctx, key, key+":kept").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.Set(ctx, key, "not a journey", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Hour)
	if n := e.tick(0); n != customers-1 {
		t.Fatalf("%d woken, want %d (all but c3)", n, customers-1)
	}
	for i := 0; i < customers; i++ {
		if id := fmt.Sprint("c", i); id != "c3" {
			e.expect(id, "welcome", "first tip")
		}
	}
	e.expect("c3", "welcome")
	if err := r.Client.Rename(ctx, key+":kept", key).Err(); err != nil {
		t.Fatal(err)
	}
	// Still leased: nothing fires.
	if n := e.tick(0); n != 0 {
		t.Fatalf("%d woken while c3's lease holds, want 0", n)
	}
	e.clk.Add(time.Minute + time.Second)
	if n := e.tick(0); n != 1 {
		t.Fatalf("%d woken after the lease, want 1 (c3)", n)
	}
	e.expect("c3", "welcome", "first tip")
	if e.tick(0) != 0 || e.pending() != 0 {
		t.Fatal("woken again, or still due, after c3 fired")
	}
}

func TestCrashedClaimIsRetriedAfterTheLease(t *testing.T) {
	redistest.Each(t, testCrashedClaimIsRetriedAfterTheLease)
}

func testCrashedClaimIsRetriedAfterTheLease(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 2, schOptions())
	e.event("c1", "customer.created", nil)
	e.clk.Add(time.Hour)
	// Process 0 claims the customer and dies before handling it.
	now := e.clk.Now()
	ids, err := e.bots[0].Store().Claim(context.Background(), now.Unix(), now.Add(time.Minute).Unix(), 10)
	if err != nil || len(ids) != 1 {
		t.Fatalf("claim: %v %v", ids, err)
	}
	if e.tick(1) != 0 {
		t.Fatal("a leased customer was handled by another process")
	}
	e.expect("c1", "welcome")
	e.clk.Add(time.Minute)
	if e.tick(1) != 1 {
		t.Fatal("the customer was not retried when the lease ended")
	}
	e.expect("c1", "welcome", "first tip")
}

func TestStaleWakeUpSendsNothingTwice(t *testing.T) {
	redistest.Each(t, testStaleWakeUpSendsNothingTwice)
}

func testStaleWakeUpSendsNothingTwice(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 2, schOptions())
	e.event("c1", "customer.created", nil)
	e.clk.Add(time.Hour)
	e.tick(0)
	e.expect("c1", "welcome", "first tip")
	// A wake-up left in the index (say, by a process that crashed after
	// committing but before finishing) fires nothing again.
	if err := e.bots[1].Store().Schedule(context.Background(), "c1", e.clk.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if e.tick(1) != 1 {
		t.Fatal("the stale wake-up was not claimed")
	}
	e.expect("c1", "welcome", "first tip")
}

func TestCatchUpAfterDowntime(t *testing.T) { redistest.Each(t, testCatchUpAfterDowntime) }

func testCatchUpAfterDowntime(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 1, schOptions())
	// "old" signed up on Saturday, its tip was due Saturday 11:00; the bot
	// was down until Monday. "recent" signed up Monday 10:00, tip due 11:00.
	e.clk.Set(schStart.Add(-48 * time.Hour))
	e.event("old", "customer.created", nil)
	e.clk.Set(schStart)
	e.event("recent", "customer.created", nil)
	// The bot comes back at 17:00: six hours late is inside the 12h grace.
	e.clk.Set(schStart.Add(7 * time.Hour))
	if n := e.tick(0); n != 2 {
		t.Fatalf("woke %d customers, want 2", n)
	}
	e.expect("recent", "welcome", "first tip")
	e.expect("old", "welcome")
	if n := e.note("nudge.dropped_late"); n != 1 {
		t.Fatalf("nudge.dropped_late = %d, want 1", n)
	}
	// Each is counted on the day it was sent: old's welcome on Saturday.
	if n, sat := e.note("nudge.sent"), e.noteOn("nudge.sent", schStart.Add(-48*time.Hour)); n != 2 || sat != 1 {
		t.Fatalf("nudge.sent = %d on Monday and %d on Saturday, want 2 and 1 (two welcomes, one tip)", n, sat)
	}
	if ts := e.journey("old").Timers; len(ts) != 0 {
		t.Fatalf("the dropped nudge is still pending: %+v", ts)
	}
	if n := e.pending(); n != 0 {
		t.Fatalf("%d customers still in the due index, want 0", n)
	}
}

func TestQuietHoursWaitForMorningInTheCustomersZone(t *testing.T) {
	redistest.Each(t, testQuietHoursWaitForMorningInTheCustomersZone)
}

func testQuietHoursWaitForMorningInTheCustomersZone(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 1, schOptions())
	evening := time.Date(2026, 3, 2, 19, 30, 0, 0, saoPaulo)
	e.clk.Set(evening)
	e.event("sp1", "customer.created", nil)
	e.expect("sp1", "welcome")
	// 21:30: sp1's tip falls in quiet hours and waits for 09:00.
	e.clk.Set(evening.Add(2 * time.Hour))
	e.tick(0)
	e.expect("sp1", "welcome")
	morning := time.Date(2026, 3, 3, 9, 0, 0, 0, saoPaulo)
	if ts := e.journey("sp1").Timers; len(ts) != 1 || ts[0].Due != morning.Unix() {
		t.Fatalf("sp1's timers = %+v, want one due at %s", ts, morning)
	}
	if n := e.note("nudge.deferred_quiet"); n != 1 {
		t.Fatalf("nudge.deferred_quiet = %d, want 1", n)
	}
	// At the same moment it is 09:30 in Tokyo: no quiet hours there.
	e.event("tokyo", "customer.created", func(ev *journey.Event) { ev.Customer.TimeZone = "Asia/Tokyo" })
	e.expect("tokyo", "welcome")
	// A São Paulo customer signing up now gets the welcome in the morning.
	e.event("sp2", "customer.created", nil)
	e.expect("sp2")
	e.clk.Set(evening.Add(3 * time.Hour)) // 22:30 here, 10:30 in Tokyo
	e.tick(0)
	e.expect("tokyo", "welcome", "first tip")
	e.expect("sp1", "welcome")
	e.clk.Set(morning.Add(-time.Minute))
	if n := e.tick(0); n != 0 {
		t.Fatalf("woke %d customers before 09:00", n)
	}
	e.clk.Set(morning)
	e.tick(0)
	e.expect("sp1", "welcome", "first tip")
	e.expect("sp2", "welcome")
}

func TestFrequencyCapsWithSimulatedDays(t *testing.T) {
	redistest.Each(t, testFrequencyCapsWithSimulatedDays)
}

func testFrequencyCapsWithSimulatedDays(t *testing.T, r *redistest.Redis) {
	opt := schOptions()
	opt.MaxPerDay, opt.MaxPerWeek = 2, 3
	e := newSchEnv(t, r, 1, opt)
	noon := schStart.Add(2 * time.Hour) // Monday 12:00
	e.clk.Set(noon)
	for i := 0; i < 3; i++ {
		e.event("c1", "promo.sent", nil)
	}
	e.expect("c1", "promo", "promo")
	if n := e.note("nudge.deferred_cap"); n != 1 {
		t.Fatalf("nudge.deferred_cap = %d, want 1", n)
	}
	// Order updates are transactional: not capped.
	e.event("c1", "order.shipped", func(ev *journey.Event) { ev.Order = &journey.Order{ID: "77"} })
	e.expect("c1", "promo", "promo", "shipped")
	// Replies to the customer's own messages neither wait nor count.
	err := e.bots[0].HandleInbound(context.Background(), channels.Inbound{Channel: "telegram", Address: "c1", ID: "m1", Kind: channels.KindText, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	e.expect("c1", "promo", "promo", "shipped", "Hi there!")
	if c := e.journey("c1").Counters; c.SentDay != 2 || c.SentWeek != 2 {
		t.Fatalf("counters = %+v, want 2 today and 2 this week", c)
	}
	// Tuesday 09:00: the deferred promo goes out (day 1 of 2, week 3 of 3).
	tuesday := time.Date(2026, 3, 3, 9, 0, 0, 0, saoPaulo)
	e.clk.Set(tuesday)
	e.tick(0)
	e.expect("c1", "promo", "promo", "shipped", "Hi there!", "promo")
	// Tuesday noon: the weekly cap holds a new promo until next Monday.
	e.clk.Set(tuesday.Add(3 * time.Hour))
	e.event("c1", "promo.sent", nil)
	for day := 1; day <= 5; day++ { // Wednesday to Sunday mornings
		e.clk.Set(tuesday.AddDate(0, 0, day))
		e.tick(0)
	}
	if got := e.texts("c1"); len(got) != 5 {
		t.Fatalf("sent during a capped week: %q", got)
	}
	e.clk.Set(time.Date(2026, 3, 9, 9, 0, 0, 0, saoPaulo))
	e.tick(0)
	e.expect("c1", "promo", "promo", "shipped", "Hi there!", "promo", "promo")
}

func TestStageChangeCancelsPendingNudges(t *testing.T) {
	redistest.Each(t, testStageChangeCancelsPendingNudges)
}

func testStageChangeCancelsPendingNudges(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 1, schOptions())
	delivered := func(ev *journey.Event) { ev.Order = &journey.Order{ID: "500"} }
	// Both customers receive their order on Monday; "buyer" buys again at
	// noon and moves to loyalty, "control" stays in onboarding.
	e.event("buyer", "order.delivered", delivered)
	e.event("control", "order.delivered", delivered)
	e.expect("buyer", "enjoy")
	e.clk.Add(2 * time.Hour)
	out := e.event("buyer", "order.paid", func(ev *journey.Event) { ev.Order = &journey.Order{ID: "501"} })
	if out.Stage != "loyalty" {
		t.Fatalf("stage after order.paid = %q, want loyalty", out.Stage)
	}
	for _, tm := range e.journey("buyer").Timers {
		if tm.Flow == "care" {
			t.Fatalf("the care nudge of onboarding survived the stage change: %+v", tm)
		}
	}
	e.clk.Set(schStart.Add(2 * 24 * time.Hour))
	e.tick(0)
	e.clk.Set(schStart.Add(3 * 24 * time.Hour))
	e.tick(0)
	e.expect("control", "enjoy", "care tip", "review?")
	e.expect("buyer", "enjoy")
	// The review time trigger was checked when it fell due, and dropped.
	if n := e.note("nudge.cancelled_stage"); n != 1 {
		t.Fatalf("nudge.cancelled_stage = %d, want 1", n)
	}
	if n := e.pending(); n != 0 {
		t.Fatalf("%d customers still in the due index, want 0", n)
	}
}

func TestOptOutAndUnreachableStopNudges(t *testing.T) {
	redistest.Each(t, testOptOutAndUnreachableStopNudges)
}

func testOptOutAndUnreachableStopNudges(t *testing.T, r *redistest.Redis) {
	e := newSchEnv(t, r, 1, schOptions())
	e.recs[0].Block("blocked")
	e.event("quitter", "customer.created", nil)
	e.event("blocked", "customer.created", nil)
	err := e.bots[0].HandleInbound(context.Background(), channels.Inbound{Channel: "telegram", Address: "quitter", ID: "s1", Kind: channels.KindCommand, Command: "stop"})
	if err != nil {
		t.Fatal(err)
	}
	if ts := e.journey("quitter").Timers; len(ts) != 0 {
		t.Fatalf("opting out left nudges pending: %+v", ts)
	}
	if e.journey("blocked").Profile.Unreachable == 0 {
		t.Fatal("a customer who blocked the bot was not marked unreachable")
	}
	attempts := e.recs[0].Attempts()
	e.clk.Add(time.Hour)
	e.tick(0)
	e.expect("quitter", "welcome", "stopped")
	if e.recs[0].Attempts() != attempts {
		t.Fatal("the bot tried to send a nudge to a customer who blocked it")
	}
	if n := e.note("nudge.skipped_unreachable"); n != 1 {
		t.Fatalf("nudge.skipped_unreachable = %d, want 1", n)
	}
	if n := e.note("send.unreachable"); n != 1 {
		t.Fatalf("send.unreachable = %d, want 1", n)
	}
	// A promo to the opted-out customer is skipped and counted too.
	e.event("quitter", "promo.sent", nil)
	e.expect("quitter", "welcome", "stopped")
	if n := e.note("nudge.skipped_optout"); n != 1 {
		t.Fatalf("nudge.skipped_optout = %d, want 1", n)
	}
}
