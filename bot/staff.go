package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/journey"
)

// ErrNoCase means the customer has no open case.
var ErrNoCase = errors.New("no open case for this customer")

// ErrOutsideWindow means a staff reply was not sent: the customer's channel
// takes free-form messages only within its service window (WhatsApp: 24 hours
// after the customer's last message), and it has closed.
var ErrOutsideWindow = errors.New("the customer's channel is outside its service window: they must write first")

// Claim lets one staff member take over a customer's case. Exactly one of
// several concurrent claims wins (the journey update is atomic); the others
// learn who holds it.
func (b *Bot) Claim(ctx context.Context, customerID, staffID, staffName string) (won bool, holder string, err error) {
	unlock := b.lock(customerID)
	defer unlock()
	now := b.now()
	var res *handled
	j, err := b.store.Commit(ctx, customerID, "", now, func(j *journey.Journey) (journey.Change, error) {
		won, holder, res = false, "", nil
		if j.Case == nil {
			return journey.Change{}, ErrNoCase
		}
		if j.Case.Claimed != 0 {
			holder = j.Case.Staff
			return journey.Change{}, journey.ErrNoChange
		}
		j.Case.Claimed, j.Case.Staff, j.Case.StaffID = now.Unix(), staffName, staffID
		won, holder = true, staffName
		res = b.handleWith(j, conversations.Input{Kind: conversations.InEvent, Event: &journey.Event{ID: "claim", Type: "case.claimed", At: now}}, now)
		out := b.outgoing(j, "", res.Result, nil)
		hist := append([]journey.HistoryEntry{{At: now.Unix(), From: "staff", Text: staffName + " took over"}}, res.History...)
		return journey.Change{History: hist, Outbox: out}, nil
	})
	if err != nil || !won {
		return false, holder, err
	}
	b.metrics.note("takeover")
	b.metrics.stats.Add("takeover.count", 1)
	b.metrics.stats.Add("takeover.seconds", now.Unix()-j.Case.Opened)
	b.metrics.stats.AddCounts(b.figures.CaseClaimed(time.Duration(now.Unix()-j.Case.Opened)*time.Second, now))
	b.after(ctx, j, res, "", nil)
	b.deliver(ctx)
	return true, holder, nil
}

// StaffReply queues a staff member's message to the customer on their
// channel. Without senders (Options.Background off) it is sent before the
// call returns, and a failure is returned; with them, a message that cannot
// be delivered is reported in the case's thread.
func (b *Bot) StaffReply(ctx context.Context, customerID, staffName, text string) error {
	unlock := b.lock(customerID)
	defer unlock()
	now := b.now()
	queued, closed := false, false
	_, err := b.store.Commit(ctx, customerID, "", now, func(j *journey.Journey) (journey.Change, error) {
		out := b.reply(j, text)
		queued = len(out) > 0
		if ch, _ := b.route(j, ""); ch != nil {
			closed = !inWindow(j, ch.Name(), channels.CapabilitiesOf(ch).Window, now)
		}
		return journey.Change{History: []journey.HistoryEntry{{At: now.Unix(), From: "staff", Text: staffName + ": " + text}}, Outbox: out}, nil
	})
	if err != nil {
		return err
	}
	if !queued && closed {
		return ErrOutsideWindow
	}
	if !queued {
		return fmt.Errorf("customer %s has no channel to reach", customerID)
	}
	return b.deliver(ctx)
}

// Resolve closes the customer's case: the bot resumes and the scripts'
// case.resolved flow runs (the CSAT survey). It returns how long the case was open.
func (b *Bot) Resolve(ctx context.Context, customerID, staffName string) (time.Duration, error) {
	unlock := b.lock(customerID)
	defer unlock()
	now := b.now()
	var res *handled
	var open time.Duration
	j, err := b.store.Commit(ctx, customerID, "", now, func(j *journey.Journey) (journey.Change, error) {
		if j.Case == nil {
			return journey.Change{}, ErrNoCase
		}
		open = now.Sub(time.Unix(j.Case.Opened, 0))
		j.Case = nil
		res = b.handleWith(j, conversations.Input{Kind: conversations.InEvent, Event: &journey.Event{ID: "resolve", Type: "case.resolved", At: now}}, now)
		out := b.outgoing(j, "", res.Result, nil)
		hist := append([]journey.HistoryEntry{{At: now.Unix(), From: "staff", Text: staffName + " resolved the case"}}, res.History...)
		return journey.Change{History: hist, Outbox: out}, nil
	})
	if err != nil {
		return 0, err
	}
	b.metrics.note("resolved")
	b.metrics.stats.AddCounts(b.figures.CaseResolved(open, now))
	b.after(ctx, j, res, "", nil)
	b.deliver(ctx)
	return open, nil
}

// SetPaused stops (true) or restarts (false) the bot for one customer.
func (b *Bot) SetPaused(ctx context.Context, customerID string, paused bool) error {
	_, err := b.store.Update(ctx, customerID, "", b.now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		if j.Profile.Paused == paused {
			return nil, journey.ErrNoChange
		}
		j.Profile.Paused = paused
		return nil, nil
	})
	return err
}
