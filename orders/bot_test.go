package orders_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/journey"
	"journeybot/orders"
)

// The bot asks the lookup service about an order number the customer types
// that no event told it about, and answers with its status.
func TestBotAnswersWithALookedUpOrder(t *testing.T) {
	b, store, rec, s := lookupBot(t)
	ctx := context.Background()
	// The customer's e-mail is the one on the order (an event or /pedido told us).
	_, err := store.Update(ctx, "test:a1", "", time.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Profile.Email = "Ana@Example.com"
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	say := func(id, text string) string { return sayAs(t, b, rec, "a1", id, text) }
	// Someone else typing the same order number learns nothing about it.
	if got := sayAs(t, b, rec, "a2", "0", "where is order 1234?"); !strings.Contains(got, "could not find order 1234") {
		t.Fatalf("a stranger got %q", got)
	}
	if got := say("1", "where is order 1234?"); !strings.Contains(got, "#1234 is shipped") || !strings.Contains(got, "https://track.example/AB1") {
		t.Fatalf("reply = %q, want the looked-up status and tracking link", got)
	}
	if got := say("2", "order 4040"); !strings.Contains(got, "could not find order 4040") {
		t.Fatalf("reply = %q, want the unknown-order answer", got)
	}
	before := s.hits.Load()
	if got := say("3", "order 1234 again"); !strings.Contains(got, "is shipped") {
		t.Fatalf("reply = %q", got)
	}
	if s.hits.Load() != before {
		t.Fatal("an order the journey holds now was looked up again")
	}
}

func sayAs(t *testing.T, b *bot.Bot, rec *channeltest.Recorder, addr, id, text string) string {
	t.Helper()
	err := b.HandleInbound(context.Background(), channels.Inbound{Channel: "test", Address: addr, ID: id, Kind: channels.KindText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.Take()
	if len(got) != 1 {
		t.Fatalf("%q: %d replies, want 1: %+v", text, len(got), got)
	}
	return got[0].Text
}

// A store that keeps orders only in the lookup service: a customer proves
// an order with its contact (/pedido), and from then on sees it.
func TestIdentifyThroughTheLookupService(t *testing.T) {
	b, _, rec, _ := lookupBot(t)
	ctx := context.Background()
	if got := sayAs(t, b, rec, "a3", "1", "order 1234"); !strings.Contains(got, "could not find order 1234") {
		t.Fatalf("before identifying: %q", got)
	}
	if ok, err := b.Identify(ctx, "test", "a3", "1234", "bob@example.com"); ok || err != nil {
		t.Fatalf("wrong contact: ok=%v err=%v", ok, err)
	}
	if ok, err := b.Identify(ctx, "test", "a3", "#1234", "ANA@example.com"); !ok || err != nil {
		t.Fatalf("right contact: ok=%v err=%v", ok, err)
	}
	if got := sayAs(t, b, rec, "a3", "2", "order 1234"); !strings.Contains(got, "#1234 is shipped") {
		t.Fatalf("after identifying: %q", got)
	}
}

// lookupBot is a bot with the test scripts, a store on the test Redis and
// the lookup client against the loopback order service.
func lookupBot(t *testing.T) (*bot.Bot, *journey.Store, *channeltest.Recorder, *service) {
	t.Helper()
	s := newService(t)
	l, err := orders.New(s.base(), orders.Options{CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.New(t)
	scripts, _, err := conversations.LoadDir("testdata/scripts")
	if err != nil {
		t.Fatal(err)
	}
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{
		Store:  store,
		Engine: conversations.NewEngine(scripts, conversations.Options{Grace: time.Hour, MaxPerDay: 2, MaxPerWeek: 5}),
		Intake: bot.IntakeLimit{PerMinute: 6000, Burst: 1000}, // tests type faster than people
	})
	b.SetOrderLookup(l)
	rec := channeltest.New("test")
	b.AddChannel(rec)
	return b, store, rec, s
}

// A lookup service that is down is not the customer's failure: however often
// they try while it is down, they are not locked out once it is back.
func TestLookupOutageIsNotTheCustomersFailure(t *testing.T) {
	b, store, rec, s := lookupBot(t)
	ctx := context.Background()
	s.status.Store(http.StatusServiceUnavailable)
	pedido := func(id string) error {
		err := b.HandleInbound(ctx, channels.Inbound{Channel: "test", Address: "a5", ID: id, Kind: channels.KindCommand, Command: "pedido", Args: "1234 ana@example.com"})
		rec.Take()
		return err
	}
	for i := range 8 {
		if err := pedido(fmt.Sprint("down-", i)); err != nil {
			t.Fatalf("attempt %d while the service is down: %v (the customer is answered, not retried)", i, err)
		}
	}
	h, _ := store.History(ctx, "test:a5", 50)
	if !strings.Contains(fmt.Sprint(h), "/identify_unavailable") || strings.Contains(fmt.Sprint(h), "/identify_locked") {
		t.Fatalf("history while the service was down: %v, want identify_unavailable and no lock", h)
	}
	s.status.Store(0)
	if err := pedido("up"); err != nil {
		t.Fatal(err)
	}
	j, _, err := store.Get(ctx, "test:a5")
	if err != nil || j.Order("1234") == nil {
		t.Fatalf("after the outage the customer could not identify: order %+v, err %v", j.Order("1234"), err)
	}
}

// Texts with numbers ask the service about at most lookupLimit orders an
// hour per customer.
func TestLookupsPerCustomerAreBounded(t *testing.T) {
	b, _, rec, s := lookupBot(t)
	for i := range 30 {
		sayAs(t, b, rec, "a6", fmt.Sprint(i), fmt.Sprintf("order %d", 2000+i))
	}
	if n := s.hits.Load(); n == 0 || n > 20 {
		t.Fatalf("%d lookups for 30 texts naming orders, want 1..20", n)
	}
	// Another customer is not held back by the first one.
	before := s.hits.Load()
	sayAs(t, b, rec, "a7", "x", "order 3000")
	if s.hits.Load() != before+1 {
		t.Fatal("another customer's lookup was refused")
	}
}
