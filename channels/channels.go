// Package channels defines how the bot talks to people: a Channel receives
// inbound messages and sends outbound ones. One package per channel
// (console, telegram, slack) implements it.
package channels

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind says what an inbound message carries.
type Kind string

const (
	KindText    Kind = "text"    // the customer typed something
	KindButton  Kind = "button"  // the customer pressed a button; Data holds its payload
	KindCommand Kind = "command" // /start, /help...; Command and Args are set
	KindMedia   Kind = "media"   // a photo, sticker, voice, document, location; Media names it
)

// Inbound is one message from a customer.
type Inbound struct {
	Channel string // "telegram", "console"
	Address string // the chat on that channel
	// ID is unique per channel and message; the bot handles each ID once.
	ID string
	// Seq orders the messages of one address as the platform numbered them
	// (Telegram's update_id); 0 means the order of arrival.
	Seq     int64
	Kind    Kind
	Text    string
	Data    string // button payload
	Command string // without the slash, lower case
	Args    string
	Media   string
	// What the channel knows of the sender, used to fill an empty profile.
	Username, FirstName, LanguageCode string
	// Phone is a number the platform vouches for (WhatsApp's wa_id, as
	// +digits): a verified contact for the order rules.
	Phone string
	At    time.Time
}

// Button is a quick reply.
type Button struct {
	Label string
	Data  string // payload sent back when pressed (at most 64 bytes)
}

// Outbound is one message to a customer.
type Outbound struct {
	Channel, Address string
	Text             string
	Buttons          []Button
	// Proactive is true for messages the bot starts (nudges), false for replies.
	Proactive bool
	// Language is the customer's language (pt-BR, en), for the words a
	// channel adds itself (a list's button) and a template's default language.
	Language string
	// Template, when set, is sent instead of Text and Buttons: a message the
	// platform approved beforehand, the only kind some channels deliver
	// outside their service window (see Capabilities.Window).
	Template *Template
}

// Template names a message template approved on the platform. Params fill
// its body's placeholders in order ({{1}}, {{2}}...); Language is the
// platform's code (pt_BR), empty for the customer's language.
type Template struct {
	Name     string   `json:"n"`
	Language string   `json:"l,omitempty"`
	Params   []string `json:"p,omitempty"`
}

// Handler takes inbound messages. It returns only when the message has been
// handled and its effects committed; a channel acknowledges the message to its
// platform only after a nil return, so a failure means a redelivery, not a loss.
// Messages of one address must be passed in order, one at a time.
type Handler interface {
	HandleInbound(ctx context.Context, in Inbound) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, in Inbound) error

func (f HandlerFunc) HandleInbound(ctx context.Context, in Inbound) error { return f(ctx, in) }

// Channel is a way to reach customers.
//
// Send makes one attempt and says how it failed, so the bot's senders can
// decide: ErrUnreachable (the customer blocked the bot) and ErrRejected (the
// message itself is refused) end at once; a *RetryError, or any other error
// (the network), is tried again with backoff.
type Channel interface {
	Sender
	Receiver
}

// Sender is what the runtime needs of a channel: its name and a way to send.
type Sender interface {
	// Name is the channel's name in addresses ("telegram").
	Name() string
	// Send delivers one message in one attempt. It returns ErrUnreachable
	// when the customer cannot be reached on this channel any more (blocked
	// the bot), ErrRejected for a message the platform refuses, and a
	// *RetryError when the platform asks to wait.
	Send(ctx context.Context, m Outbound) error
}

// Receiver is what the process runs of a channel: it receives messages and
// passes them to h until ctx ends.
type Receiver interface {
	Run(ctx context.Context, h Handler) error
}

// ErrUnreachable means the customer blocked the bot or left the channel.
var ErrUnreachable = errors.New("customer unreachable on this channel")

// ErrRejected means the platform refused the message itself (a 400 other
// than an unknown chat): sending it again would fail again.
var ErrRejected = errors.New("message rejected by the channel")

// RetryError is a temporary failure: the platform asked to slow down (a 429)
// or failed (a 5xx). After, when not zero, is how long it asked to wait.
type RetryError struct {
	After time.Duration
	Err   error
}

func (e *RetryError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
	}
	return e.Err.Error()
}

func (e *RetryError) Unwrap() error { return e.Err }

// Capabilities are what a channel can show, declared by the channel
// (Capable) and used by the bot when it builds outbox messages and by lint.
// A zero limit means no limit.
type Capabilities struct {
	// MaxText is the longest text of one message, in UTF-16 code units: the
	// bot splits longer texts before it commits them, so each part is sent
	// (and retried) on its own and a retry never repeats a part delivered.
	MaxText int
	// MaxButtonText is the longest text that carries buttons (WhatsApp's
	// interactive body: 1024); a longer one is split before its buttons.
	MaxButtonText int
	// MaxButtons is how many buttons a message shows as buttons; MaxList,
	// when more, how many it shows as a list. Beyond both, the bot sends the
	// choices as text and the customer types one (a typed label is a press).
	MaxButtons, MaxList int
	// MaxLabel is the longest button label the channel shows (characters);
	// longer ones are shortened by the channel. MaxListLabel is that of a
	// list's row (0: MaxLabel).
	MaxLabel, MaxListLabel int
	// MaxData is the longest button payload, in bytes.
	MaxData int
	// Templates: the channel sends approved templates (Outbound.Template).
	Templates bool
	// Window is the service window: free-form messages only within this
	// long after the customer's last message; outside it only templates.
	Window time.Duration
}

// Choices is how many buttons a message can offer in any form; 0: no limit.
func (c Capabilities) Choices() int {
	if c.MaxButtons == 0 {
		return 0
	}
	return max(c.MaxButtons, c.MaxList)
}

// Capable is a channel that declares its capabilities; a channel that does
// not has no limits, no templates and no window.
type Capable interface {
	Capabilities() Capabilities
}

// CapabilitiesOf returns what c declares, or the zero Capabilities.
func CapabilitiesOf(c any) Capabilities {
	if cc, ok := c.(Capable); ok {
		return cc.Capabilities()
	}
	return Capabilities{}
}

// PhoneAddresser is a channel whose addresses are phone numbers: it says
// which addresses a phone from the store may have on it (most likely
// first), so a customer the store knows by phone is recognised when they
// write, with no identification step.
type PhoneAddresser interface {
	PhoneAddresses(phone string) []string
}
