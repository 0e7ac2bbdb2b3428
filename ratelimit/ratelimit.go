// Package ratelimit spaces events that many processes share, such as the
// messages a bot may send to a platform per second, with a GCRA limiter kept
// in Redis (github.com/go-redis/redis_rate). Every channel's senders use it:
// Telegram's 30 messages/s for the whole bot, Slack's one per second per
// channel.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Margin stretches the least time between two events a little beyond
// 1/rate, so that network jitter between the permit and the platform's
// clock cannot put rate+1 events into one of the platform's seconds.
const Margin = 1.05

// Limiter hands out permits under names ("telegram" for Telegram's overall
// rate). Across all processes no one-second window ever holds more than the
// rate: GCRA with a burst b of rate/20 (at least 1) and a sustained rate of
// (rate-b+1)/Margin, so b plus a second of the sustained rate stays within
// the rate. Safe for concurrent use.
//
// A high rate is split over shards (one key each, so in Redis Cluster not one
// hot slot): see Shards.
type Limiter struct {
	rl     *redis_rate.Limiter
	prefix string
	turn   atomic.Uint64
	mu     sync.Mutex
	gates  map[string]chan struct{}
}

// MaxShards bounds the keys one name is split over.
const MaxShards = 8

// Shards is how many keys a rate is split over: one per 100 a second, up
// to MaxShards (Telegram's 30 and WhatsApp's 80 keep one key; 1000 a second
// is 8 keys of 125). Each shard gets rate/n-1, so that the one permit GCRA
// may let through at a window's edge, counted once per shard, still keeps
// the sum within the rate.
func Shards(perSecond float64) int { return min(MaxShards, max(1, int(perSecond/100))) }

// New returns a limiter whose keys start with prefix.
func New(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(rdb), prefix: prefix, gates: map[string]chan struct{}{}}
}

// gate is a per-name turn in this process: one goroutine at a time asks
// Redis, so a hundred waiting senders cost one request each, not a storm of
// refused ones.
func (l *Limiter) gate(name string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.gates[name]
	if g == nil {
		g = make(chan struct{}, 1)
		l.gates[name] = g
	}
	return g
}

func limit(perSecond float64) redis_rate.Limit {
	b := max(1, int(perSecond/20))
	sustained := (perSecond - float64(b) + 1) / Margin
	return redis_rate.Limit{Rate: 1, Burst: b, Period: time.Duration(float64(time.Second) / sustained)}
}

// Wait blocks until an event under name may happen at perSecond, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, name string, perSecond float64) error {
	if perSecond <= 0 {
		return nil
	}
	key, lim := l.prefix+":"+name, limit(perSecond)
	if n := Shards(perSecond); n > 1 {
		// Calls take the shards in turn; the gate is per shard, so waiting
		// for one shard never holds up another.
		shard := l.turn.Add(1) % uint64(n)
		key, lim = key+":"+strconv.FormatUint(shard, 10), limit(perSecond/float64(n)-1)
	}
	g := l.gate(key)
	select {
	case g <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g }()
	for {
		res, err := l.rl.Allow(ctx, key, lim)
		if err != nil {
			return fmt.Errorf("rate limit %s: %w", name, err)
		}
		if res.Allowed > 0 {
			return nil
		}
		t := time.NewTimer(max(res.RetryAfter, 100*time.Microsecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
