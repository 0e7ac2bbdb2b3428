// Package lease is a named lease in Redis that one process holds at a time,
// for work that must have a single doer among several processes (long polling
// Telegram: two pollers get 409s and split the updates). The holder renews it;
// when the holder dies, the lease runs out and another process takes over.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease is one named lease. Its TTL bounds how long the work stops when the
// holder dies: another process takes over within TTL plus a retry interval.
type Lease struct {
	rdb   redis.UniversalClient
	key   string
	ttl   time.Duration
	token string
	log   *slog.Logger
}

// New returns a lease on key held for ttl at a time.
func New(rdb redis.UniversalClient, key string, ttl time.Duration, log *slog.Logger) *Lease {
	var b [8]byte
	rand.Read(b[:])
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Lease{rdb: rdb, key: key, ttl: ttl, token: hex.EncodeToString(b[:]), log: log}
}

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Run waits until it holds the lease, then runs fn with a context that ends
// when the lease is lost (a renewal failed for longer than the TTL allows)
// or ctx ends; it gives the lease back when fn returns, and tries to hold it
// again while ctx lasts.
func (l *Lease) Run(ctx context.Context, fn func(ctx context.Context)) {
	retry := max(l.ttl/8, 50*time.Millisecond)
	for ctx.Err() == nil {
		ok, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
		if err != nil && ctx.Err() == nil {
			l.log.Warn("lease: redis unavailable, retrying", "lease", l.key, "err", err)
		}
		if !ok {
			sleep(ctx, retry)
			continue
		}
		l.log.Info("lease taken", "lease", l.key)
		l.hold(ctx, fn)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		releaseScript.Run(rctx, l.rdb, []string{l.key}, l.token)
		cancel()
		l.log.Info("lease given back", "lease", l.key)
	}
}

func (l *Lease) hold(ctx context.Context, fn func(ctx context.Context)) {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); fn(hctx) }()
	every := l.ttl / 3
	renewed := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			n, err := renewScript.Run(hctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
			switch {
			case err == nil && n == 1:
				renewed = time.Now()
			case err == nil:
				l.log.Warn("lease lost to another process", "lease", l.key)
				cancel()
			case time.Since(renewed) > l.ttl-every:
				// It may have run out meanwhile: stop before another takes over.
				l.log.Warn("lease could not be renewed; stopping", "lease", l.key, "err", err)
				cancel()
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
