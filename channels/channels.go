// Package channels defines how the bot talks to people: a Channel receives
// inbound messages and sends outbound ones. One package per channel
// (console, telegram, slack) implements it.
package channels

import (
	"context"
	"errors"
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
	ID      string
	Kind    Kind
	Text    string
	Data    string // button payload
	Command string // without the slash, lower case
	Args    string
	Media   string
	// What the channel knows of the sender, used to fill an empty profile.
	Username, FirstName, LanguageCode string
	At                                time.Time
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
type Channel interface {
	// Name is the channel's name in addresses ("telegram").
	Name() string
	// Run receives messages and passes them to h until ctx ends.
	Run(ctx context.Context, h Handler) error
	// Send delivers one message. It returns ErrUnreachable when the
	// customer cannot be reached on this channel any more (blocked the bot).
	Send(ctx context.Context, m Outbound) error
}

// ErrUnreachable means the customer blocked the bot or left the channel.
var ErrUnreachable = errors.New("customer unreachable on this channel")
