package events_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"journeybot/bot"
	"journeybot/events"
	"journeybot/journey"
)

// FuzzParseEvent: an arbitrary body is an event or an *events.Error with a
// message; an accepted event keeps to the bounds the journey relies on.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(orderCreated))
	f.Add([]byte(`{"id":"e","type":"review.posted","customer":{"id":"c"},"data":{"rating":5,"ok":true,"x":null}}`))
	f.Add([]byte(`{"id":"e","type":"coupon.redeemed","customer":{"id":"c"},"coupon":"VOLTA10"}`))
	f.Add([]byte(`{"id":"e","type":"order.shipped","at":"2026-03-02T10:00:00Z","customer":{"id":"c","addresses":{"whatsapp":"+5511912345678"}},"order":{"id":"#1"}}`))
	f.Add([]byte(strings.Repeat(`{"a":`, 50)))
	f.Add([]byte("{\"id\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := events.Parse(body, events.ParseOptions{Now: now})
		if err != nil {
			if _, ok := err.(*events.Error); !ok || err.Error() == "" {
				t.Fatalf("error %T %q is not an *events.Error with a message", err, err)
			}
			return
		}
		if !utf8.Valid(body) || ev.ID == "" || ev.Customer.ID == "" || len(ev.Data) > 50 {
			t.Fatalf("accepted %+v from %q", ev, body)
		}
		size := 0
		for k, v := range ev.Data {
			size += len(k) + len(v)
		}
		if size > 8<<10 {
			t.Fatalf("accepted %d bytes of data", size)
		}
	})
}

// counter is an Applier that counts what it is given.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) HandleEvent(ctx context.Context, ev journey.Event) (*bot.EventOutcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return &bot.EventOutcome{Customer: ev.Customer.ID}, nil
}

// FuzzImport reads arbitrary JSON lines: every line read is applied or
// reported invalid with its line number, never both, never lost.
func FuzzImport(f *testing.F) {
	good := `{"id":"e1","type":"order.paid","occurred_at":"2026-03-01T10:00:00Z","customer":{"id":"c1"},"order":{"id":"1"}}`
	f.Add(good + "\n" + good + "\n# comment\n\n{bad\n")
	f.Add(strings.Repeat("x", 70000) + "\n" + good)
	f.Add("\r\n\r\n" + good + "\r\n")
	f.Fuzz(func(t *testing.T, input string) {
		c := &counter{}
		sum, err := events.Import(context.Background(), strings.NewReader(input), c, events.ImportOptions{Workers: 2, Now: func() time.Time { return now }})
		if err != nil {
			return
		}
		if sum.Applied+len(sum.Invalid)+sum.Duplicates != sum.Lines || c.n != sum.Applied+sum.Duplicates {
			t.Fatalf("%d lines: %d applied, %d duplicates, %d invalid, %d handed over", sum.Lines, sum.Applied, sum.Duplicates, len(sum.Invalid), c.n)
		}
		for _, e := range sum.Invalid {
			if e.Line < 1 || e.Err == "" {
				t.Fatalf("invalid line without its number or reason: %+v", e)
			}
		}
	})
}
