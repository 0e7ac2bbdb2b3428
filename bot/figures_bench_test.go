package bot_test

import (
	"context"
	"fmt"
	"strings"
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

// cmdCounter counts Redis commands (each command of a pipeline is one),
// and those that write the figures (the daily and all-time hashes).
type cmdCounter struct{ all, figures atomic.Int64 }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *cmdCounter) count(cmd redis.Cmder) {
	c.all.Add(1)
	if len(cmd.Args()) > 1 {
		if k, ok := cmd.Args()[1].(string); ok && (strings.Contains(k, ":stats:") || strings.Contains(k, ":insight:")) {
			c.figures.Add(1)
		}
	}
}
func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.count(cmd); return next(ctx, cmd) }
}
func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

// BenchmarkInboundFigures is the inbound hot path with and without the
// daily figures (bot.Stats flushed every second, as `journeybot run` has
// it, with the marketers' figures of package insight): Redis commands per
// message in all and for the figures. The "off" run is the baseline of the
// same run.
func BenchmarkInboundFigures(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) { benchInboundFigures(b, on) })
	}
}

func benchInboundFigures(b *testing.B, on bool) {
	r := redistest.New(b)
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	var stats *bot.Stats
	if on {
		stats = bot.NewStats(r.Client, r.Prefix, nil)
	}
	bt := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(b), conversations.DefaultOptions()),
		Metrics: bot.NewMetrics(stats), Intake: bot.IntakeLimit{PerMinute: 1 << 30, Burst: 1 << 30}})
	bt.AddChannel(channeltest.New("test"))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if stats != nil {
			stats.Run(ctx, time.Second)
		}
	}()
	const customers = 1000
	for c := 0; c < customers; c++ {
		if err := bt.HandleInbound(context.Background(), text(fmt.Sprint(c), "oi")); err != nil {
			b.Fatal(err)
		}
	}
	cc := &cmdCounter{}
	r.Client.AddHook(cc)
	inputs := []string{"oi", "pedido", "não sei", "olá"}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if err := bt.HandleInbound(context.Background(), text(fmt.Sprint(i%customers), inputs[i%int64(len(inputs))])); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	stop()
	<-done // the last flush is in
	b.ReportMetric(float64(cc.all.Load())/float64(b.N), "redis-cmds/msg")
	b.ReportMetric(float64(cc.figures.Load())/float64(b.N), "figure-cmds/msg")
}
