package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"journeybot/channels"
)

// Commands the scripts answer for "/pedido ORDER CONTACT" (or /order), the
// way a customer who came without a deep link proves who they are.
const (
	CmdIdentified     = "identified"      // linked; Args is the order id
	CmdIdentifyFailed = "identify_failed" // no order with that contact
	CmdIdentifyUsage  = "identify_usage"  // the command came without order and contact
	CmdIdentifyLocked = "identify_locked" // too many failed attempts from this chat
)

// identifyLimit is how many failed identifications a chat gets per hour, so
// nobody can guess their way to someone else's order.
const identifyLimit = 5

// isIdentify tells the identification command.
func isIdentify(in channels.Inbound) bool {
	return in.Kind == channels.KindCommand && (in.Command == "pedido" || in.Command == "order")
}

// identifyCommand tries the identification in in and returns the command
// the scripts answer instead. It runs when the chat's turn comes, so the
// messages the chat sent before are handled as the customer they were.
func (b *Bot) identifyCommand(ctx context.Context, in channels.Inbound) (channels.Inbound, error) {
	order, contact, _ := strings.Cut(strings.TrimSpace(in.Args), " ")
	contact = strings.TrimSpace(contact)
	in.Args = ""
	switch {
	case order == "" || contact == "":
		in.Command = CmdIdentifyUsage
	case !b.identifyAllowed(ctx, in.Channel, in.Address, strings.TrimPrefix(order, "#")):
		in.Command = CmdIdentifyLocked
	default:
		ok, err := b.Identify(ctx, in.Channel, in.Address, order, contact)
		if err != nil {
			return in, fmt.Errorf("identify %s chat %s: %w", in.Channel, in.Address, err)
		}
		if ok {
			in.Command, in.Args = CmdIdentified, strings.TrimPrefix(order, "#")
			if err := b.store.ResetAttempts(ctx, "chat", in.Channel+":"+in.Address); err != nil {
				b.log.Warn("reset identification attempts", "err", err)
			}
		} else {
			in.Command = CmdIdentifyFailed
		}
	}
	return in, nil
}

// identifyAllowed counts an attempt before it is made (one atomic INCR, so
// concurrent requests cannot all slip under the limit), per chat and per
// order: identifyLimit tries an hour from a chat, 2×identifyLimit on one
// order from all chats together.
func (b *Bot) identifyAllowed(ctx context.Context, channel, chat, order string) bool {
	for _, k := range []struct {
		kind, id string
		limit    int64
	}{{"chat", channel + ":" + chat, identifyLimit}, {"order", order, 2 * identifyLimit}} {
		n, err := b.store.CountAttempt(ctx, k.kind, k.id, time.Hour)
		if err != nil {
			b.log.Warn("count identification attempt", "err", err)
			return false // fail closed: an attempt we cannot count is not made
		}
		if n > k.limit {
			return false
		}
	}
	return true
}
