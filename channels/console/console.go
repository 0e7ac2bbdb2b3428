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

// Channel reads customer lines from in and writes bot messages to out.
type Channel struct {
	in   io.Reader
	out  io.Writer
	mu   sync.Mutex
	last []channels.Button // buttons of the last message, pressed by number
	seq  int
	lang string
	name string
}

// New returns a console channel. lang is the customer's language code (pt-BR, en).
func New(in io.Reader, out io.Writer, lang, name string) *Channel {
	return &Channel{in: in, out: out, lang: lang, name: name}
}

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
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if in, ok := c.parse(line); ok {
				if err := h.HandleInbound(ctx, in); err != nil {
					fmt.Fprintf(c.out, "(the bot could not handle that: %v)\n", err)
				}
			}
			c.prompt()
		}
	}
}

func (c *Channel) prompt() { fmt.Fprint(c.out, "> ") }

func (c *Channel) parse(line string) (channels.Inbound, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line = strings.TrimSpace(line)
	if line == "" {
		return channels.Inbound{}, false
	}
	c.seq++
	in := channels.Inbound{
		Channel: "console", Address: Address, ID: fmt.Sprintf("%d-%d", time.Now().UnixNano(), c.seq),
		Kind: channels.KindText, Text: line, FirstName: c.name, LanguageCode: c.lang, At: time.Now(),
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

// Send prints a message; buttons are numbered so the customer can press
// one by typing its number.
func (c *Channel) Send(ctx context.Context, m channels.Outbound) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "\nbot: %s\n", strings.ReplaceAll(m.Text, "\n", "\n     "))
	if len(m.Buttons) > 0 {
		c.last = m.Buttons
		for i, b := range m.Buttons {
			fmt.Fprintf(c.out, "     [%d] %s\n", i+1, b.Label)
		}
	}
	return nil
}
