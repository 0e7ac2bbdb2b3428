package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/journey"
	"journeybot/keys"
)

// shipped is a bot with the shipped scripts (scripts/).
func shipped(t *testing.T, r *redistest.Redis) *fixture {
	t.Helper()
	s, _, err := conversations.LoadDir("../scripts")
	if err != nil {
		t.Fatal(err)
	}
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	// No quiet hours: these tests run on the wall clock, and a shipment
	// notice would otherwise wait for the morning when they run at night.
	opt := conversations.DefaultOptions()
	opt.QuietStart, opt.QuietEnd = 0, 0
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(s, opt)})
	rec := channeltest.New("test")
	b.AddChannel(rec)
	b.SetLinkKeys(keys.New("s3cret"))
	return &fixture{bot: b, store: store, rec: rec, redis: r}
}

func command(addr, cmd, args string) channels.Inbound {
	in := text(addr, "")
	in.Kind, in.Command, in.Args = channels.KindCommand, cmd, args
	return in
}

func shippedEvent(id, customer string, addrs map[string]string) journey.Event {
	return journey.Event{ID: id, Type: "order.shipped", At: time.Now(),
		Customer: journey.EventCustomer{ID: customer, Addresses: addrs},
		Order:    &journey.Order{ID: "9" + id, Status: "shipped"}}
}

// The customer chats first, says stop, is in the middle of a conversation;
// then the store's shipment event names the chat: the journeys merge, the
// opt-out holds (no shipment notice), and the conversation goes on.
func TestChatFirstThenEventMerges(t *testing.T) {
	f := shipped(t, redistest.New(t))
	ctx := context.Background()
	en := func(in channels.Inbound) channels.Inbound { in.LanguageCode = "en"; return in }
	for _, in := range []channels.Inbound{en(command("42", "stop", "")), en(text("42", "unsubscribe"))} {
		if err := f.bot.HandleInbound(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	asked := f.rec.Take()
	if len(asked) != 2 || len(asked[1].Buttons) != 2 {
		t.Fatalf("before the event: %+v", asked)
	}
	out, err := f.bot.HandleEvent(ctx, shippedEvent("e1", "c-77", map[string]string{"test": "42"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.rec.Take(); len(got) != 0 {
		t.Fatalf("the customer who said stop got %q", got[0].Text)
	}
	j, _, _ := f.store.Get(ctx, "c-77")
	if j.Profile.OptedOut == 0 || j.Profile.Language != "en" || j.Conv.Flow != "optout_confirm" || out.Customer != "c-77" {
		t.Fatalf("merged journey: opted out %d, language %q, conversation %+v", j.Profile.OptedOut, j.Profile.Language, j.Conv)
	}
	// The button of the question asked before the merge is answered in it.
	press := text("42", "")
	press.Kind, press.Data = channels.KindButton, asked[1].Buttons[1].Data
	if err := f.bot.HandleInbound(ctx, press); err != nil {
		t.Fatal(err)
	}
	got := f.rec.Take()
	if len(got) != 1 || !strings.HasPrefix(got[0].Text, "All right") {
		t.Fatalf("after the merge the button answered %+v", got)
	}
	h, _ := f.store.History(ctx, "c-77", 50)
	if len(h) < 6 || h[0].Text != "/stop" {
		t.Errorf("history of the merged journey: %+v", h)
	}
}

// Issue 18: a replayed event (answered duplicate) links nothing; the chat
// stays with the customer the store gave it since.
func TestReplayedEventDoesNotRelink(t *testing.T) {
	f := shipped(t, redistest.New(t))
	ctx := context.Background()
	old := shippedEvent("e1", "c-old", map[string]string{"test": "1001"})
	if _, err := f.bot.HandleEvent(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := f.bot.HandleEvent(ctx, shippedEvent("e2", "c-new", map[string]string{"test": "1001"})); err != nil {
		t.Fatal(err)
	}
	out, err := f.bot.HandleEvent(ctx, old)
	if err != nil || !out.Duplicate {
		t.Fatalf("replay: %+v %v", out, err)
	}
	if id, _ := f.store.ResolveFresh(ctx, "test", "1001"); id != "c-new" {
		t.Fatalf("the replay relinked chat 1001 to %q", id)
	}
	if owner, _ := f.store.OrderOwner(ctx, "9e1"); owner != "c-old" {
		t.Errorf("order owner = %q", owner)
	}
}

// Issue 18: the store moves c-77 from chat 1001 to 1002. Chat 1001 is told,
// no longer resolves to her, and a process that still has 1001 → c-77
// cached writes nothing into her journey.
func TestRelinkTellsTheOldChatAndLocksItOut(t *testing.T) {
	r := redistest.New(t)
	a, b := shipped(t, r), shipped(t, r)
	ctx := context.Background()
	if _, err := a.bot.HandleEvent(ctx, shippedEvent("e1", "c-77", map[string]string{"test": "1001"})); err != nil {
		t.Fatal(err)
	}
	if id, _ := b.bot.CustomerID(ctx, "test", "1001"); id != "c-77" { // B caches it
		t.Fatal(id)
	}
	a.rec.Take()
	if _, err := a.bot.HandleEvent(ctx, shippedEvent("e2", "c-77", map[string]string{"test": "1002"})); err != nil {
		t.Fatal(err)
	}
	notice := a.rec.To("1001")
	if len(notice) != 1 || !strings.Contains(notice[0].Text, "não está mais ligado") {
		t.Fatalf("old chat got %+v", notice)
	}
	if len(a.rec.To("1002")) != 1 {
		t.Errorf("new chat got %+v", a.rec.To("1002"))
	}
	before, _, _ := a.store.Get(ctx, "c-77")
	if err := b.bot.HandleInbound(ctx, text("1001", "cadê meu pedido?")); err != nil {
		t.Fatal(err)
	}
	j, _, _ := a.store.Get(ctx, "c-77")
	if j.Profile.Addresses["test"] != "1002" || j.Counters.Inbound != before.Counters.Inbound {
		t.Fatalf("chat 1001 wrote into c-77: addresses %v, inbound %d", j.Profile.Addresses, j.Counters.Inbound)
	}
	if own, found, _ := a.store.Get(ctx, "test:1001"); !found || own.Counters.Inbound != 1 {
		t.Errorf("chat 1001's message went nowhere: %+v", own)
	}
	reply := b.rec.To("1001")
	if len(reply) == 0 || !strings.HasPrefix(reply[0].Text, "Ainda não encontrei pedidos") {
		t.Errorf("chat 1001 was answered %+v", reply)
	}
	for _, m := range reply {
		if strings.Contains(m.Text, "9e1") {
			t.Errorf("chat 1001 read c-77's order: %q", m.Text)
		}
	}
}

// /pedido and deep links merge the chat's journey too.
func TestIdentifyAndDeepLinkMerge(t *testing.T) {
	for _, how := range []string{"pedido", "deep link"} {
		t.Run(how, func(t *testing.T) {
			f := shipped(t, redistest.New(t))
			ctx := context.Background()
			ev := shippedEvent("e1", "c-1", nil)
			ev.Customer.Email = "ana@example.com"
			if _, err := f.bot.HandleEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			hi := text("43", "oi")
			hi.LanguageCode = "en"
			if err := f.bot.HandleInbound(ctx, hi); err != nil {
				t.Fatal(err)
			}
			in := command("43", "pedido", "9e1 ana@example.com")
			if how == "deep link" {
				p, _ := bot.SignPayload(keys.New("s3cret"), 'o', "9e1")
				in = command("43", "start", p)
			}
			if err := f.bot.HandleInbound(ctx, in); err != nil {
				t.Fatal(err)
			}
			if id, _ := f.bot.CustomerID(ctx, "test", "43"); id != "c-1" {
				t.Fatalf("chat linked to %q", id)
			}
			j, _, _ := f.store.Get(ctx, "c-1")
			if j.Profile.Language != "en" || j.Profile.Name != "Ana" || j.Counters.Inbound != 2 || len(j.Merged) != 1 {
				t.Fatalf("merged journey: %+v counters %+v merged %v", j.Profile, j.Counters, j.Merged)
			}
			if _, found, _ := f.store.Get(ctx, "test:43"); !found {
				t.Error("the chat's id does not forward to the customer")
			}
		})
	}
}

// Journeys with no activity for longer than the retention are erased by
// the sweep (once, counted); active ones stay.
func TestRetentionSweepErasesInactiveJourneys(t *testing.T) {
	r := redistest.New(t)
	now := time.Now().Add(-800 * 24 * time.Hour)
	clock := func() time.Time { return now }
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions()), Now: clock})
	b.AddChannel(channeltest.New("test"))
	ctx := context.Background()
	if err := b.HandleInbound(ctx, text("1", "oi")); err != nil {
		t.Fatal(err)
	}
	now = time.Now()
	if err := b.HandleInbound(ctx, text("2", "oi")); err != nil {
		t.Fatal(err)
	}
	n, err := b.SweepRetention(ctx, 730*24*time.Hour, 100)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want 1", n, err)
	}
	if _, found, _ := store.Get(ctx, "test:1"); found {
		t.Error("the inactive journey is still there")
	}
	if _, found, _ := store.Get(ctx, "test:2"); !found {
		t.Error("the active journey was erased")
	}
	if n, _ := b.SweepRetention(ctx, 730*24*time.Hour, 100); n != 0 {
		t.Errorf("second sweep erased %d", n)
	}
}

// The chat erase: confirmed with the button, the last message goes out and
// nothing is left, even when that last message cannot be delivered (the
// failure must not re-create the journey to mark it unreachable).
func TestEraseFromTheChatLeavesNothing(t *testing.T) {
	for _, blocked := range []bool{false, true} {
		f := shipped(t, redistest.New(t))
		ctx := context.Background()
		if _, err := f.bot.HandleEvent(ctx, shippedEvent("e1", "c-5", map[string]string{"test": "55"})); err != nil {
			t.Fatal(err)
		}
		if err := f.bot.HandleInbound(ctx, text("55", "apagar meus dados")); err != nil {
			t.Fatal(err)
		}
		ask := f.rec.Take()
		confirm := ask[len(ask)-1]
		if len(confirm.Buttons) != 2 {
			t.Fatalf("no confirmation: %+v", ask)
		}
		if blocked {
			f.rec.Block("55")
		}
		press := text("55", "")
		press.Kind, press.Data = channels.KindButton, confirm.Buttons[0].Data
		if err := f.bot.HandleInbound(ctx, press); err != nil {
			t.Fatal(err)
		}
		if got := f.rec.Take(); !blocked && (len(got) != 1 || !strings.HasPrefix(got[0].Text, "Pronto: apaguei")) {
			t.Fatalf("last message = %+v", got)
		}
		for _, id := range []string{"c-5", "test:55"} {
			if _, found, _ := f.store.Get(ctx, id); found {
				t.Errorf("blocked %v: journey %s is still there", blocked, id)
			}
		}
		if erased, _ := f.store.WasErased(ctx, "c-5"); !erased {
			t.Errorf("blocked %v: not on the erased list", blocked)
		}
	}
}
