package bot

import (
	"context"
	"slices"
	"time"

	"journeybot/conversations"
	"journeybot/journey"
)

// Tick wakes the customers whose timers are due, fires them and queues what
// they send. Each due customer is claimed by exactly one process. A batch
// (Options.Batch customers) costs a few round trips in all, not a few per
// customer: two to claim it, one to read the journeys not cached, one to
// commit them all (each customer's commit atomic on its own, with the
// messages it sends), one to finish them.
func (b *Bot) Tick(ctx context.Context) (int, error) {
	woken := 0
	seen := map[string]struct{}{}
	for ctx.Err() == nil {
		now := b.now()
		lease := now.Add(b.lease).Unix()
		ids, err := b.store.Claim(ctx, now.Unix(), lease, b.batch)
		if err != nil {
			return woken, err
		}
		// What fires is committed together with its messages, so a shutdown
		// after the commit loses nothing; a batch not started yet is given
		// back as due.
		wctx := context.WithoutCancel(ctx)
		var done []journey.Woken
		if ctx.Err() != nil {
			for _, id := range ids {
				done = append(done, journey.Woken{ID: id, Lease: lease, Next: now.Unix()})
			}
		} else {
			done = b.wakeAll(wctx, ids, lease)
			woken += len(done)
		}
		if err := b.store.FinishAll(wctx, done); err != nil {
			// The leases run out and the customers are looked at again.
			b.log.Warn("scheduler: finishing a batch failed", "err", err)
		}
		if len(ids) == 0 {
			break
		}
		b.deliver(wctx)
		// A short batch is not the end: another process may have claimed
		// some of what this one counted ready. A batch of none but
		// customers woken in this tick (due again at once) is.
		again := true
		for _, id := range ids {
			if _, ok := seen[id]; !ok {
				again = false
			}
			seen[id] = struct{}{}
		}
		if again {
			break
		}
	}
	return woken, nil
}

// wakeAll fires the due timers of the customers ids, claimed until lease,
// in one batch of commits, and returns the wake-ups to finish. One whose
// commit failed is left out: its lease runs out and it is woken again.
func (b *Bot) wakeAll(ctx context.Context, ids []string, lease int64) []journey.Woken {
	if len(ids) == 0 {
		return nil
	}
	// In a fixed order, so two batches of this process never wait on each other.
	sorted := slices.Sorted(slices.Values(ids))
	for _, id := range sorted {
		defer b.lock(id)()
	}
	now := b.now()
	res := make([]*conversations.Result, len(sorted))
	items := make([]journey.Batched, len(sorted))
	for i, id := range sorted {
		items[i] = journey.Batched{ID: id, Fn: func(j *journey.Journey) (journey.Change, error) {
			res[i] = b.handleWith(j, conversations.Input{Kind: conversations.InTick}, now)
			return journey.Change{History: res[i].History, Outbox: b.outgoing(j, "", res[i], nil)}, nil
		}}
	}
	js, errs := b.store.CommitBatch(ctx, now, items)
	done := make([]journey.Woken, 0, len(sorted))
	for i, id := range sorted {
		if errs[i] != nil {
			b.log.Warn("scheduled step failed; retried when its lease ends", "customer", id, "err", errs[i])
			continue
		}
		b.metrics.timersFired.Inc()
		b.after(ctx, js[i], res[i], "", nil)
		done = append(done, journey.Woken{ID: id, Lease: lease, Next: js[i].NextDue()})
	}
	return done
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
