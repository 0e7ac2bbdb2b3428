package bot

import (
	"context"
	"regexp"
	"time"

	"journeybot/journey"
)

// SetOrderLookup sets the service asked about orders the journeys do not
// hold (orders.lookup_url). Call it before the bot handles messages: the
// runtime builds the lookup after the bot.
func (b *Bot) SetOrderLookup(o OrderLookup) { b.orders = o }

// lookupMentionedOrder asks the lookup service about an order number the
// customer typed that the journey does not hold yet. The order is taken in
// only when its e-mail or phone is the customer's: typing someone else's
// order number shows nothing.
func (b *Bot) lookupMentionedOrder(ctx context.Context, id, text string) *journey.Order {
	m := orderNumber.FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	j, _, err := b.store.Get(ctx, id)
	if err != nil || j.Order(m[1]) != nil {
		return nil
	}
	// Any text with a number asks the service: bound how often one
	// customer can make it, or a chat could enumerate the store's orders.
	if n, err := b.store.CountAttempt(ctx, "lookup", id, time.Hour); err != nil || n > lookupLimit {
		b.metrics.note("lookup.limited")
		return nil
	}
	o, err := b.orders.Lookup(ctx, m[1])
	if err != nil {
		b.log.Info("order lookup failed", "order", m[1], "err", err)
		return nil
	}
	if o == nil || !sameContact(j.Profile, o) {
		b.metrics.note("lookup.not_owner")
		return nil
	}
	return o
}

// sameContact reports whether the order's e-mail or phone is the profile's
// verified one (sent by the store, or proven with /pedido).
func sameContact(p journey.Profile, o *journey.Order) bool {
	return p.Email != "" && contactMatches(p.Email, o.Email, "") || p.Phone != "" && contactMatches(p.Phone, "", o.Phone)
}

// lookupLimit is how many orders one customer's texts may ask the lookup
// service about in an hour.
const lookupLimit = 20

var orderNumber = regexp.MustCompile(`#?\b([0-9]{4,12})\b`)
