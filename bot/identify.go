package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"journeybot/channels"
	"journeybot/journey"
)

// Commands the scripts answer for "/pedido ORDER CONTACT" (or /order), the
// way a customer who came without a deep link proves who they are. They are
// the runtime's own inputs: a customer who types one sends text.
const (
	CmdIdentified          = "identified"           // linked; Args is the order id
	CmdIdentifyFailed      = "identify_failed"      // no order with that contact
	CmdIdentifyUsage       = "identify_usage"       // the command came without order and contact
	CmdIdentifyLocked      = "identify_locked"      // too many failed attempts from this chat, contact or order
	CmdIdentifyUnavailable = "identify_unavailable" // the order lookup service did not answer: not the customer's failure
)

// IsInternalCommand reports whether cmd is one of the runtime's own inputs.
func IsInternalCommand(cmd string) bool {
	switch cmd {
	case CmdIdentified, CmdIdentifyFailed, CmdIdentifyUsage, CmdIdentifyLocked, CmdIdentifyUnavailable:
		return true
	}
	return false
}

// Failed identifications allowed per hour, so nobody can guess their way to
// someone else's order: per chat, per contact (an e-mail or phone tried from
// any number of chats), per order, and for the whole bot (which bounds what
// many chats together can try). A success does not clear them.
const (
	identifyLimit        = 5
	identifyContactLimit = 5
	identifyOrderLimit   = 10
	identifyOverallLimit = 100
	identifyWindow       = time.Hour
)

// ErrLookupUnavailable marks a failure of the order lookup service: the
// customer did nothing wrong.
var ErrLookupUnavailable = errors.New("order lookup unavailable")

type internalKey struct{}

// HandleInternal handles in as the runtime's own input, where internal
// commands (/identified...) are allowed: for script tests, which drive the
// flows that answer them.
func (b *Bot) HandleInternal(ctx context.Context, in channels.Inbound) error {
	return b.handle(context.WithValue(ctx, internalKey{}, true), in)
}

// customerInput turns a customer's attempt at an internal command into the
// text it was.
func customerInput(ctx context.Context, in channels.Inbound) channels.Inbound {
	if in.Kind != channels.KindCommand || !IsInternalCommand(in.Command) || ctx.Value(internalKey{}) != nil {
		return in
	}
	in.Kind, in.Text = channels.KindText, strings.TrimSpace("/"+in.Command+" "+in.Args)
	in.Command, in.Args = "", ""
	return in
}

// isIdentify tells the identification command.
func isIdentify(in channels.Inbound) bool {
	return in.Kind == channels.KindCommand && (in.Command == "pedido" || in.Command == "order")
}

// identifyCommand tries the identification in in and returns the command
// the scripts answer instead. It runs when the chat's turn comes, so the
// messages the chat sent before are handled as the customer they were. An
// attempt is counted once per customer message (a retried update is not a
// new attempt) and stays counted only when it failed: a success, or a
// lookup service that did not answer, gives it back.
func (b *Bot) identifyCommand(ctx context.Context, in channels.Inbound) (channels.Inbound, error) {
	raw, contact, _ := strings.Cut(strings.TrimSpace(in.Args), " ")
	order, contact := journey.NormalizeOrderID(raw), strings.TrimSpace(contact)
	in.Args = ""
	if order == "" || contact == "" {
		in.Command = CmdIdentifyUsage
		return in, nil
	}
	token := in.Channel + ":" + in.Address + ":" + in.ID
	if in.ID == "" {
		token += ":" + rand.Text()
	}
	limits := identifyLimits(in.Channel, in.Address, order, contact)
	ok, err := b.store.Reserve(ctx, token, identifyWindow, limits...)
	if err != nil {
		return in, fmt.Errorf("identify %s chat %s: %w", in.Channel, in.Address, err)
	}
	if !ok {
		b.metrics.note("identify.locked")
		in.Command = CmdIdentifyLocked
		return in, nil
	}
	linked, err := b.identify(ctx, in.Channel, in.Address, order, contact)
	if err != nil || linked {
		if rerr := b.store.Release(context.WithoutCancel(ctx), token, limits...); rerr != nil {
			b.log.Warn("give back an identification attempt", "err", rerr)
		}
	}
	switch {
	case errors.Is(err, ErrLookupUnavailable):
		b.log.Warn("identification: order lookup failed", "channel", in.Channel, "err", err)
		in.Command = CmdIdentifyUnavailable
	case err != nil:
		return in, fmt.Errorf("identify %s chat %s: %w", in.Channel, in.Address, err)
	case linked:
		in.Command, in.Args = CmdIdentified, order
	default:
		in.Command = CmdIdentifyFailed
	}
	return in, nil
}

// identifyLimits are the counters one attempt counts on.
func identifyLimits(channel, chat, order, contact string) []journey.Limit {
	return []journey.Limit{
		{Kind: "chat", ID: channel + ":" + chat, Max: identifyLimit},
		{Kind: "contact", ID: contactKey(contact), Max: identifyContactLimit},
		{Kind: "order", ID: order, Max: identifyOrderLimit},
		{Kind: "all", ID: "all", Max: identifyOverallLimit},
	}
}

// contactKey is a contact the way contactMatches compares it: an e-mail in
// lower case, a phone by its last 8 digits.
func contactKey(contact string) string {
	if strings.Contains(contact, "@") {
		return "email:" + strings.ToLower(contact)
	}
	if d := digitsOnly.ReplaceAllString(contact, ""); len(d) >= 8 {
		return "phone:" + d[len(d)-8:]
	}
	return "other:" + strings.ToLower(contact)
}
