package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/channels/telegram"
	"journeybot/conversations"
	"journeybot/delivery"
	"journeybot/internal/logtest"
	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
	"journeybot/journey"
	"journeybot/keys"
	"journeybot/ratelimit"
)

// env is one bot process: a real bot with the repository's scripts, a store
// on the test Redis, and the Telegram channel against the loopback Bot API.
type env struct {
	t      *testing.T
	srv    *telegramtest.Server
	redis  *redistest.Redis
	store  *journey.Store
	engine *conversations.Engine
	bot    *bot.Bot
	ch     *telegram.Channel
	logs   *logtest.Buffer
	stop   func()
	// webhook is the bot's HTTP server in webhook mode.
	webhook *httptest.Server
}

type envOptions struct {
	mode        string
	perChat     time.Duration // default 10ms, to keep the tests quick
	allowGroups bool
	secret      string
	linkSecret  string
}

func newEnv(t *testing.T, srv *telegramtest.Server, r *redistest.Redis, o envOptions) *env {
	t.Helper()
	scripts, _, err := conversations.LoadDir("../../scripts")
	if err != nil {
		t.Fatalf("load scripts: %v", err)
	}
	e := &env{t: t, srv: srv, redis: r, logs: &logtest.Buffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.store = journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	e.engine = conversations.NewEngine(scripts, conversations.Options{})
	// The production setup: updates go through the inboxes, replies through
	// the outboxes and the senders, with the shared rate limiter.
	e.bot = bot.New(bot.Options{Store: e.store, Engine: e.engine, Log: log, Background: true,
		Limiter: ratelimit.New(r.Client, r.Prefix+":rate"), Hold: 10 * time.Millisecond})
	e.bot.SetLinkKeys(keys.New(o.linkSecret))
	if o.perChat == 0 {
		o.perChat = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.ch, err = telegram.New(ctx, telegram.Options{
		Token: srv.Token, APIURL: srv.URL, Mode: o.mode, WebhookSecret: o.secret, AllowGroups: o.allowGroups,
		Log: log, PollTimeout: 2 * time.Second, RetryBase: 20 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatalf("telegram.New: %v", err)
	}
	e.bot.AddChannel(e.ch, delivery.Limits{PerSecond: 30, PerChat: o.perChat})
	if o.mode == telegram.ModeWebhook {
		mux := http.NewServeMux()
		mux.Handle("POST /telegram/webhook", e.ch.WebhookHandler())
		e.webhook = httptest.NewServer(mux)
		if err := e.ch.SetWebhook(ctx, e.webhook.URL+"/telegram/webhook"); err != nil {
			t.Fatalf("SetWebhook: %v", err)
		}
	}
	done := make(chan error, 1)
	var workers sync.WaitGroup
	workers.Add(2)
	go func() { defer workers.Done(); e.bot.RunIntake(ctx) }()
	go func() { defer workers.Done(); e.bot.RunSenders(ctx) }()
	go func() { err := e.ch.Run(ctx, e.bot.Intake()); workers.Wait(); done <- err }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if e.webhook != nil {
				e.webhook.Close()
			}
			if strings.Contains(e.logs.String(), srv.Token) {
				t.Errorf("the token appears in the logs")
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

var ana = telegramtest.User{ID: 424242, FirstName: "Ana", Username: "ana_s", LanguageCode: "pt-br"}

// expected runs the engine on a fresh journey like the customer's and returns
// the texts it would send, so the tests follow the scripts as they change.
func (e *env) expected(u telegramtest.User, in conversations.Input) []conversations.Message {
	j := journey.New("expect", time.Now())
	j.Profile.Name, j.Profile.Language = u.FirstName, "pt-BR"
	return e.engine.Handle(j, in, time.Now()).Messages
}

func (e *env) customer(chat int64) *journey.Journey {
	e.t.Helper()
	id, err := e.bot.CustomerID(context.Background(), "telegram", strconv.FormatInt(chat, 10))
	if err != nil {
		e.t.Fatal(err)
	}
	j, found, err := e.store.Get(context.Background(), id)
	if err != nil || !found {
		e.t.Fatalf("customer %s: found=%v err=%v", id, found, err)
	}
	return j
}

func labels(m telegramtest.Message) []string {
	var out []string
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				out = append(out, b.Text)
			}
		}
	}
	return out
}

func TestConversationWithButtons(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{})
	chat := telegramtest.Private(ana)

	srv.SendText(chat, ana, "oi")
	msgs := srv.WaitMessages(chat.ID, 1)
	menu := msgs[0]
	want := e.expected(ana, conversations.Input{Kind: conversations.InText, Text: "oi"})
	if menu.Text != want[0].Text {
		t.Fatalf("menu text = %q, want %q", menu.Text, want[0].Text)
	}
	if got := labels(menu); len(got) != len(want[0].Buttons) || got[1] != want[0].Buttons[1].Label {
		t.Fatalf("menu buttons = %v, want the %d of the script", got, len(want[0].Buttons))
	}

	press := srv.Press(chat, ana, want[0].Buttons[1].Label)
	msgs = srv.WaitMessages(chat.ID, 2)
	answers := srv.WaitCalls("answerCallbackQuery", 1)
	if !srv.Answered(answers[0].Params.Get("callback_query_id")) {
		t.Fatalf("the callback query was not answered")
	}
	edits := srv.WaitCalls("editMessageReplyMarkup", 1)
	if edits[0].Params.Get("message_id") != strconv.Itoa(menu.MessageID) {
		t.Fatalf("edited message %s, want the menu %d", edits[0].Params.Get("message_id"), menu.MessageID)
	}
	if msgs[0].ReplyMarkup != nil {
		t.Fatalf("the pressed menu still shows its keyboard: %v", labels(msgs[0]))
	}
	if !strings.Contains(msgs[1].Text, "pontos") {
		t.Fatalf("reply to %q = %q, want the points answer", want[0].Buttons[1].Label, msgs[1].Text)
	}
	srv.WaitConfirmed(press)
	j := e.customer(chat.ID)
	if j.Profile.Name != "Ana" || j.Profile.Language != "pt-BR" || j.Profile.Addresses["telegram"] != "424242" {
		t.Fatalf("profile not filled from Telegram: %+v", j.Profile)
	}
}

// A tap on a question's button that was already answered (the keyboard's
// removal raced the tap) must not run the step again.
func TestSecondTapDoesNotRunTwice(t *testing.T) {
	srv := telegramtest.New(t)
	newEnv(t, srv, redistest.New(t), envOptions{})
	chat := telegramtest.Private(ana)

	// Misunderstood texts lead to the offer of a person, a question with a
	// "no" button that moves the conversation on (a goto button).
	var offer telegramtest.Message
	for i := 1; i <= 6 && offer.MessageID == 0; i++ {
		srv.SendText(chat, ana, "qwzx blorf")
		for _, m := range srv.WaitMessages(chat.ID, i) {
			for _, l := range labels(m) {
				if strings.HasPrefix(l, "Não") {
					offer = m
				}
			}
		}
	}
	if offer.MessageID == 0 {
		t.Fatalf("the scripts never offered a person after misunderstood texts: %v", srv.Messages(chat.ID))
	}
	var noData, noLabel string
	for _, row := range offer.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if strings.HasPrefix(b.Text, "Não") {
				noData, noLabel = b.CallbackData, b.Text
			}
		}
	}
	before := len(srv.Messages(chat.ID))
	srv.Press(chat, ana, noLabel)
	msgs := srv.WaitMessages(chat.ID, before+1)
	second := srv.PressData(chat, ana, offer.MessageID, noData)
	srv.WaitConfirmed(second)
	if got := srv.Messages(chat.ID); len(got) != len(msgs) {
		t.Fatalf("a second tap on an answered question ran it again: %q", got[len(got)-1].Text)
	}
	if len(srv.Calls("answerCallbackQuery")) != 2 {
		t.Fatalf("both taps must be answered, got %d answers", len(srv.Calls("answerCallbackQuery")))
	}
}

func TestCommandsAndMedia(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{})
	chat := telegramtest.Private(ana)
	n := 0
	next := func(text string) telegramtest.Message {
		t.Helper()
		srv.SendText(chat, ana, text)
		n++
		msgs := srv.WaitMessages(chat.ID, n)
		n = len(msgs)
		return msgs[n-1]
	}

	menu := e.expected(ana, conversations.Input{Kind: conversations.InCommand, Command: "start"})
	if got := next("/start"); got.Text != menu[0].Text {
		t.Fatalf("/start = %q, want the menu %q", got.Text, menu[0].Text)
	}
	if got := next("/help@" + telegramtest.BotUsername); got.Text != menu[0].Text {
		t.Fatalf("/help = %q, want the menu", got.Text)
	}
	stop := e.expected(ana, conversations.Input{Kind: conversations.InCommand, Command: "stop"})
	if got := next("/stop"); got.Text != stop[len(stop)-1].Text {
		t.Fatalf("/stop = %q, want %q", got.Text, stop[len(stop)-1].Text)
	}
	if j := e.customer(chat.ID); j.Profile.OptedOut == 0 {
		t.Fatalf("/stop did not record the opt-out")
	}
	next("/start")
	if j := e.customer(chat.ID); j.Profile.OptedOut != 0 {
		t.Fatalf("/start did not resume after /stop")
	}

	media := e.expected(ana, conversations.Input{Kind: conversations.InMedia, Text: "photo"})
	for _, kind := range []string{"photo", "sticker", "voice", "document", "location"} {
		srv.SendMedia(chat, ana, kind)
		n++
		msgs := srv.WaitMessages(chat.ID, n)
		if got := msgs[n-1].Text; got != media[0].Text {
			t.Fatalf("%s: reply %q, want %q", kind, got, media[0].Text)
		}
	}

	human := e.expected(ana, conversations.Input{Kind: conversations.InCommand, Command: "human"})
	if got := next("/human"); got.Text != human[len(human)-1].Text {
		t.Fatalf("/human = %q, want %q", got.Text, human[len(human)-1].Text)
	}
	if j := e.customer(chat.ID); j.Case == nil {
		t.Fatalf("/human did not open a case")
	}
}

func TestGroupsIgnoredUnlessAllowed(t *testing.T) {
	srv := telegramtest.New(t)
	r := redistest.New(t)
	group := telegramtest.Chat{ID: -100777, Type: "group", Title: "Amigas"}
	e := newEnv(t, srv, r, envOptions{})
	id := srv.SendText(group, ana, "oi")
	srv.WaitConfirmed(id)
	if got := srv.Messages(group.ID); len(got) != 0 {
		t.Fatalf("the bot answered in a group: %q", got[0].Text)
	}
	e.stop()

	newEnv(t, srv, r, envOptions{allowGroups: true})
	srv.SendText(group, ana, "oi")
	srv.WaitMessages(group.ID, 1)
}

func TestRetryAfter429(t *testing.T) {
	srv := telegramtest.New(t)
	newEnv(t, srv, redistest.New(t), envOptions{perChat: time.Second})
	chat := telegramtest.Private(ana)
	srv.Fail("sendMessage", telegramtest.Failure{Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1})

	srv.SendText(chat, ana, "oi")
	msgs := srv.WaitMessages(chat.ID, 1)
	if msgs[0].ReplyMarkup == nil {
		t.Fatalf("the menu lost its keyboard on the retry")
	}
	if calls := srv.Calls("sendMessage"); len(calls) != 2 || calls[0].Params.Get("text") != calls[1].Params.Get("text") {
		t.Fatalf("want the refused message sent again once, got %d sendMessage calls", len(calls))
	}
}

func TestNetworkErrorsRetried(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{})
	chat := telegramtest.Private(ana)
	srv.Fail("sendMessage", telegramtest.Failure{Drop: true}, telegramtest.Failure{Code: 502, Description: "Bad Gateway"})
	srv.Fail("getUpdates", telegramtest.Failure{Drop: true})

	srv.SendText(chat, ana, "oi")
	srv.WaitMessages(chat.ID, 1)
	if n := len(srv.Calls("sendMessage")); n != 3 {
		t.Fatalf("sendMessage calls = %d, want 2 failures and a success", n)
	}
	e.stop()
	if !strings.Contains(e.logs.String(), "<token>") {
		t.Fatalf("the network error was not logged (redacted): %s", e.logs.String())
	}
}

// An update delivered again (a lost offset, a restart, a second process)
// is handled once.
func TestDuplicateUpdateAcrossRestart(t *testing.T) {
	srv := telegramtest.New(t)
	r := redistest.New(t)
	chat := telegramtest.Private(ana)
	first := newEnv(t, srv, r, envOptions{})
	id := srv.SendText(chat, ana, "oi")
	srv.WaitMessages(chat.ID, 1)
	srv.WaitConfirmed(id)
	first.stop()

	second := newEnv(t, srv, r, envOptions{}) // another process on the same Redis
	srv.Redeliver(id)
	srv.WaitConfirmed(id)
	if got := srv.Messages(chat.ID); len(got) != 1 {
		t.Fatalf("the redelivered update was handled again: %d messages", len(got))
	}
	if j := second.customer(chat.ID); j.Counters.Inbound != 1 {
		t.Fatalf("inbound counted %d times", j.Counters.Inbound)
	}
	// A new message is still answered.
	srv.SendText(chat, ana, "/help")
	srv.WaitMessages(chat.ID, 2)
}

func TestWebhook(t *testing.T) {
	srv := telegramtest.New(t)
	const secret = "s3cr3t-Webhook_token"
	e := newEnv(t, srv, redistest.New(t), envOptions{mode: telegram.ModeWebhook, secret: secret})
	hook, got := srv.Webhook()
	if hook != e.webhook.URL+"/telegram/webhook" || got != secret {
		t.Fatalf("setWebhook: url %q secret set %v", hook, got == secret)
	}
	if a := srv.Calls("setWebhook")[0].Params.Get("allowed_updates"); !strings.Contains(a, "callback_query") {
		t.Fatalf("allowed_updates = %q", a)
	}
	chat := telegramtest.Private(ana)

	// Telegram delivers with the secret header.
	id := srv.SendText(chat, ana, "oi")
	srv.WaitMessages(chat.ID, 1)
	srv.WaitDelivered(id)
	srv.Press(chat, ana, labels(srv.Messages(chat.ID)[0])[1])
	srv.WaitMessages(chat.ID, 2)

	post := func(secret string, body []byte) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := []byte(fmt.Sprintf(`{"update_id":999001,"message":{"message_id":1,"date":1,"chat":{"id":%d,"type":"private"},"from":{"id":%d,"first_name":"X"},"text":"oi"}}`, chat.ID, chat.ID))
	for _, s := range []string{"", "wrong", secret + "x", secret[:len(secret)-1]} {
		if code := post(s, forged); code != http.StatusUnauthorized {
			t.Fatalf("secret %q: status %d, want 401", s, code)
		}
	}
	if code := post("wrong", []byte("not json")); code != http.StatusUnauthorized {
		t.Fatalf("the secret must be checked before the body is read: status %d", code)
	}
	if code := post(secret, []byte("not json")); code != http.StatusBadRequest {
		t.Fatalf("bad body: status %d, want 400", code)
	}
	big := []byte(`{"update_id":999002,"message":{"text":"` + strings.Repeat("x", 2<<20) + `"}}`)
	if code := post(secret, big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: status %d, want 413", code)
	}
	// The same update again, as Telegram does after a timeout: handled once.
	if code := post(secret, srv.Update(id)); code != http.StatusOK {
		t.Fatalf("redelivered update: status %d", code)
	}
	if msgs := srv.Messages(chat.ID); len(msgs) != 2 {
		t.Fatalf("forged or redelivered updates produced replies: %d messages", len(msgs))
	}
}

// A webhook update the bot could not handle gets a non-2xx, so Telegram
// sends it again; until Run gives a handler the answer is 503.
func TestWebhookFailureAsksForRedelivery(t *testing.T) {
	srv := telegramtest.New(t)
	ch, err := telegram.New(context.Background(), telegram.Options{Token: srv.Token, APIURL: srv.URL, Mode: telegram.ModeWebhook, WebhookSecret: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	h := ch.WebhookHandler()
	body := `{"update_id":5,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"first_name":"A"},"text":"oi"}}`
	do := func() int {
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "abc")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if code := do(); code != http.StatusServiceUnavailable {
		t.Fatalf("before Run: status %d, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fails := true
	var mu sync.Mutex
	go ch.Run(ctx, channels.HandlerFunc(func(ctx context.Context, in channels.Inbound) error {
		mu.Lock()
		defer mu.Unlock()
		if fails {
			return errors.New("redis down")
		}
		return nil
	}))
	deadline := time.Now().Add(10 * time.Second)
	code := do()
	for code == http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		code = do()
	}
	if code != http.StatusInternalServerError {
		t.Fatalf("failed handling: status %d, want 500", code)
	}
	mu.Lock()
	fails = false
	mu.Unlock()
	if code := do(); code != http.StatusOK {
		t.Fatalf("handled: status %d, want 200", code)
	}
}

// A long text is queued as several messages (each sent and retried on its
// own), cut at sentences.
func TestOversizedTextIsSplit(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{})
	chat := telegramtest.Private(ana)
	srv.SendText(chat, ana, "oi")
	first := len(srv.WaitMessages(chat.ID, 1))
	var b strings.Builder
	for i := 0; b.Len() < 10000; i++ {
		fmt.Fprintf(&b, "Parágrafo %d. Uma frase sobre o pedido 😊 que vai longe. Outra frase aqui!\n\n", i)
	}
	text := strings.TrimSpace(b.String())
	ctx := context.Background()
	id, _ := e.bot.CustomerID(ctx, "telegram", "424242")
	if err := e.bot.StaffReply(ctx, id, "Bia", text); err != nil {
		t.Fatal(err)
	}
	parts := e.ch.Split(text)
	if len(parts) < 3 {
		t.Fatalf("%d characters split in %d parts", len(text), len(parts))
	}
	msgs := srv.WaitMessages(chat.ID, first+len(parts))[first:]
	var got []string
	for i, m := range msgs {
		if !strings.HasSuffix(m.Text, "!") {
			t.Fatalf("part %d does not end at a sentence: ...%q", i, m.Text[max(0, len(m.Text)-20):])
		}
		got = append(got, m.Text)
	}
	if strings.Join(got, "\n\n") != text {
		t.Fatalf("the parts do not add up to the text")
	}
}

func TestBlockedUserMarkedUnreachable(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{})
	chat := telegramtest.Private(ana)
	srv.SendText(chat, ana, "oi")
	srv.WaitMessages(chat.ID, 1)
	srv.Block(chat.ID)

	err := e.ch.Send(context.Background(), channels.Outbound{Address: "424242", Text: "olá"})
	if !errors.Is(err, channels.ErrUnreachable) {
		t.Fatalf("Send to a user who blocked the bot: %v, want ErrUnreachable", err)
	}
	ctx := context.Background()
	id, _ := e.bot.CustomerID(ctx, "telegram", "424242")
	// The reply is queued; its sender finds the block and marks the customer.
	if err := e.bot.StaffReply(ctx, id, "Bia", "Oi Ana, tudo certo com o pedido?"); err != nil {
		t.Fatalf("staff reply: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.customer(chat.ID).Profile.Unreachable == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the customer who blocked the bot is not marked unreachable")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIdentifyByOrderAndContact(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{})
	ctx := context.Background()
	_, err := e.bot.HandleEvent(ctx, journey.Event{
		ID: "ev1", Type: "order.created", At: time.Now(),
		Customer: journey.EventCustomer{ID: "cust-77", Name: "Ana Souza", Email: "ana@example.com"},
		Order:    &journey.Order{ID: "12345", Status: "paid", Email: "ana@example.com", Phone: "+55 11 98888-7777"},
	})
	if err != nil {
		t.Fatal(err)
	}
	chat := telegramtest.Private(ana)
	n := 0
	say := func(text string) {
		t.Helper()
		srv.SendText(chat, ana, text)
		n++
		srv.WaitMessages(chat.ID, n) // each attempt is answered once it was handled
	}
	say("/pedido")
	say("/pedido 12345 bob@example.com")
	if id, _ := e.bot.CustomerID(ctx, "telegram", "424242"); id == "cust-77" {
		t.Fatalf("a wrong e-mail linked the chat to the order's customer")
	}
	say("/pedido #12345 (11) 98888-7777")
	if id, _ := e.bot.CustomerID(ctx, "telegram", "424242"); id != "cust-77" {
		t.Fatalf("chat linked to %q, want cust-77", id)
	}
	if got := srv.WaitMessages(chat.ID, n); len(got) < n {
		t.Fatalf("every identification attempt must be answered: %d replies to %d", len(got), n)
	}

	// Guessing is limited per chat.
	bob := telegramtest.User{ID: 515151, FirstName: "Bob", LanguageCode: "pt-br"}
	bobChat := telegramtest.Private(bob)
	for i := 0; i < 6; i++ {
		srv.SendText(bobChat, bob, fmt.Sprintf("/pedido 12345 guess%d@example.com", i))
	}
	srv.SendText(bobChat, bob, "/pedido 12345 ana@example.com")
	srv.WaitMessages(bobChat.ID, 7)
	if id, _ := e.bot.CustomerID(ctx, "telegram", "515151"); id == "cust-77" {
		t.Fatalf("a chat that failed %d times could still identify", 6)
	}

	// The scripts see each outcome as a command.
	said := func(customer string) string {
		h, err := e.store.History(ctx, customer, 50)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, x := range h {
			b.WriteString(x.Text + "\n")
		}
		return b.String()
	}
	// The chat's journey merged into the customer's when it was linked:
	// its history, the failed attempts included, is the customer's now.
	if h := said("cust-77"); !strings.Contains(h, "/identify_usage") || !strings.Contains(h, "/identify_failed") || !strings.Contains(h, "/identified") {
		t.Fatalf("history of the identified customer:\n%s", h)
	}
	if h := said("telegram:515151"); !strings.Contains(h, "/identify_locked") {
		t.Fatalf("history of the guessing chat:\n%s", h)
	}
}

func TestDeepLinkStart(t *testing.T) {
	srv := telegramtest.New(t)
	e := newEnv(t, srv, redistest.New(t), envOptions{linkSecret: "link-secret"})
	payload, err := bot.SignPayload(keys.New("link-secret"), 'c', "cust-9")
	if err != nil {
		t.Fatal(err)
	}
	chat := telegramtest.Private(ana)
	srv.SendText(chat, ana, "/start "+payload)
	srv.WaitMessages(chat.ID, 1)
	if id, _ := e.bot.CustomerID(context.Background(), "telegram", "424242"); id != "cust-9" {
		t.Fatalf("/start with a signed payload linked the chat to %q, want cust-9", id)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	const token = "123:SECRET-token-value"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = telegram.New(ctx, telegram.Options{Token: token, APIURL: "http://" + addr, RetryBase: time.Millisecond})
	if err == nil {
		t.Fatal("New succeeded without a server")
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "<token>") {
		t.Fatalf("error not redacted: %v", err)
	}

	srv := telegramtest.New(t)
	_, err = telegram.New(ctx, telegram.Options{Token: "999:wrong", APIURL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "999:wrong") {
		t.Fatalf("a rejected token: %v", err)
	}
}

// An update that could not be handed over (Redis down) is retried, and
// neither it nor a later one is confirmed until it was: the order holds.
func TestPollingConfirmsOnlyHandledUpdates(t *testing.T) {
	srv := telegramtest.New(t)
	ch, err := telegram.New(context.Background(), telegram.Options{Token: srv.Token, APIURL: srv.URL, PollTimeout: time.Second, RetryBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	release := false
	seen := map[string]int{}
	var order []string
	failedA := make(chan struct{}, 1)
	h := channels.HandlerFunc(func(ctx context.Context, in channels.Inbound) error {
		mu.Lock()
		defer mu.Unlock()
		seen[in.ID]++
		if in.Address == "1" && !release {
			select {
			case failedA <- struct{}{}:
			default:
			}
			return errors.New("store unavailable")
		}
		order = append(order, in.Address)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, h) }()
	defer func() { cancel(); <-done }()

	a := telegramtest.User{ID: 1, FirstName: "A"}
	b := telegramtest.User{ID: 2, FirstName: "B"}
	idA := srv.SendText(telegramtest.Private(a), a, "oi")
	idB := srv.SendText(telegramtest.Private(b), b, "oi")
	<-failedA
	<-failedA
	if !srv.Queued(idA) || !srv.Queued(idB) {
		t.Fatalf("the offset moved past an update that was not handed over")
	}
	mu.Lock()
	release = true
	mu.Unlock()
	srv.WaitConfirmed(idB)
	mu.Lock()
	defer mu.Unlock()
	if seen[strconv.Itoa(idA)] < 2 || seen[strconv.Itoa(idB)] != 1 {
		t.Fatalf("attempts: A %d (want retries), B %d (want 1)", seen[strconv.Itoa(idA)], seen[strconv.Itoa(idB)])
	}
	if strings.Join(order, ",") != "1,2" {
		t.Fatalf("handed over in order %v, want A then B", order)
	}
}

// Two bot processes polling the same bot and sharing Redis answer each
// message once.
func TestTwoProcessesAnswerOnce(t *testing.T) {
	srv := telegramtest.New(t)
	r := redistest.New(t)
	p1 := newEnv(t, srv, r, envOptions{})
	p2 := newEnv(t, srv, r, envOptions{})
	chat := telegramtest.Private(ana)
	var last int
	for i := 0; i < 5; i++ {
		last = srv.SendText(chat, ana, "/help")
	}
	srv.WaitConfirmed(last)
	srv.WaitMessages(chat.ID, 5)
	p1.stop()
	p2.stop()
	if got := srv.Messages(chat.ID); len(got) != 5 {
		t.Fatalf("5 messages got %d answers", len(got))
	}
}
