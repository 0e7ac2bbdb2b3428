package console

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"journeybot/channels"
)

// replier answers every line with two messages that both have buttons, as
// a flow that asks twice in one turn does, and records what it was given.
type replier struct {
	c   *Channel
	mu  sync.Mutex
	got []channels.Inbound
}

func (r *replier) HandleInbound(ctx context.Context, in channels.Inbound) error {
	r.mu.Lock()
	r.got = append(r.got, in)
	r.mu.Unlock()
	r.c.Send(ctx, channels.Outbound{Text: "first", Buttons: []channels.Button{{Label: "Old A", Data: "old-a"}, {Label: "Old B", Data: "old-b"}}})
	r.c.Send(ctx, channels.Outbound{Text: "second", Buttons: []channels.Button{{Label: "New A", Data: "new-a"}}})
	r.c.Send(ctx, channels.Outbound{Text: "third, no buttons"})
	return nil
}

// Only the last message with buttons is numbered, and a number presses
// that message's button.
func TestOnlyTheLastButtonsAreNumbered(t *testing.T) {
	var out strings.Builder
	c := New(strings.NewReader("oi\n1\n"), &out, "pt-BR", "Ana")
	r := &replier{c: c}
	if err := c.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"     - Old A\n", "     - Old B\n", "     [1] New A\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "[2]") || strings.Contains(text, "[1] Old") {
		t.Errorf("an earlier message's buttons are numbered:\n%s", text)
	}
	if len(r.got) != 2 || r.got[1].Kind != channels.KindButton || r.got[1].Data != "new-a" {
		t.Fatalf("the press of 1 = %+v, want the button new-a", r.got)
	}
}

// A line the owner keeps (a demo command) does not reach the bot.
func TestLocalLinesStayInTheConsole(t *testing.T) {
	var out strings.Builder
	c := New(strings.NewReader("/advance 3d\n/help\n"), &out, "pt-BR", "Ana")
	r := &replier{c: c}
	c.SetLocal(func(ctx context.Context, line string, w io.Writer) bool {
		if strings.HasPrefix(line, "/advance") {
			w.Write([]byte("(advanced)\n"))
			return true
		}
		return false
	})
	if err := c.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 1 || r.got[0].Command != "help" {
		t.Fatalf("the bot got %+v, want only /help", r.got)
	}
	if !strings.Contains(out.String(), "(advanced)") {
		t.Errorf("output:\n%s", out.String())
	}
}
