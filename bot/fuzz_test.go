package bot_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/internal/redistest"
	"journeybot/keys"
)

// FuzzDeepLinkPayload: an arbitrary payload never verifies unless it was
// signed, and one signed for an id verifies back to that id.
func FuzzDeepLinkPayload(f *testing.F) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	good, _ := bot.SignPayloadUntil(keys.New("s3cret"), 'o', "1001", now.Add(time.Hour))
	f.Add(good, "1001")
	f.Add(good[:len(good)-2]+"zz", "x")
	f.Add("o", "")
	f.Add(strings.Repeat("A", 64), "cust-42")
	f.Fuzz(func(t *testing.T, payload, id string) {
		if kind, got, ok := bot.VerifyPayload(keys.New("s3cret"), payload, now); ok && payload != good {
			// A forgery would need the HMAC: the fuzzer only finds payloads
			// that are the good one re-encoded, which must say the same.
			if kind != 'o' || got != "1001" {
				t.Fatalf("payload %q verified as %c %q", payload, kind, got)
			}
		}
		p, err := bot.SignPayloadUntil(keys.New("s3cret"), 'c', id, now.Add(time.Hour))
		if err != nil {
			return
		}
		if len(p) > 64 {
			t.Fatalf("payload of %d bytes: over Telegram's 64", len(p))
		}
		if kind, got, ok := bot.VerifyPayload(keys.New("s3cret"), p, now); !ok || kind != 'c' || got != id {
			t.Fatalf("signed %q, verified %v %c %q", id, ok, kind, got)
		}
		if _, _, ok := bot.VerifyPayload(keys.New("other"), p, now); ok {
			t.Fatal("verified under another secret")
		}
	})
}

// FuzzStartAndPedido sends /start PAYLOAD and /pedido ARGS with arbitrary
// arguments through the bot, each from a chat of its own: the bot answers
// without an error and shows no template to the customer.
func FuzzStartAndPedido(f *testing.F) {
	r := redistest.New(f)
	fx := newFixture(f, r)
	fx.bot.SetLinkKeys(keys.New("s3cret"))
	good, _ := bot.SignPayload(keys.New("s3cret"), 'o', "1001")
	for _, s := range []string{good, "", "o", "1001 ana@example.com", "#1001 +55 11 91234-5678", "   ", "1001", "\x00\xff", strings.Repeat("9", 500) + " a@b"} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
	}
	n := 0
	f.Fuzz(func(t *testing.T, which uint8, args string) {
		n++
		addr := fmt.Sprint("fz", n)
		cmd := "start"
		if which%2 == 1 {
			cmd = "pedido"
		}
		in := channels.Inbound{Channel: "test", Address: addr, ID: addr, Kind: channels.KindCommand, Command: cmd, Args: args, FirstName: "Ana"}
		if err := fx.bot.HandleInbound(context.Background(), in); err != nil {
			t.Fatalf("/%s %q: %v", cmd, args, err)
		}
		for _, m := range fx.rec.Take() {
			if strings.Contains(m.Text, "{{") {
				t.Fatalf("template shown: %q", m.Text)
			}
		}
	})
}
