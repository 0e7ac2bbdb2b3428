package bot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"journeybot/channels"
	"journeybot/internal/redistest"
	"journeybot/journey"
)

// identifyEnv is a bot with a victim (cust-v, victim@example.com, orders
// 7000 and 7001) and an attacker who is a customer too (cust-a,
// me@example.com, order 9000).
func identifyEnv(t *testing.T) (*fixture, func(addr, args string) string) {
	t.Helper()
	f := newFixture(t, redistest.New(t))
	ctx := context.Background()
	for i, ev := range []struct{ customer, email, order string }{
		{"cust-v", "victim@example.com", "7000"}, {"cust-v", "victim@example.com", "7001"}, {"cust-a", "me@example.com", "9000"},
	} {
		_, err := f.bot.HandleEvent(ctx, journey.Event{
			ID: fmt.Sprint("ev", i), Type: "order.created", At: time.Now(),
			Customer: journey.EventCustomer{ID: ev.customer, Email: ev.email},
			Order:    &journey.Order{ID: ev.order, Status: "paid", Email: ev.email},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pedido := func(addr, args string) string {
		t.Helper()
		in := text(addr, "")
		in.Kind, in.Command, in.Args = channels.KindCommand, "pedido", args
		if err := f.bot.HandleInbound(ctx, in); err != nil {
			t.Fatal(err)
		}
		id, err := f.bot.CustomerID(ctx, "test", addr)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	return f, pedido
}

// A success with the attacker's own order does not clear the failures of
// the chat (it did: every 4 guesses, one success, and guessing went on).
func TestIdentifyFailuresSurviveASuccess(t *testing.T) {
	_, pedido := identifyEnv(t)
	for i := range 4 {
		pedido("g1", fmt.Sprintf("80%02d guess%d@example.com", i, i))
	}
	if id := pedido("g1", "9000 me@example.com"); id != "cust-a" {
		t.Fatalf("the attacker's own order linked the chat to %q, want cust-a", id)
	}
	pedido("g1", "8050 guess9@example.com") // the fifth failure of the hour
	if id := pedido("g1", "7000 victim@example.com"); id == "cust-v" {
		t.Fatal("a chat with 5 failed attempts this hour identified as another customer")
	}
}

// One contact tried from many chats is limited (each chat tried once, each
// with another order, so neither the chat nor the order limit applied).
func TestIdentifyLimitedPerContact(t *testing.T) {
	_, pedido := identifyEnv(t)
	for i := range 5 {
		pedido(fmt.Sprint("c", i), fmt.Sprintf("81%02d victim@example.com", i))
	}
	if id := pedido("c9", "7000 victim@example.com"); id == "cust-v" {
		t.Fatal("after 5 failures with one e-mail from 5 chats, a sixth chat identified with it")
	}
	// Another contact is not held back.
	if id := pedido("c10", "9000 me@example.com"); id != "cust-a" {
		t.Fatalf("another contact: linked to %q, want cust-a", id)
	}
}

// All chats together get identifyOverallLimit failures an hour.
func TestIdentifyLimitedOverall(t *testing.T) {
	_, pedido := identifyEnv(t)
	for i := range 100 {
		pedido(fmt.Sprint("o", i), fmt.Sprintf("8%03d g%d@example.com", i, i))
	}
	if id := pedido("o-last", "7000 victim@example.com"); id == "cust-v" {
		t.Fatal("after 100 failures from 100 chats, contacts and orders, identification was still open")
	}
}

// "/pedido ##7001" was counted on "#7001" and looked up as "7001": a second
// budget for the same order. The id is normalised once.
func TestIdentifyOrderIDNormalisedOnce(t *testing.T) {
	_, pedido := identifyEnv(t)
	for i := range 10 {
		pedido(fmt.Sprint("h", i), fmt.Sprintf("7001 h%d@example.com", i))
	}
	if id := pedido("h-a", "##7001 victim@example.com"); id == "cust-v" {
		t.Fatal("## gave order 7001 a second budget")
	}
	if id := pedido("h-b", "#7001 victim@example.com"); id == "cust-v" {
		t.Fatal("order 7001 identified after its 10 failures this hour")
	}
}

// A customer typing the runtime's internal commands sends text: the scripts'
// "identified" answer is reached only through a real identification.
func TestInternalCommandsAreNotCustomerInput(t *testing.T) {
	f, _ := identifyEnv(t)
	ctx := context.Background()
	for _, cmd := range []string{"identified", "identify_failed", "identify_locked", "identify_usage", "identify_unavailable"} {
		in := text("i1", "")
		in.Kind, in.Command, in.Args = channels.KindCommand, cmd, "7000"
		if err := f.bot.HandleInbound(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	h, err := f.store.History(ctx, "test:i1", 50)
	if err != nil {
		t.Fatal(err)
	}
	var saw []string
	for _, e := range h {
		if e.From == "customer" {
			saw = append(saw, e.Text)
		}
	}
	// Commands are recorded as "/name", text as typed: the args show it was text.
	want := "[/identified 7000 /identify_failed 7000 /identify_locked 7000 /identify_usage 7000 /identify_unavailable 7000]"
	if fmt.Sprint(saw) != want {
		t.Fatalf("customer lines = %v, want the commands taken as text %s", saw, want)
	}
}

// A retried update is one attempt: Reserve with the same token counts once.
func TestReserveCountsAMessageOnce(t *testing.T) {
	f := newFixture(t, redistest.New(t))
	ctx := context.Background()
	lim := journey.Limit{Kind: "chat", ID: "x", Max: 2}
	for range 5 {
		if ok, err := f.store.Reserve(ctx, "msg-1", time.Hour, lim); err != nil || !ok {
			t.Fatalf("the same message again: %v %v, want allowed", ok, err)
		}
	}
	if ok, _ := f.store.Reserve(ctx, "msg-2", time.Hour, lim); !ok {
		t.Fatal("a second message was refused under a limit of 2")
	}
	if ok, _ := f.store.Reserve(ctx, "msg-3", time.Hour, lim); ok {
		t.Fatal("a third message was allowed under a limit of 2")
	}
	if err := f.store.Release(ctx, "msg-2", lim); err != nil {
		t.Fatal(err)
	}
	f.store.Release(ctx, "msg-2", lim) // a second release gives back nothing more
	if ok, _ := f.store.Reserve(ctx, "msg-4", time.Hour, lim); !ok {
		t.Fatal("a released attempt still counted")
	}
	if ok, _ := f.store.Reserve(ctx, "msg-5", time.Hour, lim); ok {
		t.Fatal("a double release gave back two attempts")
	}
}
