package whatsapp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/channels/whatsapp"
	"journeybot/conversations"
	"journeybot/delivery"
	"journeybot/internal/logtest"
	"journeybot/internal/redistest"
	"journeybot/internal/whatsapptest"
	"journeybot/journey"
	"journeybot/ratelimit"
)

// env is one bot process: the real bot with the given scripts, a store on
// the test Redis, and the WhatsApp channel against the loopback Cloud API,
// its webhook served on loopback too.
type env struct {
	t       *testing.T
	srv     *whatsapptest.Server
	store   *journey.Store
	bot     *bot.Bot
	ch      *whatsapp.Channel
	metrics *bot.Metrics
	logs    *logtest.Buffer
	hook    *httptest.Server
}

func loadShipped(t *testing.T) *conversations.Scripts {
	t.Helper()
	s, _, err := conversations.LoadDir("../../scripts")
	if err != nil {
		t.Fatalf("load scripts: %v", err)
	}
	return s
}

// engineOptions are the production defaults without quiet hours, so the
// tests do not depend on the time of day.
var engineOptions = conversations.Options{Grace: 12 * time.Hour, MaxPerDay: 10, MaxPerWeek: 50, MaxRetries: 2}

func newEnv(t *testing.T, scripts *conversations.Scripts) *env {
	t.Helper()
	r := redistest.New(t)
	srv := whatsapptest.New(t)
	e := &env{t: t, srv: srv, logs: &logtest.Buffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.store = journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	e.metrics = bot.NewMetrics(nil)
	e.bot = bot.New(bot.Options{Store: e.store, Engine: conversations.NewEngine(scripts, engineOptions), Log: log,
		Background: true, Metrics: e.metrics, Limiter: ratelimit.New(r.Client, r.Prefix+":rate"), Hold: 10 * time.Millisecond})
	var err error
	e.ch, err = whatsapp.New(whatsapp.Options{
		AccessToken: whatsapptest.Token, PhoneNumberID: whatsapptest.PhoneNumberID, AppSecret: whatsapptest.AppSecret,
		VerifyToken: whatsapptest.VerifyToken, APIURL: srv.APIURL(), Log: log, Statuses: e.bot,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ch.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	e.bot.AddChannel(e.ch, delivery.Limits{PerSecond: 80, PerChat: 10 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle(whatsapp.WebhookPath, e.ch.WebhookHandler())
	e.hook = httptest.NewServer(mux)
	srv.SetWebhook(e.hook.URL + whatsapp.WebhookPath)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); e.bot.RunIntake(ctx) }()
	go func() { defer wg.Done(); e.bot.RunSenders(ctx) }()
	go func() { defer wg.Done(); e.ch.Run(ctx, e.bot.Intake()) }()
	// The webhook answers 503 until the channel runs.
	empty := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	for i := 0; srv.Post(empty, whatsapptest.AppSecret) != http.StatusOK; i++ {
		if i > 100 {
			t.Fatal("the webhook never became ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		e.hook.Close()
		if t.Failed() {
			t.Log(e.logs.String())
		}
		for _, secret := range []string{whatsapptest.Token, whatsapptest.AppSecret, whatsapptest.VerifyToken} {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("a secret appears in the logs")
			}
		}
	})
	return e
}

// note is the value of journeybot_journey_events_total{event=name}.
func (e *env) note(name string) float64 {
	mfs, err := e.metrics.Registry.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "journeybot_journey_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" && l.GetValue() == name {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func (e *env) customer(waID string) *journey.Journey {
	e.t.Helper()
	id, err := e.bot.CustomerID(context.Background(), whatsapp.Name, waID)
	if err != nil {
		e.t.Fatal(err)
	}
	j, found, err := e.store.Get(context.Background(), id)
	if err != nil || !found {
		e.t.Fatalf("customer %s: found=%v err=%v", id, found, err)
	}
	return j
}

func TestVerification(t *testing.T) {
	e := newEnv(t, loadShipped(t))
	for _, c := range []struct {
		name, mode, token string
		want              int
	}{
		{"right token", "subscribe", whatsapptest.VerifyToken, 200},
		{"wrong token", "subscribe", "guess", 403},
		{"no token", "subscribe", "", 403},
		{"wrong mode", "unsubscribe", whatsapptest.VerifyToken, 403},
	} {
		q := url.Values{"hub.mode": {c.mode}, "hub.verify_token": {c.token}, "hub.challenge": {"1158201444"}}
		resp, err := http.Get(e.hook.URL + whatsapp.WebhookPath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if c.want == 200 && string(body) != "1158201444" {
			t.Errorf("%s: body %q, want the challenge", c.name, body)
		}
	}
}

func TestSignatures(t *testing.T) {
	e := newEnv(t, loadShipped(t))
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	for _, c := range []struct {
		name, header string
		want         int
	}{
		{"none", "", 401},
		{"not hex", "sha256=zz", 401},
		{"no prefix", strings.TrimPrefix(whatsapptest.Sign(body, whatsapptest.AppSecret), "sha256="), 401},
		{"another secret", whatsapptest.Sign(body, "another"), 401},
		{"another body", whatsapptest.Sign([]byte(`{}`), whatsapptest.AppSecret), 401},
		{"right", whatsapptest.Sign(body, whatsapptest.AppSecret), 200},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.hook.URL+whatsapp.WebhookPath, strings.NewReader(string(body)))
		if c.header != "" {
			req.Header.Set("X-Hub-Signature-256", c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

// A conversation with the shipped scripts: the four-choice menu comes as a
// list, a row is answered, the two-button opt-out comes as reply buttons,
// media get the polite answer, every message is marked as read.
func TestConversationWithButtonsAndList(t *testing.T) {
	e := newEnv(t, loadShipped(t))
	const ana = "5511912345678"
	hello := e.srv.Text(ana, "Ana Souza", "oi")
	menu := e.srv.WaitMessages(ana, 1)[0]
	if menu.Type != "list" || len(menu.Buttons) <= 3 || menu.List != "Ver opções" || !strings.Contains(menu.Text, "Ana") {
		t.Fatalf("menu = %+v, want a list of more than 3 rows greeting Ana", menu)
	}
	e.srv.WaitRead(hello)
	e.srv.Text(ana, "", "quero parar de receber mensagens")
	confirm := e.srv.WaitMessages(ana, 2)[1]
	if confirm.Type != "button" || len(confirm.Buttons) != 2 {
		t.Fatalf("opt-out confirmation = %+v, want two reply buttons", confirm)
	}
	e.srv.Press(ana, confirm.Buttons[1].Title) // no, keep them
	if keep := e.srv.WaitMessages(ana, 3)[2]; !strings.Contains(keep.Text, "Combinado") {
		t.Fatalf("answer to %q = %q", confirm.Buttons[1].Title, keep.Text)
	}
	if j := e.customer(ana); j.Profile.OptedOut != 0 {
		t.Fatalf("pressing %q opted out", confirm.Buttons[1].Title)
	}
	e.srv.Media(ana, "image")
	if m := e.srv.WaitMessages(ana, 4)[3]; !strings.Contains(m.Text, "só leio texto") {
		t.Fatalf("answer to a photo = %q", m.Text)
	}
	e.srv.Press(ana, "Meu pedido") // a row of the menu
	if reply := e.srv.WaitMessages(ana, 5)[4]; !strings.Contains(reply.Text, "pedido") || reply.Text == menu.Text {
		t.Fatalf("reply to the list row = %+v", reply)
	}
	j := e.customer(ana)
	if j.Profile.Name != "Ana" || j.Profile.Phone != "+"+ana || j.Seen[whatsapp.Name] == 0 {
		t.Fatalf("profile %+v, seen %v: want the name, the verified phone and when she wrote", j.Profile, j.Seen)
	}
	// Statuses are recorded, never answered.
	time.Sleep(100 * time.Millisecond)
	before := len(e.srv.Messages(ana))
	if code := e.srv.Status(menu.ID, ana, "read"); code != 200 {
		t.Fatalf("status notification: %d", code)
	}
	if got := e.note("delivery.whatsapp.read"); got != 1 {
		t.Fatalf("read statuses counted %v, want 1", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(e.srv.Messages(ana)); n != before {
		t.Fatalf("%d messages after a status, want %d (statuses are not answered)", n, before)
	}
}

func TestDuplicateNotificationIsHandledOnce(t *testing.T) {
	e := newEnv(t, loadShipped(t))
	const bia = "5521987654321"
	id := e.srv.Text(bia, "Bia", "oi")
	e.srv.WaitMessages(bia, 1)
	for range 3 {
		if code := e.srv.Redeliver(id); code != 200 {
			t.Fatalf("redelivery: %d, want 200", code)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.srv.Messages(bia)); n != 1 {
		t.Fatalf("%d answers to one message delivered four times, want 1", n)
	}
	if j := e.customer(bia); j.Counters.Inbound != 1 {
		t.Fatalf("inbound counted %d times, want 1", j.Counters.Inbound)
	}
}

// The store tells of an order shipped to a phone written the Brazilian way,
// with the ninth digit; WhatsApp knows the customer without it. Outside the
// window (she never wrote) the shipped notice goes as the template the
// shipped scripts name (pedido_enviado), with the order and tracking link.
// When she writes, she is the store's customer and sees her order with no
// identification step.
func TestOrderShippedToAPhoneThatThenWrites(t *testing.T) {
	e := newEnv(t, loadShipped(t))
	const waID = "551191234567" // no ninth digit
	e.srv.Register(waID)
	e.srv.Approve("pedido_enviado", "pt_BR")
	ev := journey.Event{ID: "ev-ship-1", Type: "order.shipped", At: time.Now(),
		Customer: journey.EventCustomer{ID: "cust-42", Name: "Ana Souza", Phone: "+55 11 99123-4567"},
		Order:    &journey.Order{ID: "1001", TrackingURL: "https://track.example/AB1"}}
	if _, err := e.bot.HandleEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	notice := e.srv.WaitMessages(waID, 1)[0]
	if notice.Template != "pedido_enviado" || !strings.Contains(fmt.Sprint(notice.Params), "1001") || !strings.Contains(fmt.Sprint(notice.Params), "https://track.example/AB1") {
		t.Fatalf("outside the window: %+v, want the pedido_enviado template with the order and its tracking link", notice)
	}
	e.srv.Text(waID, "Ana", "cadê meu pedido?")
	m := e.srv.WaitMessages(waID, 2)[1]
	if !strings.Contains(m.Text, "1001") {
		t.Fatalf("answer = %q, want order #1001", m.Text)
	}
	if j := e.customer(waID); j.ID != "cust-42" || j.Profile.Addresses[whatsapp.Name] != waID {
		t.Fatalf("the chat is customer %s at %v, want cust-42 at %s", j.ID, j.Profile.Addresses, waID)
	}
}

const windowScripts = `
settings: {languages: [pt-BR, en], fallback: fallback}
stages: [{id: purchase, initial: true}]
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Oi!", en: "Hi!"}
  - id: shipped
    transactional: true
    triggers: [{event: order.shipped}]
    steps:
      - say: {pt-BR: "Seu pedido #{{ order.id }} foi enviado.", en: "Your order #{{ order.id }} has shipped."}
        whatsapp_template:
          name: pedido_enviado
          params: ['{{ first_name | default "cliente" }}', '{{ order.id }}']
      - say: {pt-BR: "Rastreio: {{ order.tracking_url | default \"-\" }}", en: "Tracking: {{ order.tracking_url | default \"-\" }}"}
`

func TestOutsideWindowTemplates(t *testing.T) {
	scripts, probs := conversations.Load(map[string][]byte{"w.yaml": []byte(windowScripts)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	e := newEnv(t, scripts)
	e.srv.Approve("pedido_enviado", "pt_BR")
	const waID = "5531988887777"
	ship := func(id, order string) {
		ev := journey.Event{ID: id, Type: "order.shipped", At: time.Now(),
			Customer: journey.EventCustomer{ID: "cust-7", Name: "Caio Lima", Phone: "+" + waID},
			Order:    &journey.Order{ID: order, TrackingURL: "https://track.example/" + order}}
		if _, err := e.bot.HandleEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ship("ev-1", "2001")
	tm := e.srv.WaitMessages(waID, 1)[0]
	if tm.Type != "template" || tm.Template != "pedido_enviado" || tm.Language != "pt_BR" || fmt.Sprint(tm.Params) != "[Caio 2001]" {
		t.Fatalf("outside the window: %+v, want template pedido_enviado in pt_BR with [Caio 2001]", tm)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(e.srv.Messages(waID)); n != 1 {
		t.Fatalf("%d messages outside the window, want only the template (the tracking step has none)", n)
	}
	if e.note("template.whatsapp.shipped") != 1 || e.note("nudge.skipped_window") != 1 {
		t.Fatalf("templates counted %v, skipped %v; want 1 and 1", e.note("template.whatsapp.shipped"), e.note("nudge.skipped_window"))
	}
	// Staff cannot write first either: they are told why.
	if err := e.bot.StaffReply(context.Background(), "cust-7", "Bia", "Oi Caio!"); !errors.Is(err, bot.ErrOutsideWindow) {
		t.Fatalf("staff reply outside the window: %v, want bot.ErrOutsideWindow", err)
	}
	// The customer answers: the window opens, free-form messages go.
	e.srv.Text(waID, "Caio", "obrigado")
	e.srv.WaitMessages(waID, 2)
	ship("ev-2", "2002")
	got := e.srv.WaitMessages(waID, 4)
	if got[2].Type != "text" || !strings.Contains(got[2].Text, "#2002") || !strings.Contains(got[3].Text, "track.example/2002") {
		t.Fatalf("inside the window: %+v %+v, want the two texts", got[2], got[3])
	}
	// WhatsApp's clock says the window closed (the bot thought it open):
	// 131047 ends the message at once; it is never retried into the same refusal.
	e.srv.SetClock(func() time.Time { return time.Now().Add(25 * time.Hour) })
	calls := e.srv.Calls()
	ship("ev-3", "2003")
	time.Sleep(400 * time.Millisecond)
	if n := e.srv.Calls() - calls; n != 2 {
		t.Fatalf("%d send attempts for two messages refused with 131047, want 2 (no retries)", n)
	}
}

// A storm of 429s and 130429s: every attempt is one call, the sender waits
// and tries again, and the reply arrives once.
func Test429Storm(t *testing.T) {
	e := newEnv(t, loadShipped(t))
	e.srv.Fail(
		whatsapptest.Failure{Status: 429, Code: 4},
		whatsapptest.Failure{Status: 400, Code: 130429},
		whatsapptest.Failure{Status: 429, Code: 130429},
	)
	const waID = "5511977776666"
	e.srv.Text(waID, "Duda", "oi")
	ms := e.srv.WaitMessages(waID, 1)
	if n := e.srv.Calls(); n != 4 {
		t.Fatalf("%d calls, want 4 (three refusals, one success)", n)
	}
	time.Sleep(200 * time.Millisecond)
	if len(e.srv.Messages(waID)) != 1 || ms[0].Type != "list" {
		t.Fatalf("after the storm: %+v, want the menu once", e.srv.Messages(waID))
	}
}

// Send classifies the Graph API's errors the way the senders act on them.
func TestSendErrors(t *testing.T) {
	for _, c := range []struct {
		f          whatsapptest.Failure
		retry      bool
		after      time.Duration
		rejected   bool
		unreachble bool
	}{
		{whatsapptest.Failure{Status: 429, Code: 4, RetryAfter: 7}, true, 7 * time.Second, false, false},
		{whatsapptest.Failure{Status: 400, Code: 130429}, true, time.Second, false, false},
		{whatsapptest.Failure{Status: 400, Code: 131056}, true, 6 * time.Second, false, false},
		{whatsapptest.Failure{Status: 500, Code: 131000}, true, 0, false, false},
		{whatsapptest.Failure{Status: 401, Code: 190}, true, 0, false, false},
		{whatsapptest.Failure{Status: 400, Code: 131047}, false, 0, true, false},
		{whatsapptest.Failure{Status: 400, Code: 131009}, false, 0, true, false},
		{whatsapptest.Failure{Status: 400, Code: 131026}, false, 0, false, true},
	} {
		srv := whatsapptest.New(t)
		srv.Register("5511900000000")
		srv.Wrote("5511900000000")
		ch, err := whatsapp.New(whatsapp.Options{AccessToken: whatsapptest.Token, PhoneNumberID: whatsapptest.PhoneNumberID,
			AppSecret: "s", VerifyToken: "v", APIURL: srv.APIURL()})
		if err != nil {
			t.Fatal(err)
		}
		srv.Fail(c.f)
		err = ch.Send(context.Background(), channels.Outbound{Channel: "whatsapp", Address: "5511900000000", Text: "oi"})
		var re *channels.RetryError
		name := fmt.Sprintf("HTTP %d code %d", c.f.Status, c.f.Code)
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case c.retry && (!errors.As(err, &re) || re.After != c.after):
			t.Errorf("%s: %v, want a RetryError after %s", name, err, c.after)
		case c.rejected && !errors.Is(err, channels.ErrRejected):
			t.Errorf("%s: %v, want ErrRejected", name, err)
		case c.unreachble && !errors.Is(err, channels.ErrUnreachable):
			t.Errorf("%s: %v, want ErrUnreachable", name, err)
		case strings.Contains(err.Error(), whatsapptest.Token):
			t.Errorf("%s: the token is in the error", name)
		}
	}
}

const npsScripts = `
settings: {languages: [pt-BR, en], fallback: fallback}
stages: [{id: purchase, initial: true}]
intents:
  - {id: rate, keywords: [avaliar]}
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Oi!", en: "Hi!"}
  - id: nps
    triggers: [{intent: rate}]
    steps:
      - id: ask
        survey: nps
        text: {pt-BR: "De 0 a 10, quanto nos recomendaria?", en: "From 0 to 10, would you recommend us?"}
        promoter: thanks
        detractor: sorry
      - id: thanks
        say: {pt-BR: "Obrigado pela nota!", en: "Thanks for the score!"}
        end: true
      - id: sorry
        say: {pt-BR: "Sentimos muito.", en: "We are sorry."}
`

// Eleven NPS scores do not fit WhatsApp's three buttons nor its ten-row
// list: the question asks for a typed number, and the typed number is the
// answer.
func TestElevenScoresAreTyped(t *testing.T) {
	scripts, probs := conversations.Load(map[string][]byte{"nps.yaml": []byte(npsScripts)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	e := newEnv(t, scripts)
	const waID = "5511955554444"
	e.srv.Text(waID, "Rui", "quero avaliar")
	q := e.srv.WaitMessages(waID, 1)[0]
	if q.Type != "text" || !strings.HasSuffix(q.Text, "Responda com um número de 0 a 10.") {
		t.Fatalf("question = %+v, want a text asking for a number from 0 to 10", q)
	}
	e.srv.Text(waID, "", "9")
	if m := e.srv.WaitMessages(waID, 2)[1]; m.Text != "Obrigado pela nota!" {
		t.Fatalf("answer to 9 = %q", m.Text)
	}
	if j := e.customer(waID); j.Answers["nps"] != "9" {
		t.Fatalf("answers %v, want nps 9", j.Answers)
	}
}
