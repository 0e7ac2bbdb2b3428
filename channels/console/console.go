// Package console is a channel in the terminal: you play the customer.
// It is how a marketer tries the scripts without any account.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"journeybot/channels"
)

// Address is the console customer's address.
const Address = "you"

// flushDelay gathers the messages of one proactive send (a timer that sends
// two) before they are printed, so only the last one's buttons get numbers.
const flushDelay = 50 * time.Millisecond

// Local handles a line the console keeps to itself (a demo's /event or
// /advance); it reports whether it did. What it prints goes to out.
type Local func(ctx context.Context, line string, out io.Writer) bool

// Channel reads customer lines from in and writes bot messages to out.
type Channel struct {
	in    io.Reader
	out   io.Writer
	mu    sync.Mutex
	last  []channels.Button // buttons of the last message that had some, pressed by number
	seq   int
	lang  string
	name  string
	now   func() time.Time
	local Local

	// pending are messages sent but not printed yet: while a line is handled
	// (busy) they wait for its end, otherwise for flushDelay.
	pending   []channels.Outbound
	pendingAt []time.Time // when each was sent, on the console's clock
	stamps    bool        // print that time (a simulated clock)
	busy      bool
	timer     *time.Timer
}

// New returns a console channel. lang is the customer's language code (pt-BR, en).
func New(in io.Reader, out io.Writer, lang, name string) *Channel {
	return &Channel{in: in, out: out, lang: lang, name: name, now: time.Now}
}

// SetClock gives the console the bot's clock (a demo's simulated one):
// inputs carry its time, and each message is printed with the time it was
// sent, since a clock that jumps makes that time worth showing.
func (c *Channel) SetClock(now func() time.Time) { c.now, c.stamps = now, true }

// SetLocal installs a handler for lines the console keeps to itself.
func (c *Channel) SetLocal(l Local) { c.local = l }

func (c *Channel) Name() string { return "console" }

// Run reads lines until EOF or ctx ends. A line with a button's number
// presses it; /cmd is a command; anything else is text.
func (c *Channel) Run(ctx context.Context, h channels.Handler) error {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(c.in)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	c.prompt()
	for {
		select {
		case <-ctx.Done():
			c.flush(false, "")
			return nil
		case line, ok := <-lines:
			if !ok {
				c.flush(false, "")
				return nil
			}
			c.setBusy(true)
			// The owner's notes come after the messages they caused.
			var notes strings.Builder
			if c.local != nil && strings.HasPrefix(strings.TrimSpace(line), "/") && c.local(ctx, strings.TrimSpace(line), &notes) {
				// handled by the console's owner
			} else if in, ok := c.parse(line); ok {
				if err := h.HandleInbound(ctx, in); err != nil {
					fmt.Fprintf(&notes, "(the bot could not handle that: %v)\n", err)
				}
			}
			c.flush(true, notes.String())
		}
	}
}

func (c *Channel) prompt() { fmt.Fprint(c.out, "> ") }

func (c *Channel) setBusy(b bool) {
	c.mu.Lock()
	c.busy = b
	c.mu.Unlock()
}

// flush prints the pending messages and notes, then (with prompt) the prompt.
func (c *Channel) flush(prompt bool, notes string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = false
	c.printLocked()
	fmt.Fprint(c.out, notes)
	if prompt {
		c.prompt()
	}
}

// printLocked prints the pending messages. Only the last one with buttons
// gets numbers: it is the one a number presses, and earlier numbers would
// press something else than they say.
func (c *Channel) printLocked() {
	lastWith := -1
	for i, m := range c.pending {
		if len(m.Buttons) > 0 {
			lastWith = i
		}
	}
	for i, m := range c.pending {
		who := "bot"
		if c.stamps {
			who = "bot " + c.pendingAt[i].Format("Mon 02 Jan 15:04")
		}
		fmt.Fprintf(c.out, "\n%s: %s\n", who, strings.ReplaceAll(m.Text, "\n", "\n     "))
		for n, b := range m.Buttons {
			if i == lastWith {
				fmt.Fprintf(c.out, "     [%d] %s\n", n+1, b.Label)
			} else {
				fmt.Fprintf(c.out, "     - %s\n", b.Label)
			}
		}
	}
	if lastWith >= 0 {
		c.last = c.pending[lastWith].Buttons
	}
	c.pending, c.pendingAt = nil, nil
}

func (c *Channel) parse(line string) (channels.Inbound, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line = strings.TrimSpace(line)
	if line == "" {
		return channels.Inbound{}, false
	}
	c.seq++
	now := c.now()
	in := channels.Inbound{
		Channel: "console", Address: Address, ID: fmt.Sprintf("%d-%d", time.Now().UnixNano(), c.seq),
		Kind: channels.KindText, Text: line, FirstName: c.name, LanguageCode: c.lang, At: now,
	}
	if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(c.last) {
		in.Kind, in.Data, in.Text = channels.KindButton, c.last[n-1].Data, c.last[n-1].Label
		return in, true
	}
	if cmd, ok := strings.CutPrefix(line, "/"); ok && cmd != "" {
		name, args, _ := strings.Cut(cmd, " ")
		in.Kind, in.Command, in.Args = channels.KindCommand, strings.ToLower(name), strings.TrimSpace(args)
	}
	return in, true
}

// Send queues a message for printing; buttons are numbered so the
// customer can press one by typing its number.
func (c *Channel) Send(ctx context.Context, m channels.Outbound) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, m)
	c.pendingAt = append(c.pendingAt, c.now())
	if !c.busy && c.timer == nil {
		// A message nobody typed for (a timer, an event): print it soon,
		// with the others of the same send, and prompt again.
		c.timer = time.AfterFunc(flushDelay, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.timer = nil
			if c.busy || len(c.pending) == 0 {
				return // the line being handled prints them
			}
			c.printLocked()
			c.prompt()
		})
	}
	return nil
}
