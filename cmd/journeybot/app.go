package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/bot"
	"journeybot/config"
	"journeybot/conversations"
	"journeybot/insight"
	"journeybot/journey"
	"journeybot/keys"
	"journeybot/llm"
	"journeybot/ratelimit"
)

// app is the assembled bot: configuration, Redis, store, scripts, runtime.
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	rdb    redis.UniversalClient
	close  func()
	store  *journey.Store
	engine *conversations.Engine
	bot    *bot.Bot
	stats  *bot.Stats
	// experiments counts exposures and conversions (flushed by run).
	experiments *insight.ExperimentCounter
	metrics     *bot.Metrics
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

// botEngineOptions are the engine's options for a running bot: the sending
// rules, and staff.available as the staff desk is configured. Script tests
// take the sending rules only; each test says whether staff are there.
func botEngineOptions(c *config.Config) conversations.Options {
	o := engineOptions(c)
	o.NoStaff = !c.Slack.Enabled()
	return o
}

// newApp loads the scripts (refusing ones that do not lint) and connects to
// Redis. Nothing is started yet. Each call sends what it queued before it
// returns (the terminal) until the caller switches the bot to senders it runs
// (bot.SetBackground, RunSenders), as `run` does with a customer channel.
func newApp(ctx context.Context, c *config.Config, log *slog.Logger) (*app, error) {
	return newAppClock(ctx, c, log, nil)
}

// newAppClock is newApp with the bot on the clock now (nil: the real one),
// for the console demo's simulated clock.
func newAppClock(ctx context.Context, c *config.Config, log *slog.Logger, now func() time.Time) (*app, error) {
	scripts, probs, err := conversations.LoadDir(c.ScriptsDir)
	for _, p := range probs {
		if p.Warning {
			log.Warn("script warning", "at", p.Pos.String(), "msg", p.Msg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("scripts in %s do not lint (run: journeybot lint %s):\n%w", c.ScriptsDir, c.ScriptsDir, err)
	}
	journey.LogRedisTo(nil) // a failed start is one line: the error below
	rdb, closeRedis, err := journey.Open(ctx, c.RedisURL, log)
	if err != nil {
		return nil, err
	}
	journey.LogRedisTo(log)
	a := &app{cfg: c, log: log, rdb: rdb, close: closeRedis}
	a.store = journey.NewStore(rdb, journey.Options{Prefix: c.RedisPrefix, HistoryCap: c.HistoryCap,
		CacheSize: c.JourneyCache, AddressCacheSize: c.AddressCache, AddressTTL: c.AddressTTL})
	if err := a.store.Prepare(ctx); err != nil {
		closeRedis()
		return nil, err
	}
	a.engine = conversations.NewEngine(scripts, botEngineOptions(c))
	a.stats = bot.NewStats(rdb, c.RedisPrefix, nil).InZone(c.Send.DefaultTimezone)
	a.metrics = bot.NewMetrics(a.stats)
	a.experiments = insight.NewExperimentCounter(rdb, c.RedisPrefix, c.Send.DefaultTimezone)
	a.limiter = ratelimit.New(rdb, c.RedisPrefix)
	opts := bot.Options{
		Store: a.store, Engine: a.engine, Log: log, Metrics: a.metrics,
		Limiter: a.limiter, MaxAge: c.Send.MaxAge, Now: now,
		Intake:    bot.IntakeLimit{PerMinute: c.Intake.PerMinute, Burst: c.Intake.Burst},
		Retention: c.Retention, Experiments: a.experiments, Batch: c.Schedule.Batch, NameCache: c.AddressCache,
		Figures: insight.NewRecorder(c.Send.DefaultTimezone, c.AbandonAfter),
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
	a.bot.SetLinkKeys(keys.New(c.Events.Secrets...))
	return a, nil
}
