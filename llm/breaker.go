package llm

import (
	"sync"
	"time"
)

// breaker stops calls to the model after repeated failures so a dead or
// rate-limited endpoint does not add Timeout to every customer message.
// Times are passed in so the client's injectable clock drives it.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu       sync.Mutex
	failures int // consecutive
	open     bool
	openedAt time.Time
	trial    bool // a half-open trial call is in flight
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown}
}

// allow reports whether a call may go out. After the cooldown exactly one
// trial call is let through (half-open); its outcome closes or re-opens.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.trial || now.Sub(b.openedAt) < b.cooldown {
		return false
	}
	b.trial = true
	return true
}

// success records a working call; closed reports an open->closed transition.
func (b *breaker) success() (closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	closed = b.open
	b.open, b.trial, b.failures = false, false, 0
	return closed
}

// failure records a failed call; opened reports a closed->open transition
// (a failed half-open trial re-opens silently: the breaker never closed).
func (b *breaker) failure(now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.open {
		b.openedAt, b.trial = now, false
		return false
	}
	if b.failures >= b.threshold {
		b.open, b.openedAt = true, now
		return true
	}
	return false
}

// release ends a call that says nothing about the endpoint's health (the
// caller went away), freeing the half-open trial slot.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}
