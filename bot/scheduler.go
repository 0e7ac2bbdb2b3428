package bot

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"journeybot/conversations"
	"journeybot/journey"
)

// Tick wakes the customers whose timers are due, fires them and queues what
// they send. Each due customer is claimed by exactly one process. A batch
// (Options.Batch customers) costs a few round trips in all, not a few per
// customer: two to claim it, one to read the journeys not cached, one to
// commit them all (each customer's commit atomic on its own, with the
// messages it sends), one to finish them. Two batches are under way at a
// time, so the bot's work on one overlaps Redis's on the other.
func (b *Bot) Tick(ctx context.Context) (int, error) {
	const lanes = 2
	t := &tick{seen: map[string]struct{}{}}
	var wg sync.WaitGroup
	errs := make([]error, lanes)
	for i := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.tickLane(ctx, t)
		}()
	}
	wg.Wait()
	return int(t.woken.Load()), errors.Join(errs...)
}

// tick is what the lanes of one Tick share.
type tick struct {
	woken atomic.Int64
	mu    sync.Mutex
	seen  map[string]struct{} // customers claimed in this tick
}

// again records ids as claimed in this tick and reports whether all of them
// were already (due again at once: the tick is over).
func (t *tick) again(ids []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	again := true
	for _, id := range ids {
		if _, ok := t.seen[id]; !ok {
			again = false
		}
		t.seen[id] = struct{}{}
	}
	return again
}

// tickLane claims and wakes batches until none is due.
func (b *Bot) tickLane(ctx context.Context, t *tick) error {
	for ctx.Err() == nil {
		now := b.now()
		lease := now.Add(b.lease).Unix()
		ids, err := b.store.Claim(ctx, now.Unix(), lease, b.batch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
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
			t.woken.Add(int64(len(done)))
		}
		if err := b.store.FinishAll(wctx, done); err != nil {
			// The leases run out and the customers are looked at again.
			b.log.Warn("scheduler: finishing a batch failed", "err", err)
		}
		b.deliver(wctx)
		// A short batch is not the end: another process may have claimed
		// some of what this one counted ready.
		if t.again(ids) {
			return nil
		}
	}
	return nil
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
	res := make([]*handled, len(sorted))
	items := make([]journey.Batched, len(sorted))
	for i, id := range sorted {
		items[i] = journey.Batched{ID: id, Fn: func(j *journey.Journey) (journey.Change, error) {
			res[i] = b.handleWith(j, conversations.Input{Kind: conversations.InTick}, now)
			return journey.Change{History: res[i].History, Outbox: b.outgoing(j, "", res[i].Result, nil)}, nil
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
