package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/bot"
	"journeybot/channels/telegram"
	"journeybot/channels/whatsapp"
	"journeybot/config"
	"journeybot/conversations"
	"journeybot/delivery"
	"journeybot/journey"
	"journeybot/llm"
	"journeybot/ratelimit"
)

// app is the assembled bot: configuration, Redis, store, scripts, runtime.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	rdb     redis.UniversalClient
	close   func()
	store   *journey.Store
	engine  *conversations.Engine
	bot     *bot.Bot
	stats   *bot.Stats
	metrics *bot.Metrics
	// limiter shares the channels' rate limits among processes.
	limiter *ratelimit.Limiter
}

// engineOptions maps the configuration onto the engine's sending rules.
func engineOptions(c *config.Config) conversations.Options {
	return conversations.Options{
		Grace: c.Schedule.Grace, MaxPerDay: c.Send.MaxPerDay, MaxPerWeek: c.Send.MaxPerWeek,
		QuietStart: c.Send.QuietStart, QuietEnd: c.Send.QuietEnd, TimeZone: c.Send.DefaultTimezone,
	}
}

// newApp loads the scripts (refusing ones that do not lint) and connects to
// Redis. Nothing is started yet. With background, replies go out through the
// senders the caller runs (RunSenders), within the channels' shared rate
// limits; without, each call sends what it queued before it returns (the
// terminal chat).
func newApp(ctx context.Context, c *config.Config, log *slog.Logger, background bool) (*app, error) {
	scripts, probs, err := conversations.LoadDir(c.ScriptsDir)
	for _, p := range probs {
		if p.Warning {
			log.Warn("script warning", "at", p.Pos.String(), "msg", p.Msg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("scripts in %s do not lint (run: journeybot lint %s):\n%w", c.ScriptsDir, c.ScriptsDir, err)
	}
	journey.LogRedisTo(log)
	rdb, closeRedis, err := journey.Open(ctx, c.RedisURL, log)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: c, log: log, rdb: rdb, close: closeRedis}
	a.store = journey.NewStore(rdb, journey.Options{Prefix: c.RedisPrefix, HistoryCap: c.HistoryCap})
	if err := a.store.Prepare(ctx); err != nil {
		closeRedis()
		return nil, err
	}
	a.engine = conversations.NewEngine(scripts, engineOptions(c))
	a.stats = bot.NewStats(rdb, c.RedisPrefix, nil).InZone(c.Send.DefaultTimezone)
	a.metrics = bot.NewMetrics(a.stats)
	a.limiter = ratelimit.New(rdb, c.RedisPrefix)
	opts := bot.Options{
		Store: a.store, Engine: a.engine, Log: log, Metrics: a.metrics,
		Background: background, Limiter: a.limiter, MaxAge: c.Send.MaxAge,
		Intake: bot.IntakeLimit{PerMinute: c.Intake.PerMinute, Burst: c.Intake.Burst},
	}
	if c.LLM.Enabled() {
		l, err := llm.New(llm.Config{
			APIKey: c.LLM.APIKey, BaseURL: c.LLM.BaseURL, Model: c.LLM.Model, Timeout: c.LLM.Timeout,
			MaxTokens: c.LLM.MaxTokens, Temperature: float32(c.LLM.Temperature), CacheTTL: c.LLM.CacheTTL,
		}, log, a.metrics.Registry)
		if err != nil {
			closeRedis()
			return nil, fmt.Errorf("llm: %w", err)
		}
		opts.LLM = l
		opts.Router = l // texts no keyword matches: the model picks one of the scripts' intents
		log.Info("language model enabled", "model", c.LLM.Model)
	}
	a.bot = bot.New(opts)
	a.bot.SetLinkSecret(c.Events.Secret)
	return a, nil
}

// limits are a channel's sending limits: Telegram's telegram.rate for the
// whole bot and one message a second per chat; WhatsApp's whatsapp.rate for
// the phone number (its pair limit, about one message every 6 s to one
// customer after a burst, answers 131056, which is retried); the others none.
func (a *app) limits(channel string) delivery.Limits {
	switch channel {
	case telegram.Name:
		return delivery.Limits{PerSecond: float64(a.cfg.Telegram.Rate), PerChat: time.Second}
	case whatsapp.Name:
		return delivery.Limits{PerSecond: float64(a.cfg.WhatsApp.Rate)}
	}
	return delivery.Limits{}
}
