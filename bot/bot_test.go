package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/journey"
)

func TestConversationThroughTheRuntime(t *testing.T) {
	f := newFixture(t, redistest.New(t))
	ctx := context.Background()
	if err := f.bot.HandleInbound(ctx, text("42", "oi")); err != nil {
		t.Fatal(err)
	}
	got := f.rec.To("42")
	if len(got) != 1 || got[0].Text != "Olá, Ana!" || len(got[0].Buttons) != 1 {
		t.Fatalf("greeting = %+v", got)
	}
	press := text("42", "")
	press.Kind, press.Data = channels.KindButton, got[0].Buttons[0].Data
	if err := f.bot.HandleInbound(ctx, press); err != nil {
		t.Fatal(err)
	}
	if texts := f.rec.Texts("42"); texts[1] != "Sem pedidos." {
		t.Fatalf("after the button: %q", texts)
	}
	// The state is in Redis: a second process sees the conversation.
	j, found, err := f.store.Get(ctx, "test:42")
	if err != nil || !found || j.Profile.Name != "Ana" || j.Counters.Inbound != 2 {
		t.Fatalf("journey in redis: %+v found=%v err=%v", j, found, err)
	}
	h, _ := f.store.History(ctx, "test:42", 10)
	if len(h) != 4 || h[0].From != "customer" || h[1].Text != "Olá, Ana!" {
		t.Fatalf("history = %+v", h)
	}
}

func TestRedeliveredMessageIsHandledOnce(t *testing.T) {
	r := redistest.New(t)
	a, b := newFixture(t, r), newFixture(t, r) // two processes
	ctx := context.Background()
	in := text("7", "oi")
	if err := a.bot.HandleInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := b.bot.HandleInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n := len(a.rec.To("7")) + len(b.rec.To("7")); n != 1 {
		t.Fatalf("replies = %d, want 1", n)
	}
}

// Many customers at once, each with a sequence of messages: every message
// of every customer is counted (no lost update) and each customer's replies
// come in the order of their messages.
func TestCustomersInParallelMessagesInOrder(t *testing.T) {
	f := newFixture(t, redistest.New(t))
	ctx := context.Background()
	var wg sync.WaitGroup
	const customers, msgs = 20, 10
	for c := 0; c < customers; c++ {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			for i := 0; i < msgs; i++ {
				s := "oi"
				if i%2 == 1 {
					s = "pedido"
				}
				if err := f.bot.HandleInbound(ctx, text(addr, s)); err != nil {
					t.Error(err)
					return
				}
			}
		}(fmt.Sprint("c", c))
	}
	wg.Wait()
	for c := 0; c < customers; c++ {
		addr := fmt.Sprint("c", c)
		got := f.rec.Texts(addr)
		want := slices.Repeat([]string{"Olá, Ana!", "Sem pedidos."}, msgs/2)
		if !slices.Equal(got, want) {
			t.Fatalf("%s replies = %q", addr, got)
		}
		j, _, _ := f.store.Get(ctx, "test:"+addr)
		if j.Counters.Inbound != msgs {
			t.Fatalf("%s inbound = %d, want %d", addr, j.Counters.Inbound, msgs)
		}
	}
}

// With Redis gone the message is not acknowledged (an error goes back to
// the channel, which redelivers) and nothing is sent.
func TestRedisDownReturnsErrorAndSendsNothing(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer dead.Close()
	store := journey.NewStore(dead, journey.Options{})
	rec := channeltest.New("test")
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions())})
	b.AddChannel(rec)
	err := b.HandleInbound(context.Background(), text("1", "oi"))
	if err == nil {
		t.Fatal("no error with Redis down")
	}
	if n := len(rec.Sent()); n != 0 {
		t.Fatalf("sent %d messages with Redis down", n)
	}
}

// staffDesk records cases; it implements bot.Staff.
type staffDesk struct {
	mu      sync.Mutex
	cases   []bot.Case
	mirrors []string
}

func (s *staffDesk) OpenCase(ctx context.Context, c bot.Case) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cases = append(s.cases, c)
	return fmt.Sprint("ref", len(s.cases)), nil
}

func (s *staffDesk) Mirror(ctx context.Context, ref string, c bot.Case, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mirrors = append(s.mirrors, ref+":"+text)
	return nil
}

func TestCaseTakeoverRelayAndResolve(t *testing.T) {
	f := newFixture(t, redistest.New(t))
	desk := &staffDesk{}
	f.bot.SetStaff(desk)
	ctx := context.Background()
	f.bot.HandleInbound(ctx, text("9", "quero um atendente"))
	if len(desk.cases) != 1 || desk.cases[0].Reason != "asked for a person" || len(desk.cases[0].History) == 0 {
		t.Fatalf("cases = %+v", desk.cases)
	}
	// Two staff race for it: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan string, 2)
	for _, name := range []string{"Maria", "João"} {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			won, holder, err := f.bot.Claim(ctx, "test:9", "U-"+name, name)
			if err != nil {
				t.Error(err)
			}
			if won {
				wins <- name
			} else if holder == "" {
				t.Error("loser not told who holds the case")
			}
		}(name)
	}
	wg.Wait()
	close(wins)
	var winners []string
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("winners = %v", winners)
	}
	f.bot.HandleInbound(ctx, text("9", "oi, alguém?"))
	if len(desk.mirrors) != 1 || desk.mirrors[0] != "ref1:oi, alguém?" {
		t.Fatalf("mirrors = %v", desk.mirrors)
	}
	if err := f.bot.StaffReply(ctx, "test:9", winners[0], "Olá! Como posso ajudar?"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.bot.Resolve(ctx, "test:9", winners[0]); err != nil {
		t.Fatal(err)
	}
	want := []string{"Chamando alguém.", winners[0] + " entrou.", "Olá! Como posso ajudar?", "Nota de 1 a 5?"}
	if got := f.rec.Texts("9"); !slices.Equal(got, want) {
		t.Fatalf("customer saw %q, want %q", got, want)
	}
	if _, err := f.bot.Resolve(ctx, "test:9", "x"); !errors.Is(err, bot.ErrNoCase) {
		t.Fatalf("second resolve err = %v", err)
	}
}

func TestDeepLinkPayloads(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	p, err := bot.SignPayloadUntil("s3cret", 'o', "10001", now.Add(bot.LinkValidity))
	if err != nil {
		t.Fatal(err)
	}
	if kind, id, ok := bot.VerifyPayload("s3cret", p, now); !ok || kind != 'o' || id != "10001" {
		t.Fatalf("verify = %c %q %v", kind, id, ok)
	}
	forged := []byte(p)
	forged[2] ^= 1
	for _, bad := range []string{string(forged), p[:len(p)-1] + "A", "c" + p[1:], ""} {
		if _, _, ok := bot.VerifyPayload("s3cret", bad, now); ok {
			t.Errorf("forged payload %q verified", bad)
		}
	}
	if _, _, ok := bot.VerifyPayload("other", p, now); ok {
		t.Error("payload verified under another secret")
	}
	if _, _, ok := bot.VerifyPayload("s3cret", p, now.Add(bot.LinkValidity+2*time.Hour)); ok {
		t.Error("an expired link verified")
	}
	long, err := bot.SignPayload("s3cret", 'c', strings.Repeat("x", 34))
	if err != nil || len(long) > 64 {
		t.Errorf("34-byte id: %d bytes, %v (Telegram allows 64)", len(long), err)
	}
	if _, err := bot.SignPayload("s3cret", 'c', strings.Repeat("x", 35)); err == nil {
		t.Error("a 35-byte id made a payload longer than Telegram allows")
	}
}

func TestStartPayloadLinksChatToOrderOwner(t *testing.T) {
	f := newFixture(t, redistest.New(t))
	f.bot.SetLinkSecret("s3cret")
	ctx := context.Background()
	if err := f.store.IndexOrder(ctx, "555", "cust-1"); err != nil {
		t.Fatal(err)
	}
	p, _ := bot.SignPayload("s3cret", 'o', "555")
	in := text("77", "")
	in.Kind, in.Command, in.Args = channels.KindCommand, "start", p
	if err := f.bot.HandleInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if id, _ := f.bot.CustomerID(ctx, "test", "77"); id != "cust-1" {
		t.Fatalf("chat linked to %q, want cust-1", id)
	}
	// A forged payload links nothing.
	in = text("78", "")
	in.Kind, in.Command, in.Args = channels.KindCommand, "start", p[:len(p)-2]+"zz"
	f.bot.HandleInbound(ctx, in)
	if id, _ := f.bot.CustomerID(ctx, "test", "78"); id != "test:78" {
		t.Fatalf("forged payload linked the chat to %q", id)
	}
	// The same link, forwarded to another chat, does not move the customer.
	in = text("79", "")
	in.Kind, in.Command, in.Args = channels.KindCommand, "start", p
	f.bot.HandleInbound(ctx, in)
	if id, _ := f.bot.CustomerID(ctx, "test", "79"); id != "test:79" {
		t.Fatalf("a link used by chat 77 also linked chat 79 to %q", id)
	}
	// A fresh link for the same customer, opened in another chat, does not
	// move the customer away from the chat they use.
	p2, _ := bot.SignPayload("s3cret", 'c', "cust-1")
	in = text("80", "")
	in.Kind, in.Command, in.Args = channels.KindCommand, "start", p2
	f.bot.HandleInbound(ctx, in)
	if id, _ := f.bot.CustomerID(ctx, "test", "80"); id != "test:80" {
		t.Fatalf("a second chat took over the customer: %q", id)
	}
	// The first chat may open it again.
	in = text("77", "")
	in.Kind, in.Command, in.Args = channels.KindCommand, "start", p
	if err := f.bot.HandleInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if id, _ := f.bot.CustomerID(ctx, "test", "77"); id != "cust-1" {
		t.Fatalf("chat 77 now %q", id)
	}
}

// A wait started by a customer's message is put in the due index, so the
// scheduler fires it (and only once).
func TestWaitStartedByCustomerFires(t *testing.T) {
	r := redistest.New(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions()), Now: clock})
	rec := channeltest.New("test")
	b.AddChannel(rec)
	ctx := context.Background()
	in := text("5", "")
	in.Kind, in.Command = channels.KindCommand, "remind"
	if err := b.HandleInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n, _ := store.Pending(ctx); n != 1 {
		t.Fatalf("due index holds %d customers, want 1", n)
	}
	now = now.Add(25 * time.Hour) // 11:00 UTC is 08:00 in São Paulo: quiet hours
	b.Tick(ctx)
	now = now.Add(2 * time.Hour)
	b.Tick(ctx)
	b.Tick(ctx)
	if got := rec.Texts("5"); !slices.Equal(got, []string{"Combinado, te lembro amanhã.", "Lembrete!"}) {
		t.Fatalf("customer got %q", got)
	}
}

// flakyDesk fails to open the first case, like Slack answering 503.
type flakyDesk struct {
	staffDesk
	failures int
}

func (d *flakyDesk) OpenCase(ctx context.Context, c bot.Case) (string, error) {
	if d.failures > 0 {
		d.failures--
		return "", errors.New("slack: 503")
	}
	return d.staffDesk.OpenCase(ctx, c)
}

// A case that could not reach staff is brought again a minute later.
func TestCaseRetriedWhenStaffDeskFails(t *testing.T) {
	r := redistest.New(t)
	now := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions()), Now: func() time.Time { return now }})
	b.AddChannel(channeltest.New("test"))
	desk := &flakyDesk{failures: 1}
	b.SetStaff(desk)
	ctx := context.Background()
	if err := b.HandleInbound(ctx, text("3", "atendente")); err != nil {
		t.Fatal(err)
	}
	if len(desk.cases) != 0 {
		t.Fatal("case posted although the desk failed")
	}
	now = now.Add(61 * time.Second)
	if _, err := b.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if len(desk.cases) != 1 || desk.cases[0].Reason != "asked for a person" {
		t.Fatalf("cases after the retry: %+v", desk.cases)
	}
	j, _, _ := store.Get(ctx, "test:3")
	if j.Case == nil || j.Case.Ref != "ref1" {
		t.Fatalf("case = %+v", j.Case)
	}
}

// A flood from one chat is bounded: the burst is answered, the customer is
// asked once to slow down, the rest is acknowledged and not answered; other
// chats are not affected.
func TestIntakeLimitPerChat(t *testing.T) {
	r := redistest.New(t)
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	at := time.Now()
	clock := at
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions()),
		Intake: bot.IntakeLimit{PerMinute: 6, Burst: 3}, Now: func() time.Time { return clock }})
	rec := channeltest.New("test")
	b.AddChannel(rec)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		in := text("1", "oi")
		in.At = at
		if err := b.HandleInbound(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.Texts("1")
	if len(got) != 4 || !strings.Contains(got[3], "muitas mensagens") {
		t.Fatalf("20 messages at once, burst 3: replies %q, want 3 answers and one request to slow down", got)
	}
	if err := b.HandleInbound(ctx, text("2", "oi")); err != nil {
		t.Fatal(err)
	}
	if got := rec.Texts("2"); len(got) != 1 {
		t.Fatalf("another chat got %q", got)
	}
	// Ten seconds later the limit let one more through (6 a minute).
	clock = at.Add(10 * time.Second)
	in := text("1", "oi")
	in.At = clock
	b.HandleInbound(ctx, in)
	if got := rec.Texts("1"); len(got) != 5 {
		t.Fatalf("after 10s: %d replies, want 5", len(got))
	}
}

// An update that fails again and again while Redis answers (here: a journey
// whose stored document no longer decodes) is moved to the dead letters, so
// the chat's later updates are not held up for ever.
func TestPoisonUpdateGoesToTheDeadLetters(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(t), conversations.DefaultOptions()),
		Background: true, Hold: time.Millisecond})
	rec := channeltest.New("test")
	b.AddChannel(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { b.RunIntake(ctx); done <- struct{}{} }()
	go func() { b.RunSenders(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	// The journey of chat 9 is garbage in Redis.
	if err := r.Client.HSet(context.Background(), r.Prefix+":{c:test:9}", "v", "1", "d", "{not json").Err(); err != nil {
		t.Fatal(err)
	}
	in := b.Intake()
	for _, s := range []string{"oi", "oi de novo"} {
		m := text("9", s)
		if err := in.HandleInbound(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := r.Client.LLen(context.Background(), r.Prefix+":dead").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters after 30 s, want both updates of the poisoned chat", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Another chat was answered all along.
	if err := in.HandleInbound(context.Background(), text("10", "oi")); err != nil {
		t.Fatal(err)
	}
	for rec.Count("Olá") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("another chat was not answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A button press carries its label from the channel to the engine: a
// message sent before buttons had stable ids ("b:FLOW:STEP:N") is resolved
// by the label the customer pressed.
func TestOldPositionButtonResolvedByLabel(t *testing.T) {
	f := newFixture(t, redistest.New(t))
	ctx := context.Background()
	if err := f.bot.HandleInbound(ctx, text("43", "oi")); err != nil {
		t.Fatal(err)
	}
	got := f.rec.To("43")
	if len(got) != 1 || len(got[0].Buttons) != 1 {
		t.Fatalf("greeting = %+v", got)
	}
	press := text("43", "Pedido")
	press.Kind, press.Data = channels.KindButton, "b:hello:1:0"
	if err := f.bot.HandleInbound(ctx, press); err != nil {
		t.Fatal(err)
	}
	if texts := f.rec.Texts("43"); len(texts) != 2 || texts[1] != "Sem pedidos." {
		t.Fatalf("the old button's label did not reach its button: %q", texts)
	}
}
