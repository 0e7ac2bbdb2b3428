package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/journey"
)

// EventOutcome tells the caller of HandleEvent what happened.
type EventOutcome struct {
	Customer  string
	Duplicate bool   // the event id was applied before; nothing changed
	Stage     string // the customer's stage after the event
	Messages  int    // messages queued because of it
}

// ErrErased refuses an event for a customer whose data was erased at their
// request, unless the event says they consented again.
var ErrErased = errors.New("the customer's data was erased at their request; send customer.consent: true once they agreed again")

// HandleEvent applies a commerce event to the customer's journey, once per
// event id, and queues what the scripts say. It returns once the commit is
// in Redis; the messages are sent after it (Options.Background).
func (b *Bot) HandleEvent(ctx context.Context, ev journey.Event) (*EventOutcome, error) {
	id := ev.Customer.ID
	if id == "" {
		return nil, errors.New("event has no customer id")
	}
	if erased, err := b.store.WasErased(ctx, id); err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	} else if erased {
		if !ev.Customer.Consent {
			b.metrics.note("event.refused_erased")
			return nil, ErrErased
		}
		// Consent given again: a fresh journey starts.
		if err := b.store.Consented(ctx, id); err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.ID, err)
		}
	}
	// A replayed or stale event links nothing: links and the order index
	// follow only an event that is applied (and they come before its
	// commit, so that the chat's journey, opt-out included, is merged in
	// before the event decides what to send).
	seen, cur, err := b.store.Applied(ctx, id, "ev:"+ev.ID)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	// A repeat still goes to the commit, which answers it as a duplicate
	// and re-queues what its first delivery may have left unqueued.
	stale := seen || !ev.At.IsZero() && ev.At.Unix() < cur.LastEvent && !strings.HasPrefix(ev.Type, "case.")
	var byPhone map[string]string
	if !stale {
		for ch, addr := range ev.Customer.AllAddresses() {
			if err := b.link(ctx, ch, addr, id); err != nil {
				return nil, err
			}
		}
		if byPhone, err = b.linkPhone(ctx, ev.Customer); err != nil {
			return nil, err
		}
	}
	unlock := b.lock(id)
	defer unlock()
	now := b.now()
	var res *handled
	var queued int
	j, err := b.store.Commit(ctx, id, "ev:"+ev.ID, now, func(j *journey.Journey) (journey.Change, error) {
		for ch, addr := range byPhone {
			// The chat the customer wrote from, when known, stays: it is the
			// form of the number the platform uses.
			if j.Profile.Addresses[ch] == "" {
				if j.Profile.Addresses == nil {
					j.Profile.Addresses = map[string]string{}
				}
				j.Profile.Addresses[ch] = addr
			}
		}
		res = b.handleWith(j, conversations.Input{Kind: conversations.InEvent, Event: &ev}, now)
		out := b.outgoing(j, "", res.Result, nil)
		queued = len(out)
		return journey.Change{History: append([]journey.HistoryEntry{{At: now.Unix(), From: "event", Text: ev.Type}}, res.History...), Outbox: out}, nil
	})
	if errors.Is(err, journey.ErrDuplicate) {
		b.metrics.duplicates.Inc()
		b.deliver(ctx)
		return &EventOutcome{Customer: id, Duplicate: true, Stage: j.Stage}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	if ev.Order != nil && ev.Order.ID != "" && !stale {
		if err := b.store.IndexOrder(ctx, ev.Order.ID, id); err != nil {
			return nil, err
		}
	}
	b.after(ctx, j, res, "", nil)
	b.deliver(ctx)
	return &EventOutcome{Customer: id, Stage: j.Stage, Messages: queued}, nil
}

// linkPhone links the customer's phone to its addresses on the channels
// whose addresses are phone numbers (WhatsApp): the customer who writes from
// it is recognised, and sees their orders, with no identification step. It
// returns the most likely address on each such channel.
func (b *Bot) linkPhone(ctx context.Context, c journey.EventCustomer) (map[string]string, error) {
	if c.Phone == "" {
		return nil, nil
	}
	b.mu.RLock()
	var pas []channels.Sender
	for _, name := range b.order {
		if _, ok := b.channels[name].(channels.PhoneAddresser); ok && c.Address(name) == "" {
			pas = append(pas, b.channels[name])
		}
	}
	b.mu.RUnlock()
	out := map[string]string{}
	for _, ch := range pas {
		addrs := ch.(channels.PhoneAddresser).PhoneAddresses(c.Phone)
		for _, a := range addrs {
			if _, err := b.store.LinkAlso(ctx, ch.Name(), a, c.ID, b.now()); err != nil {
				return nil, err
			}
		}
		if len(addrs) > 0 {
			out[ch.Name()] = addrs[0]
		}
	}
	return out, nil
}
