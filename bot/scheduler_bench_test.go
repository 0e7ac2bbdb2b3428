package bot_test

import (
	"context"
	"encoding/json"
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

	"github.com/redis/go-redis/v9"
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
	return newSchBenchWith(b, processes, bot.Options{})
}

// newSchBenchWith builds the processes from opt (Store, Engine and Now set here).
func newSchBenchWith(b *testing.B, processes int, opt bot.Options) *schBench {
	b.Helper()
	scripts, _, err := conversations.LoadDir("testdata/scheduler")
	if err != nil {
		b.Fatal(err)
	}
	r := redistest.New(b)
	e := &schBench{r: r, clk: simclock.New(schStart), ch: &countingChannel{}}
	for i := 0; i < processes; i++ {
		store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
		o := opt
		o.Store, o.Engine, o.Now = store, conversations.NewEngine(scripts, schOptions()), e.clk.Now
		bt := bot.New(o)
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

// BenchmarkSchedulerBatch measures due items fired per second by one
// process: 20,000 customers due at once, each claimed, its flow run, its
// journey committed with the message it sends in its outbox, its wake-up
// finished. Sending is the senders' work, bound by the channel's rate, and
// not part of it (the bot runs in the background mode of a real process,
// with no sender running; the outboxes are checked afterwards). Rows:
// batches of 100 (the default schedule.batch), one customer at a time (5,000
// of them, to keep it short), and the floor in the same run: Redis and JSON
// doing the least the same work needs, in the same batches of 100 (ZPOPMIN
// from one sorted set, HGET and decode each journey, encode it, HSET it and
// RPUSH a message of the same size, no engine and no Lua).
func BenchmarkSchedulerBatch(b *testing.B) {
	ctx := context.Background()
	rows := []struct {
		name     string
		n, batch int
	}{{"batch=100", 20_000, 100}, {"batch=1", 5_000, 1}, {"redis-floor", 20_000, 100}}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			var fired int
			var took time.Duration
			for range b.N {
				b.StopTimer()
				e := newSchBenchWith(b, 1, bot.Options{Background: true, Batch: row.batch})
				e.schedule(b, row.n)
				e.clk.Add(time.Hour)
				store := e.bots[0].Store()
				var floor *schFloor
				if row.name == "redis-floor" {
					floor = newSchFloor(b, e, row.n)
				}
				b.StartTimer()
				start := time.Now()
				if floor != nil {
					fired += floor.run(b, row.batch)
				} else {
					for {
						w, err := e.bots[0].Tick(ctx)
						if err != nil {
							b.Fatal(err)
						}
						if w == 0 {
							break
						}
						fired += w
					}
				}
				took += time.Since(start)
				b.StopTimer()
				if floor != nil {
					continue
				}
				// Every customer fired once: one message waiting in each
				// outbox (and the template's welcome in its own).
				if got, err := store.OutboxBacklog(ctx); err != nil || got != int64(row.n)+1 {
					b.Fatalf("%d outboxes with messages waiting, %v; want %d", got, err, row.n+1)
				}
				for _, id := range []string{"cust-0000000", fmt.Sprintf("cust-%07d", row.n-1)} {
					if ms, _, err := store.Outbox(ctx, id, 10); err != nil || len(ms) != 1 {
						b.Fatalf("outbox of %s: %d messages, %v; want 1", id, len(ms), err)
					}
				}
			}
			if fired != b.N*row.n {
				b.Fatalf("%d fired for %d due", fired, b.N*row.n)
			}
			b.ReportMetric(float64(fired)/took.Seconds(), "fired/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// schFloor is the least Redis and JSON work a fired item needs, on the
// customers of a schBench: the due set is one sorted set of its own.
type schFloor struct {
	e   *schBench
	due string
	msg []byte
}

func newSchFloor(b *testing.B, e *schBench, n int) *schFloor {
	ctx := context.Background()
	f := &schFloor{e: e, due: e.r.Prefix + ":floor:due"}
	pipe := e.r.Client.Pipeline()
	for i := range n {
		pipe.ZAdd(ctx, f.due, redis.Z{Score: float64(e.clk.Now().Unix()), Member: fmt.Sprintf("cust-%07d", i)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	// A message as the flow sends it.
	msg, err := json.Marshal(journey.Outgoing{ID: journey.NewMessageID(), Channel: "telegram", Address: "cust-0000000",
		Text: "Here is a tip to get started", Proactive: true, Lang: "pt-BR", At: e.clk.Now().UnixMilli()})
	if err != nil {
		b.Fatal(err)
	}
	f.msg = msg
	return f
}

// run fires everything due in batches and returns how many.
func (f *schFloor) run(b *testing.B, batch int) int {
	ctx := context.Background()
	rdb := f.e.r.Client
	jkey := func(id string) string { return f.e.r.Prefix + ":{c:" + id + "}" }
	fired := 0
	for {
		zs, err := rdb.ZPopMin(ctx, f.due, int64(batch)).Result()
		if err != nil {
			b.Fatal(err)
		}
		if len(zs) == 0 {
			return fired
		}
		pipe := rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(zs))
		for i, z := range zs {
			gets[i] = pipe.HGet(ctx, jkey(z.Member.(string)), "d")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		pipe = rdb.Pipeline()
		for i, z := range zs {
			id := z.Member.(string)
			var j journey.Journey
			if err := json.Unmarshal([]byte(gets[i].Val()), &j); err != nil {
				b.Fatal(err)
			}
			j.Timers = nil
			data, _ := json.Marshal(&j)
			pipe.HSet(ctx, jkey(id)+":floor", "d", data)
			pipe.RPush(ctx, jkey(id)+":floor:out", f.msg)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		fired += len(zs)
	}
}
