package main

import (
	"context"
	"log/slog"
	"time"
)

// watchRedis pings Redis every interval and logs when it is lost and when it
// is back, once each: the senders, intake and the scheduler retry quietly,
// so without these two lines an operator cannot tell the outage ended.
func watchRedis(ctx context.Context, ping func(context.Context) error, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lostAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && lostAt.IsZero():
			lostAt = time.Now()
			log.Warn("redis lost: work waits until it is back", "err", err)
		case err == nil && !lostAt.IsZero():
			log.Info("redis is back", "down_for", time.Since(lostAt).Round(time.Second).String())
			lostAt = time.Time{}
		}
	}
}
