package bot

import (
	"context"
	"time"

	"journeybot/conversations"
	"journeybot/journey"
)

// Tick wakes the customers whose timers are due, fires them and queues what
// they send. Each due customer is claimed by exactly one process; a batch
// costs one read of the journeys, one commit per customer and one round
// trip to finish them all.
func (b *Bot) Tick(ctx context.Context) (int, error) {
	const batch = 200
	woken := 0
	for ctx.Err() == nil {
		now := b.now()
		lease := now.Add(b.lease).Unix()
		ids, err := b.store.Claim(ctx, now.Unix(), lease, batch)
		if err != nil {
			return woken, err
		}
		if err := b.store.Warm(ctx, ids); err != nil {
			b.log.Warn("scheduler: could not read the batch ahead", "err", err)
		}
		// What fires is committed together with its messages, so a shutdown
		// after a commit loses nothing; customers not reached yet are given
		// back as due.
		wctx := context.WithoutCancel(ctx)
		done := make([]journey.Woken, 0, len(ids))
		for _, id := range ids {
			if ctx.Err() != nil {
				done = append(done, journey.Woken{ID: id, Lease: lease, Next: now.Unix()})
				continue
			}
			next, err := b.wake(wctx, id)
			if err != nil {
				b.log.Warn("scheduled step failed; retried when its lease ends", "customer", id, "err", err)
				continue
			}
			done = append(done, journey.Woken{ID: id, Lease: lease, Next: next})
			woken++
		}
		if err := b.store.FinishAll(wctx, done); err != nil {
			// The leases run out and the customers are looked at again.
			b.log.Warn("scheduler: finishing a batch failed", "err", err)
		}
		if len(ids) > 0 {
			b.deliver(wctx)
		}
		if len(ids) < batch {
			break
		}
	}
	return woken, nil
}

// wake fires a customer's due timers and returns the next wake-up.
func (b *Bot) wake(ctx context.Context, id string) (int64, error) {
	unlock := b.lock(id)
	defer unlock()
	now := b.now()
	var res *handled
	j, err := b.store.Commit(ctx, id, "", now, func(j *journey.Journey) (journey.Change, error) {
		res = b.handleWith(j, conversations.Input{Kind: conversations.InTick}, now)
		return journey.Change{History: res.History, Outbox: b.outgoing(j, "", res.Result, nil)}, nil
	})
	if err != nil {
		return 0, err
	}
	b.metrics.timersFired.Inc()
	b.after(ctx, j, res, "", nil)
	return j.NextDue(), nil
}

// RunScheduler calls Tick every interval until ctx ends.
// Once a minute it also erases journeys past Options.Retention.
func (b *Bot) RunScheduler(ctx context.Context, interval time.Duration) {
	var swept time.Time
	every(ctx, interval, func() {
		if _, err := b.Tick(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("scheduler: redis unavailable, retrying", "err", err)
		}
		if b.retention > 0 && time.Since(swept) >= time.Minute {
			swept = time.Now()
			if n, err := b.SweepRetention(ctx, b.retention, 100); err != nil && ctx.Err() == nil {
				b.log.Warn("retention: sweep failed", "err", err)
			} else if n > 0 {
				b.log.Info("retention: erased inactive journeys", "count", n, "retention", b.retention.String())
			}
		}
	})
}

// every calls fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
