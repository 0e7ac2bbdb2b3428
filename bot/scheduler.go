package bot

import (
	"context"
	"time"

	"journeybot/conversations"
	"journeybot/journey"
)

// Tick wakes the customers whose timers are due, fires them and queues what
// they send. Each due customer is claimed by exactly one process.
func (b *Bot) Tick(ctx context.Context) (int, error) {
	woken := 0
	for {
		now := b.now()
		lease := now.Add(b.lease).Unix()
		ids, err := b.store.Claim(ctx, now.Unix(), lease, 200)
		if err != nil {
			return woken, err
		}
		for _, id := range ids {
			if err := b.wake(ctx, id, lease); err != nil {
				b.log.Warn("scheduled step failed; retried when its lease ends", "customer", id, "err", err)
			}
		}
		woken += len(ids)
		if len(ids) > 0 {
			b.deliver(ctx)
		}
		if len(ids) < 200 {
			return woken, nil
		}
	}
}

func (b *Bot) wake(ctx context.Context, id string, lease int64) error {
	unlock := b.lock(id)
	defer unlock()
	// What fires is committed together with its messages: a shutdown that
	// cancels ctx after the commit cannot lose them.
	ctx = context.WithoutCancel(ctx)
	now := b.now()
	var res *conversations.Result
	j, err := b.store.Commit(ctx, id, "", now, func(j *journey.Journey) (journey.Change, error) {
		res = b.engine.Handle(j, conversations.Input{Kind: conversations.InTick}, now)
		return journey.Change{History: res.History, Outbox: b.outgoing(j, "", res, nil)}, nil
	})
	if err != nil {
		return err
	}
	b.metrics.timersFired.Inc()
	b.after(ctx, j, res, "", nil)
	if err := b.store.Finish(ctx, id, lease, j.NextDue()); err != nil {
		return err // the lease runs out and the customer is looked at again
	}
	// Another process may have set a timer between the commit and Finish,
	// which Finish could not see; read the journey once more to be sure.
	fresh, _, err := b.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if next := fresh.NextDue(); next != 0 && next != j.NextDue() {
		return b.store.Schedule(ctx, id, next)
	}
	return nil
}

// RunScheduler calls Tick every interval until ctx ends.
func (b *Bot) RunScheduler(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if _, err := b.Tick(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("scheduler: redis unavailable, retrying", "err", err)
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
