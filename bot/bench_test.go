package bot_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/bot"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/journey"
)

// rtCounter counts round trips to Redis: a command or a whole pipeline is one.
type rtCounter struct{ n atomic.Int64 }

func (c *rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkInbound measures the hot path as `journeybot run` has it: a
// customer message through HandleInbound (engine and commit, replies into
// the outbox) with senders running beside it, delivering to an in-memory
// channel, against the test Redis (a real one with JOURNEYBOT_TEST_REDIS_URL,
// as `make bench` sets). It reports messages/s until every reply was
// delivered, Redis round trips per message (commit and delivery), and the
// Redis bytes of one customer's journey and history.
func BenchmarkInbound(b *testing.B) {
	r := redistest.New(b)
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	bt := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(b), conversations.DefaultOptions()),
		Background: true, Intake: bot.IntakeLimit{PerMinute: 1 << 30, Burst: 1 << 30}})
	rec := channeltest.New("test")
	bt.AddChannel(rec)
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); bt.RunSenders(sctx) }()
	defer func() { stop(); <-done }()
	rt := &rtCounter{}
	r.Client.AddHook(rt)
	ctx := context.Background()
	const customers = 1000
	for c := 0; c < customers; c++ { // warm: every customer exists and is cached
		if err := bt.HandleInbound(ctx, text(fmt.Sprint(c), "oi")); err != nil {
			b.Fatal(err)
		}
	}
	drained := func() {
		for {
			if n, _ := store.OutboxBacklog(ctx); n == 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	drained()
	inputs := []string{"oi", "pedido", "não sei", "olá"}
	var next atomic.Int64
	rt.n.Store(0)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if err := bt.HandleInbound(ctx, text(fmt.Sprint(i%customers), inputs[i%int64(len(inputs))])); err != nil {
				b.Error(err)
				return
			}
		}
	})
	committed := time.Since(start)
	drained()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/committed.Seconds(), "commits/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis-rtt/msg")
	jb, hb, err := store.Size(ctx, "test:1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(jb), "journey-bytes")
	b.ReportMetric(float64(hb), "history-bytes")
}
