package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"journeybot/conversations"
	"journeybot/journey"
)

// EventOutcome tells the caller of HandleEvent what happened.
type EventOutcome struct {
	Customer  string
	Duplicate bool   // the event id was applied before; nothing changed
	Stage     string // the customer's stage after the event
	Messages  int    // messages sent because of it
}

// HandleEvent applies a commerce event to the customer's journey, once per
// event id, and sends what the scripts say.
func (b *Bot) HandleEvent(ctx context.Context, ev journey.Event) (*EventOutcome, error) {
	id := ev.Customer.ID
	if id == "" {
		return nil, errors.New("event has no customer id")
	}
	if ev.Customer.TelegramChat != "" {
		if err := b.store.Link(ctx, "telegram", ev.Customer.TelegramChat, id); err != nil {
			return nil, err
		}
	}
	if ev.Order != nil && ev.Order.ID != "" {
		if err := b.store.IndexOrder(ctx, ev.Order.ID, id); err != nil {
			return nil, err
		}
	}
	unlock := b.lock(id)
	defer unlock()
	now := b.now()
	var res *conversations.Result
	j, err := b.update(ctx, id, "ev:"+ev.ID, now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		res = b.engine.Handle(j, conversations.Input{Kind: conversations.InEvent, Event: &ev}, now)
		return append([]journey.HistoryEntry{{At: now.Unix(), From: "event", Text: ev.Type}}, res.History...), nil
	})
	if errors.Is(err, journey.ErrDuplicate) {
		b.metrics.duplicates.Inc()
		return &EventOutcome{Customer: id, Duplicate: true, Stage: j.Stage}, nil
	}
	if err != nil && !errors.Is(err, errSchedule) {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	b.after(ctx, j, res, "", nil)
	if err != nil { // committed and sent; a retry of the event schedules again
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return &EventOutcome{Customer: id, Stage: j.Stage, Messages: len(res.Messages)}, nil
}

// reschedule puts the customer in the due index when its earliest timer
// moved earlier (a later one is found on the next wake-up).
func (b *Bot) reschedule(ctx context.Context, j *journey.Journey, before int64) error {
	next := j.NextDue()
	if next != 0 && (before == 0 || next < before) {
		return b.store.Schedule(ctx, j.ID, next)
	}
	return nil
}

// Tick wakes the customers whose timers are due, fires them and sends what
// they say. Each due customer is claimed by exactly one process.
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
		if len(ids) < 200 {
			return woken, nil
		}
	}
}

func (b *Bot) wake(ctx context.Context, id string, lease int64) error {
	unlock := b.lock(id)
	defer unlock()
	now := b.now()
	var res *conversations.Result
	j, err := b.store.Update(ctx, id, "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		res = b.engine.Handle(j, conversations.Input{Kind: conversations.InTick}, now)
		return res.History, nil
	})
	if err != nil {
		return err
	}
	b.metrics.timersFired.Inc()
	// What fired is committed: send it whatever happens to the index.
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
