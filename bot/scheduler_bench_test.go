package bot_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/redistest"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

// countingChannel counts deliveries; the benchmarks measure the scheduler,
// not a channel.
type countingChannel struct{ n atomic.Int64 }

func (c *countingChannel) Name() string                                      { return "telegram" }
func (c *countingChannel) Run(ctx context.Context, h channels.Handler) error { return nil }
func (c *countingChannel) Send(ctx context.Context, m channels.Outbound) error {
	c.n.Add(1)
	return nil
}

type schBench struct {
	r    *redistest.Redis
	clk  *simclock.Clock
	bots []*bot.Bot
	ch   *countingChannel
}

func newSchBench(b *testing.B, processes int) *schBench {
	b.Helper()
	scripts, _, err := conversations.LoadDir("testdata/scheduler")
	if err != nil {
		b.Fatal(err)
	}
	r := redistest.New(b)
	e := &schBench{r: r, clk: simclock.New(schStart), ch: &countingChannel{}}
	for i := 0; i < processes; i++ {
		store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
		bt := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(scripts, schOptions()), Now: e.clk.Now})
		bt.AddChannel(e.ch)
		e.bots = append(e.bots, bt)
	}
	return e
}

// schedule gives n customers the journey of a new sign-up: welcomed, with
// the one-hour tip pending (the timer the engine set for a template
// customer), indexed in the due set. It writes in parallel to keep the
// setup short.
func (e *schBench) schedule(b *testing.B, n int) {
	b.Helper()
	ctx := context.Background()
	ev := journey.Event{ID: "tmpl", Type: "customer.created", At: e.clk.Now(), Customer: journey.EventCustomer{
		ID: "template", Name: "Ana Souza", Language: "pt-BR", Email: "ana.souza@example.com", Phone: "+55 11 91234-5678", TelegramChat: "123456789"}}
	if _, err := e.bots[0].HandleEvent(ctx, ev); err != nil {
		b.Fatal(err)
	}
	tmpl, _, err := e.bots[0].Store().Get(ctx, "template")
	if err != nil || len(tmpl.Timers) != 1 {
		b.Fatalf("template journey: %+v, %v; want one timer", tmpl, err)
	}
	store := journey.NewStore(e.r.Client, journey.Options{Prefix: e.r.Prefix, CacheSize: 1})
	var wg sync.WaitGroup
	var failed atomic.Value
	const workers = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				id := fmt.Sprintf("cust-%07d", i)
				_, err := store.Update(ctx, id, "", e.clk.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
					*j = *tmpl.Clone()
					j.ID = id
					j.Profile.Addresses = map[string]string{"telegram": id}
					return nil, nil
				})
				if err == nil {
					err = store.Schedule(ctx, id, tmpl.Timers[0].Due)
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	// Keep only the n customers indexed.
	if err := e.bots[0].Store().Unschedule(ctx, "template"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSchedulerFire measures due items fired per second: each customer
// has one due wait step, and 1 or 4 scheduler processes (Bot instances with
// their own stores) tick concurrently until none is left. Every item is a
// claim, an atomic journey update and one delivered message.
func BenchmarkSchedulerFire(b *testing.B) {
	for _, procs := range []int{1, 4} {
		b.Run(fmt.Sprintf("processes=%d", procs), func(b *testing.B) {
			e := newSchBench(b, procs)
			e.schedule(b, b.N)
			e.clk.Add(time.Hour)
			e.ch.n.Store(0)
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, bt := range e.bots {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n, err := bt.Tick(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						if n == 0 {
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if got := e.ch.n.Load(); got != int64(b.N) {
				b.Fatalf("%d messages delivered for %d due items", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "items/s")
		})
	}
}

// BenchmarkSchedulerWaiting measures what waiting items cost: Redis memory
// per item in the due index (MEMORY USAGE of the sorted set / n), the
// journey document of a customer with one pending timer (and the timer's
// share of it), and the time of a scheduler tick while 100,000 items wait
// and none is due (the bot does no work per waiting item). MEMORY USAGE
// needs a real Redis.
func BenchmarkSchedulerWaiting(b *testing.B) {
	const n = 100_000
	e := newSchBench(b, 1)
	if !e.r.Real {
		b.Log("memory figures are the embedded Redis's estimates; set " + redistest.EnvURL + " for real ones")
	}
	e.schedule(b, n)
	ctx := context.Background()
	if c, err := e.bots[0].Store().Pending(ctx); err != nil || c != n {
		b.Fatalf("due index holds %d, %v; want %d", c, err, n)
	}
	// Every member counted, not an estimate; the embedded Redis takes no SAMPLES.
	zset, err := e.bots[0].Store().DueIndexMemory(ctx, e.r.Real)
	if err != nil {
		b.Fatal(err)
	}
	store := e.bots[0].Store()
	jb, _, err := store.Size(ctx, "cust-0000001")
	if err != nil {
		b.Fatal(err)
	}
	// The same journey without its timer, for the timer's own share.
	_, err = store.Update(ctx, "cust-0000002", "", e.clk.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Timers = nil
		return nil, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	bare, _, err := store.Size(ctx, "cust-0000002")
	if err != nil {
		b.Fatal(err)
	}
	var woken int
	b.ResetTimer()
	for b.Loop() {
		w, err := e.bots[0].Tick(ctx)
		if err != nil {
			b.Fatal(err)
		}
		woken += w
	}
	if woken != 0 {
		b.Fatalf("%d customers woken before their timers were due", woken)
	}
	b.ReportMetric(float64(zset)/n, "due-index-B/item")
	b.ReportMetric(float64(jb), "journey-with-timer-B")
	b.ReportMetric(float64(jb-bare), "timer-in-journey-B")
}
