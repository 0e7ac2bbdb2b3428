// Package channeltest has a channel for tests and the script test runner:
// it keeps what the bot sends instead of delivering it.
package channeltest

import (
	"context"
	"strings"
	"sync"

	"journeybot/channels"
)

// Recorder is a channels.Channel that records outbound messages. Safe for
// concurrent use.
type Recorder struct {
	name        string
	mu          sync.Mutex
	msgs        []channels.Outbound
	attempts    int
	unreachable map[string]bool
}

// New returns a recorder for the channel called name ("test", "telegram").
func New(name string) *Recorder { return &Recorder{name: name, unreachable: map[string]bool{}} }

func (r *Recorder) Name() string { return r.name }

// Run receives nothing: tests call the bot's handler themselves.
func (r *Recorder) Run(ctx context.Context, h channels.Handler) error { return nil }

// Send records m, or fails with channels.ErrUnreachable for a blocked address.
func (r *Recorder) Send(ctx context.Context, m channels.Outbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.unreachable[m.Address] {
		return channels.ErrUnreachable
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// Block makes sends to addr fail as if the customer blocked the bot.
func (r *Recorder) Block(addr string) {
	r.mu.Lock()
	r.unreachable[addr] = true
	r.mu.Unlock()
}

// Attempts counts Send calls, failed ones included.
func (r *Recorder) Attempts() int { r.mu.Lock(); defer r.mu.Unlock(); return r.attempts }

// Sent returns every message recorded so far.
func (r *Recorder) Sent() []channels.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channels.Outbound(nil), r.msgs...)
}

// Take returns the messages recorded since the last Take and forgets them.
func (r *Recorder) Take() []channels.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// To returns the messages sent to addr.
func (r *Recorder) To(addr string) []channels.Outbound {
	var out []channels.Outbound
	for _, m := range r.Sent() {
		if m.Address == addr {
			out = append(out, m)
		}
	}
	return out
}

// Count is how many messages so far contain s.
func (r *Recorder) Count(s string) int {
	n := 0
	for _, m := range r.Sent() {
		if strings.Contains(m.Text, s) {
			n++
		}
	}
	return n
}

// Texts returns the texts sent to addr, in order.
func (r *Recorder) Texts(addr string) []string {
	var out []string
	for _, m := range r.To(addr) {
		out = append(out, m.Text)
	}
	return out
}
