package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/journey"
	"journeybot/keys"
)

// Deep-link payloads (t.me/<bot>?start=<payload>) link a chat to a store
// customer or order. Telegram allows 64 characters of A-Z a-z 0-9 _ -, so a
// payload is a kind letter, the base64url id, the base64url expiry (hours
// since 1970, 4 bytes), and an 11-character base64url HMAC-SHA256 tag (64
// bits) under the deep-link key derived from events.secret: nobody can
// forge one for someone else's order by guessing, and a leaked link stops
// working when it expires. Decoding is strict (a last base64 character
// with unused bits set is refused), so each link has one spelling. A link
// also works for one chat only (see linkFromPayload).

const (
	tagLen    = 11
	expiryLen = 6 // 4 bytes in base64url
	// LinkValidity is how long a deep link works: long enough for an order
	// confirmation e-mail read weeks later.
	LinkValidity = 90 * 24 * time.Hour
)

var b64 = base64.RawURLEncoding.Strict()

// SignPayload returns a payload for kind 'c' (customer) or 'o' (order),
// valid for LinkValidity.
func SignPayload(k keys.Set, kind byte, id string) (string, error) {
	return SignPayloadUntil(k, kind, id, time.Now().Add(LinkValidity))
}

// SignPayloadUntil returns a payload that expires at until, signed with the
// newest secret's key.
func SignPayloadUntil(k keys.Set, kind byte, id string, until time.Time) (string, error) {
	if k.Empty() {
		return "", errors.New("events.secret is not set: deep links cannot be signed")
	}
	var exp [4]byte
	binary.BigEndian.PutUint32(exp[:], uint32(until.Unix()/3600))
	p := string(kind) + b64.EncodeToString([]byte(id)) + b64.EncodeToString(exp[:])
	p += b64.EncodeToString(tag(k.Links()[0], p))
	if len(p) > 64 {
		return "", fmt.Errorf("id %q is too long for a Telegram deep link (at most 34 bytes)", id)
	}
	return p, nil
}

func tag(key []byte, p string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("journeybot-link:" + p))
	return m.Sum(nil)[:8]
}

// VerifyPayload checks a payload at now under any of the secrets' keys and
// returns its kind and id.
func VerifyPayload(k keys.Set, payload string, now time.Time) (kind byte, id string, ok bool) {
	kind, id, _, ok = verifyPayload(k, payload, now)
	return kind, id, ok
}

// verifyPayload also returns the link's canonical form (kind, id, expiry),
// what its one-chat record is keyed by.
func verifyPayload(k keys.Set, payload string, now time.Time) (kind byte, id, canonical string, ok bool) {
	if k.Empty() || len(payload) < 1+expiryLen+tagLen {
		return 0, "", "", false
	}
	body, sig := payload[:len(payload)-tagLen], payload[len(payload)-tagLen:]
	got, err := b64.DecodeString(sig)
	if err != nil {
		return 0, "", "", false
	}
	valid := false
	for _, key := range k.Links() {
		valid = valid || hmac.Equal(got, tag(key, body))
	}
	if !valid {
		return 0, "", "", false
	}
	exp, err := b64.DecodeString(body[len(body)-expiryLen:])
	if err != nil || len(exp) != 4 || now.Unix()/3600 > int64(binary.BigEndian.Uint32(exp)) {
		return 0, "", "", false
	}
	raw, err := b64.DecodeString(body[1 : len(body)-expiryLen])
	if err != nil {
		return 0, "", "", false
	}
	return body[0], string(raw), fmt.Sprintf("%c:%d:%s", body[0], binary.BigEndian.Uint32(exp), raw), true
}

// DeepLink returns the t.me link for a payload.
func DeepLink(botUsername, payload string) string {
	return "https://t.me/" + strings.TrimPrefix(botUsername, "@") + "?start=" + payload
}

// SetLinkKeys is set by the runtime so /start payloads can be verified.
func (b *Bot) SetLinkKeys(k keys.Set) { b.mu.Lock(); b.linkKeys = k; b.mu.Unlock() }

// linkFromPayload links the chat to the customer a signed /start payload
// names. It returns the linked customer id, or "" for a payload that does
// not verify (the customer then simply starts unlinked).
func (b *Bot) linkFromPayload(ctx context.Context, in channels.Inbound, chatCustomer string) (string, error) {
	b.mu.RLock()
	k := b.linkKeys
	b.mu.RUnlock()
	kind, id, canonical, ok := verifyPayload(k, in.Args, b.now())
	if !ok {
		b.metrics.note("link.invalid")
		return "", nil
	}
	// A link works for the first chat that opens it: a forwarded or leaked
	// link cannot move the customer to someone else's chat.
	first, err := b.store.FirstUse(ctx, canonical, in.Channel+":"+in.Address, LinkValidity)
	if err != nil {
		return "", fmt.Errorf("record deep link use: %w", err)
	}
	if first != in.Channel+":"+in.Address {
		b.metrics.note("link.used_elsewhere")
		return "", nil
	}
	customer := id
	if kind == 'o' {
		owner, err := b.store.OrderOwner(ctx, id)
		if err != nil {
			return "", err
		}
		if owner == "" {
			b.metrics.note("link.unknown_order")
			return "", nil
		}
		customer = owner
	} else if kind != 'c' {
		return "", nil
	}
	if customer == chatCustomer {
		return customer, nil
	}
	// A customer who already talks to us from another chat is not moved by
	// a link (it may be forwarded or leaked); that chat can still prove who
	// it is with the order's contact (/pedido).
	if j, found, err := b.store.Get(ctx, customer); err != nil {
		return "", err
	} else if found {
		if other := j.Profile.Addresses[in.Channel]; other != "" && other != in.Address {
			b.metrics.note("link.already_linked")
			return "", nil
		}
	}
	if err := b.link(ctx, in.Channel, in.Address, customer); err != nil {
		return "", err
	}
	b.metrics.note("link.ok")
	return customer, nil
}

var digitsOnly = regexp.MustCompile(`[^0-9]`)

// Identify links a chat to the customer of orderID when contact (e-mail or
// phone) matches the one on the order or the customer's profile. It is how
// a customer who came without a deep link proves who they are.
func (b *Bot) Identify(ctx context.Context, channel, address, orderID, contact string) (bool, error) {
	return b.identify(ctx, channel, address, journey.NormalizeOrderID(orderID), contact)
}

// identify is Identify for an order id normalised already: it is not
// cleaned twice (see journey.NormalizeOrderID).
func (b *Bot) identify(ctx context.Context, channel, address, orderID, contact string) (bool, error) {
	contact = strings.TrimSpace(contact)
	owner, err := b.store.OrderOwner(ctx, orderID)
	if err != nil {
		return false, err
	}
	if owner == "" {
		return b.identifyByLookup(ctx, channel, address, orderID, contact)
	}
	j, found, err := b.store.Get(ctx, owner)
	if err != nil || !found {
		return false, err
	}
	match := contactMatches(contact, j.Profile.Email, j.Profile.Phone)
	if o := j.Order(orderID); o != nil {
		match = match || contactMatches(contact, o.Email, o.Phone)
	}
	if !match {
		b.metrics.note("identify.failed")
		return false, nil
	}
	if err := b.link(ctx, channel, address, owner); err != nil {
		return false, err
	}
	b.metrics.note("identify.ok")
	return true, nil
}

// link makes address the customer's on channel (the chat's own journey
// merges into the customer's: journey.Store.Link) and tells the chat that
// was the customer's before that it no longer is.
func (b *Bot) link(ctx context.Context, channel, address, customer string) error {
	l, err := b.store.Link(ctx, channel, address, customer, b.now())
	if err != nil {
		return err
	}
	if l.Merged != "" {
		b.metrics.note("link.merged")
	}
	if l.Previous != "" {
		b.tellUnlinked(ctx, channel, l.Previous, customer)
	}
	return nil
}

// tellUnlinked sends the chat that was a customer's, until another chat was
// linked to the customer, a notice that it no longer is (if it was not the
// customer who moved, they know to ask the store).
func (b *Bot) tellUnlinked(ctx context.Context, channel, address, customer string) {
	lang := "pt-BR"
	if j, found, err := b.store.Get(ctx, customer); err == nil && found {
		lang = j.Language()
	}
	text := "Este chat não está mais ligado às suas compras: outro chat foi ligado a elas. Se não foi você, fale com a loja."
	if lang == "en" {
		text = "This chat is no longer linked to your purchases: another chat was linked to them. If that was not you, contact the store."
	}
	now := b.now()
	_, err := b.store.Commit(ctx, journey.OwnID(channel, address), "", now, func(j *journey.Journey) (journey.Change, error) {
		j.Profile.Addresses = map[string]string{channel: address}
		if j.Profile.Language == "" {
			j.Profile.Language = lang
		}
		res := &conversations.Result{Messages: []conversations.Message{{Text: text}}}
		return journey.Change{
			History: []journey.HistoryEntry{{At: now.Unix(), From: "bot", Text: "[this chat was unlinked]"}},
			Outbox:  b.outgoing(j, channel, res, nil),
		}, nil
	})
	if err != nil {
		b.log.Warn("could not tell the chat it was unlinked", "channel", channel, "err", err)
		return
	}
	b.metrics.note("link.unlinked_notice")
	b.deliver(ctx)
}

// identifyByLookup serves stores that keep orders only in the lookup
// service: the order is asked for, and when the contact is the order's, it
// joins the chat's journey and that contact becomes the journey's verified
// one (so later order numbers with the same contact are looked up too).
func (b *Bot) identifyByLookup(ctx context.Context, channel, address, orderID, contact string) (bool, error) {
	if b.orders == nil {
		b.metrics.note("identify.failed")
		return false, nil
	}
	if !journey.LookupableOrderID(orderID) {
		b.metrics.note("identify.failed")
		return false, nil
	}
	o, err := b.orders.Lookup(ctx, orderID)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrLookupUnavailable, err)
	}
	if o == nil || !contactMatches(contact, o.Email, o.Phone) {
		b.metrics.note("identify.failed")
		return false, nil
	}
	id, err := b.CustomerID(ctx, channel, address)
	if err != nil {
		return false, err
	}
	unlock := b.lock(id)
	defer unlock()
	_, err = b.store.Update(ctx, id, "", b.now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.UpsertOrder(*o)
		if strings.Contains(contact, "@") {
			j.Profile.Email = o.Email
		} else {
			j.Profile.Phone = o.Phone
		}
		return nil, nil
	})
	b.metrics.note("identify.ok")
	return err == nil, err
}

// contactMatches reports whether contact is the e-mail, or the phone (last 8
// digits, so +55 and area codes may be written differently).
func contactMatches(contact, email, phone string) bool {
	if email != "" && strings.EqualFold(email, contact) {
		return true
	}
	cd, pd := digitsOnly.ReplaceAllString(contact, ""), digitsOnly.ReplaceAllString(phone, "")
	return len(cd) >= 8 && len(pd) >= 8 && pd[len(pd)-8:] == cd[len(cd)-8:]
}
