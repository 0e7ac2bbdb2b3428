package bot

import (
	"context"
	"fmt"
	"time"

	"journeybot/insight"
	"journeybot/journey"
)

// Privacy (LGPD): export and erase, from the operator's command line, the
// customer's chat (scripts confirm with a button) or retention. Every export
// and erase leaves one audit line in the log, with no personal data beyond
// the customer id.

// Export returns everything kept about the customer ref names (a customer
// id, a chat address "telegram:123" or an order id).
func (b *Bot) Export(ctx context.Context, ref string) (*journey.Export, error) {
	id, err := b.store.FindCustomer(ctx, ref)
	if err != nil {
		return nil, err
	}
	e, err := b.store.Export(ctx, id, b.now())
	if err != nil {
		return nil, err
	}
	b.log.Info("privacy export", "audit", "export", "customer", e.Customer, "keys", len(e.Keys))
	return e, nil
}

// Erase erases everything kept about the customer ref names; see
// journey.Store.Erase. Staff case threads get a note (staff messages stay:
// they are the business's record). why is "operator", "customer" or
// "retention".
func (b *Bot) Erase(ctx context.Context, ref, why string) (*journey.Erased, error) {
	id, err := b.store.FindCustomer(ctx, ref)
	if err != nil {
		return nil, err
	}
	return b.erase(ctx, id, why, journey.EraseOptions{})
}

func (b *Bot) erase(ctx context.Context, id, why string, o journey.EraseOptions) (*journey.Erased, error) {
	o.Before = func(cases []string) {
		n, ok := b.staffDesk().(staffNotices)
		if !ok {
			return
		}
		for _, ref := range cases {
			if err := n.Notice(ctx, ref, "🗑️ This customer's data was erased ("+eraseWhy[why]+", LGPD). The bot keeps nothing of them; this thread stays as the business's record."); err != nil {
				b.log.Warn("note an erase in a case thread", "customer", id, "err", err)
			}
		}
	}
	// The figures about now (who is in which stage) let the customer go;
	// what they did stays counted, as numbers without them.
	var gone []insight.Count
	if j, found, err := b.store.Get(ctx, id); err == nil && found {
		gone = b.figures.Erased(j)
	}
	er, err := b.store.Erase(ctx, id, b.now(), o)
	if err != nil {
		return nil, fmt.Errorf("erase %s: %w", id, err)
	}
	b.metrics.stats.AddCounts(gone)
	b.metrics.note("privacy.erased." + why)
	b.log.Info("privacy erase", "audit", "erase", "customer", er.Customer, "reason", why, "keys", er.Keys, "case_threads", len(er.Cases))
	return er, nil
}

var eraseWhy = map[string]string{
	"operator": "on request, by an operator", "customer": "the customer asked in the chat",
	"retention": "no activity for longer than state.retention",
}

// SweepRetention erases up to limit journeys with no activity (a message
// from the customer, an event of theirs) for longer than retention, and
// returns how many it erased. Each is erased by one process.
func (b *Bot) SweepRetention(ctx context.Context, retention time.Duration, limit int) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	before := b.now().Add(-retention)
	ids, err := b.store.Inactive(ctx, before, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		mine, err := b.store.ClaimInactive(ctx, id, before)
		if err != nil {
			return n, err
		}
		if !mine {
			continue
		}
		if _, err := b.erase(ctx, id, "retention", journey.EraseOptions{}); err != nil {
			b.log.Warn("retention: erase failed", "customer", id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}
