package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/bot"
	"journeybot/conversations"
	"journeybot/events"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/journey"
	"journeybot/ratelimit"
)

const secret = "test-events-secret"

// now is a Monday afternoon; quiet hours are off in these tests.
var now = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

// recorder is a channel named telegram that keeps what the bot sends.

type env struct {
	r     *redistest.Redis
	store *journey.Store
	bot   *bot.Bot
	rec   *channeltest.Recorder
	url   string
}

func newBot(t testing.TB, rdb redis.UniversalClient, prefix string) (*bot.Bot, *journey.Store, *channeltest.Recorder) {
	t.Helper()
	scripts, _, err := conversations.LoadDir("testdata/scripts")
	if err != nil {
		t.Fatalf("load test scripts: %v", err)
	}
	store := journey.NewStore(rdb, journey.Options{Prefix: prefix})
	engine := conversations.NewEngine(scripts, conversations.Options{Grace: 12 * time.Hour, MaxPerDay: 2, MaxPerWeek: 5})
	b := bot.New(bot.Options{Store: store, Engine: engine, Now: func() time.Time { return now }})
	rec := channeltest.New("telegram")
	b.AddChannel(rec)
	return b, store, rec
}

func newEnv(t *testing.T, username string) *env {
	t.Helper()
	r := redistest.New(t)
	b, store, rec := newBot(t, r.Client, r.Prefix)
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Secret: secret, BotUsername: username, Now: func() time.Time { return now }}))
	t.Cleanup(srv.Close)
	return &env{r: r, store: store, bot: b, rec: rec, url: srv.URL + "/events"}
}

// post sends body with the given signature header ("" sends none).
func post(t *testing.T, url string, body []byte, sig string) (int, events.Answer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(events.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a events.Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer (HTTP %d) is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, a
}

func signed(t *testing.T, url string, body []byte) (int, events.Answer) {
	t.Helper()
	return post(t, url, body, events.SignatureValue(secret, body))
}

const orderCreated = `{
  "id": "evt-1001",
  "type": "order.created",
  "occurred_at": "2026-03-02T11:58:00-03:00",
  "customer": {"id": "cust-42", "name": "Ana Souza", "language": "en", "time_zone": "America/Sao_Paulo",
               "email": "ana@example.com", "phone": "+55 11 91234-5678", "telegram_chat": "777"},
  "order": {"id": "1001", "status": "created", "total": 249.9, "currency": "BRL",
            "items": [{"name": "Running shoes", "sku": "TENIS-01", "qty": 1, "price": 249.9}]}
}`

func TestSignedOrderCreatedIsAppliedAndAnswersADeepLink(t *testing.T) {
	e := newEnv(t, "shop_bot")
	code, a := signed(t, e.url, []byte(orderCreated))
	if code != http.StatusOK || !a.OK || a.Duplicate {
		t.Fatalf("answer = %d %+v, want 200 ok", code, a)
	}
	if a.Customer != "cust-42" || a.Messages != 1 || a.Stage != "purchase" {
		t.Fatalf("answer = %+v, want customer cust-42, 1 message, stage purchase", a)
	}
	payload, ok := strings.CutPrefix(a.TelegramLink, "https://t.me/shop_bot?start=")
	if !ok {
		t.Fatalf("telegram_link = %q, want a t.me/shop_bot deep link", a.TelegramLink)
	}
	kind, id, ok := bot.VerifyPayload(secret, payload, time.Now())
	if !ok || kind != 'o' || id != "1001" {
		t.Fatalf("deep link payload verifies as (%q, %q, %v), want order 1001", kind, id, ok)
	}
	j, found, err := e.store.Get(context.Background(), "cust-42")
	if err != nil || !found {
		t.Fatalf("journey: found=%v err=%v", found, err)
	}
	o := j.Order("1001")
	if o == nil || o.Total != 249.9 || len(o.Items) != 1 || o.Items[0].SKU != "TENIS-01" || o.Status != "created" {
		t.Fatalf("order in journey = %+v", o)
	}
	if j.Profile.Name != "Ana Souza" || j.Profile.TimeZone != "America/Sao_Paulo" || j.Profile.Addresses["telegram"] != "777" {
		t.Fatalf("profile = %+v", j.Profile)
	}
	if owner, _ := e.store.OrderOwner(context.Background(), "1001"); owner != "cust-42" {
		t.Fatalf("order owner = %q", owner)
	}
	msgs := e.rec.Sent()
	if len(msgs) != 1 || msgs[0].Address != "777" || msgs[0].Text != "Thanks for order #1001." {
		t.Fatalf("sent = %+v", msgs)
	}
}

func TestNoDeepLinkWithoutBotUsername(t *testing.T) {
	e := newEnv(t, "")
	code, a := signed(t, e.url, []byte(orderCreated))
	if code != http.StatusOK || a.TelegramLink != "" {
		t.Fatalf("answer = %d %+v, want 200 without telegram_link", code, a)
	}
}

func TestSignatureIsRequired(t *testing.T) {
	e := newEnv(t, "")
	body := []byte(orderCreated)
	good := events.SignatureValue(secret, body)
	cases := map[string]string{
		"missing":       "",
		"other secret":  events.SignatureValue("not-the-secret", body),
		"not hex":       "sha256=" + strings.Repeat("zz", 32),
		"short":         good[:len(good)-2],
		"other scheme":  strings.Replace(good, "sha256=", "sha1=", 1),
		"other body":    events.SignatureValue(secret, append([]byte(" "), body...)),
		"bare hex only": strings.TrimPrefix(good, "sha256="),
	}
	for name, sig := range cases {
		t.Run(name, func(t *testing.T) {
			code, a := post(t, e.url, body, sig)
			if code != http.StatusUnauthorized || a.OK || a.Error == "" {
				t.Fatalf("answer = %d %+v, want 401 with a message", code, a)
			}
			if strings.Contains(a.Error, secret) {
				t.Fatalf("the answer reveals the secret: %q", a.Error)
			}
		})
	}
	if _, found, _ := e.store.Get(context.Background(), "cust-42"); found {
		t.Fatal("an unsigned event changed a journey")
	}
	if len(e.rec.Sent()) != 0 {
		t.Fatal("an unsigned event sent messages")
	}
	// Upper-case hex is the same signature.
	if code, _ := post(t, e.url, body, "sha256="+strings.ToUpper(strings.TrimPrefix(good, "sha256="))); code != http.StatusOK {
		t.Fatalf("upper-case hex signature: HTTP %d, want 200", code)
	}
}

func TestMalformedBodiesAreRefusedNamingTheField(t *testing.T) {
	e := newEnv(t, "")
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		json.Unmarshal([]byte(orderCreated), &m)
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, body, field, msg string
	}{
		{"empty", "", "", "empty"},
		{"not json", `{"id": "e1",`, "", "not valid JSON"},
		{"array", `[1,2]`, "", "JSON object"},
		{"two values", orderCreated + orderCreated, "", "more than one JSON value"},
		{"no id", edit(func(m map[string]any) { delete(m, "id") }), "id", "required"},
		{"no type", edit(func(m map[string]any) { m["type"] = "" }), "type", "required"},
		{"bad type", edit(func(m map[string]any) { m["type"] = "Order Created" }), "type", "not an event type"},
		{"case type", edit(func(m map[string]any) { m["type"] = "case.resolved" }), "type", "reserved"},
		{"no customer", edit(func(m map[string]any) { delete(m, "customer") }), "customer", "required"},
		{"no customer id", edit(func(m map[string]any) { delete(m["customer"].(map[string]any), "id") }), "customer.id", "required"},
		{"customer id with space", edit(func(m map[string]any) { m["customer"].(map[string]any)["id"] = "a b" }), "customer.id", "spaces"},
		{"numeric customer id", edit(func(m map[string]any) { m["customer"].(map[string]any)["id"] = 42 }), "customer.id", "must be a string"},
		{"bad time zone", edit(func(m map[string]any) { m["customer"].(map[string]any)["time_zone"] = "Mars/Olympus" }), "customer.time_zone", "IANA"},
		{"bad telegram chat", edit(func(m map[string]any) { m["customer"].(map[string]any)["telegram_chat"] = "@ana" }), "customer.telegram_chat", "chat id"},
		{"bad whatsapp address", edit(func(m map[string]any) {
			m["customer"].(map[string]any)["addresses"] = map[string]any{"whatsapp": "ana"}
		}), "customer.addresses.whatsapp", "international digits"},
		{"bad channel name", edit(func(m map[string]any) { m["customer"].(map[string]any)["addresses"] = map[string]any{"Tele Gram": "1"} }), "customer.addresses", "channel name"},
		{"telegram twice, differently", edit(func(m map[string]any) {
			m["customer"].(map[string]any)["addresses"] = map[string]any{"telegram": "778"}
		}), "customer.telegram_chat", "differs"},
		{"bad email", edit(func(m map[string]any) { m["customer"].(map[string]any)["email"] = "ana" }), "customer.email", "e-mail"},
		{"order missing", edit(func(m map[string]any) { delete(m, "order") }), "order", "required for order.created"},
		{"order without id", edit(func(m map[string]any) { delete(m["order"].(map[string]any), "id") }), "order.id", "required"},
		{"total as text", edit(func(m map[string]any) { m["order"].(map[string]any)["total"] = "249,90" }), "order.total", "must be a number"},
		{"negative total", edit(func(m map[string]any) { m["order"].(map[string]any)["total"] = -1 }), "order.total", "negative"},
		{"bad currency", edit(func(m map[string]any) { m["order"].(map[string]any)["currency"] = "reais" }), "order.currency", "ISO 4217"},
		{"bad tracking url", edit(func(m map[string]any) { m["order"].(map[string]any)["tracking_url"] = "javascript:alert(1)" }), "order.tracking_url", "http(s) URL"},
		{"item without name", edit(func(m map[string]any) {
			m["order"].(map[string]any)["items"] = []any{map[string]any{"name": "ok"}, map[string]any{"sku": "X"}}
		}), "order.items[1].name", "required"},
		{"bad time", edit(func(m map[string]any) { m["occurred_at"] = "yesterday" }), "occurred_at", "RFC 3339"},
		{"future time", edit(func(m map[string]any) { m["occurred_at"] = "2026-03-05T10:00:00Z" }), "occurred_at", "future"},
		{"both times", edit(func(m map[string]any) { m["at"] = "2026-03-02T10:00:00Z" }), "at", "not both"},
		{"unknown field", edit(func(m map[string]any) { m["ammount"] = 3 }), "ammount", "unknown field"},
		{"unknown customer field", edit(func(m map[string]any) { m["customer"].(map[string]any)["nmae"] = "Ana" }), "customer.nmae", "unknown field"},
		{"unknown item field", edit(func(m map[string]any) {
			m["order"].(map[string]any)["items"] = []any{map[string]any{"name": "ok", "colour": "red"}}
		}), "order.items[0].colour", "unknown field"},
		{"nested data", edit(func(m map[string]any) { m["data"] = map[string]any{"plan": map[string]any{"x": 1}} }), "data.plan", "not an object"},
		{"20,000 data keys", edit(func(m map[string]any) {
			d := map[string]any{}
			for i := range 20000 {
				d[fmt.Sprintf("k%d", i)] = "v"
			}
			m["data"] = d
		}), "data", "at most 50"},
		{"data over 8 KiB", edit(func(m map[string]any) {
			d := map[string]any{}
			for i := range 40 {
				d[fmt.Sprintf("k%d", i)] = strings.Repeat("x", 400)
			}
			m["data"] = d
		}), "data", "at most 8192 bytes"},
		{"deep data", strings.Replace(orderCreated, `"id": "evt-1001"`, `"data": {"x": `+strings.Repeat("[", 9)+strings.Repeat("]", 9)+`}, "id": "evt-1001"`, 1), "", "at most 8"},
		{"100,000 deep", strings.Repeat("[", 100000), "", "100000 deep"},
		{"invalid UTF-8", strings.Replace(orderCreated, "Ana Souza", "Ana \xff\xfeSouza", 1), "", "not valid UTF-8"},
		{"negative points", edit(func(m map[string]any) { m["points"] = -5 }), "points", "negative"},
		{"coupon.redeemed without coupon", edit(func(m map[string]any) { m["type"] = "coupon.redeemed" }), "coupon", "required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, a := signed(t, e.url, []byte(c.body))
			t.Logf("400: %s", a.Error)
			if code != http.StatusBadRequest || a.OK {
				t.Fatalf("answer = %d %+v, want 400", code, a)
			}
			if a.Field != c.field || !strings.Contains(a.Error, c.msg) {
				t.Fatalf("answer = field %q, error %q; want field %q and a message with %q", a.Field, a.Error, c.field, c.msg)
			}
			if c.field != "" && !strings.HasPrefix(a.Error, c.field+": ") {
				t.Fatalf("error %q does not start with the field name %q", a.Error, c.field)
			}
		})
	}
	if len(e.rec.Sent()) != 0 {
		t.Fatal("a refused event sent messages")
	}
}

func TestBodyOverOneMiBIs413(t *testing.T) {
	e := newEnv(t, "")
	var m map[string]any
	json.Unmarshal([]byte(orderCreated), &m)
	m["data"] = map[string]any{"pad": strings.Repeat("x", events.MaxBody)}
	body, _ := json.Marshal(m)
	code, a := signed(t, e.url, body)
	if code != http.StatusRequestEntityTooLarge || a.OK {
		t.Fatalf("answer = %d %+v, want 413", code, a)
	}
	// Without Content-Length (chunked), the limit holds while reading.
	req, _ := http.NewRequest(http.MethodPost, e.url, struct{ *bytes.Reader }{bytes.NewReader(body)})
	req.Header.Set(events.SignatureHeader, events.SignatureValue(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body: HTTP %d, want 413", resp.StatusCode)
	}
}

func TestSameEventTwiceIsAppliedOnce(t *testing.T) {
	e := newEnv(t, "shop_bot")
	body := []byte(orderCreated)
	code1, a1 := signed(t, e.url, body)
	code2, a2 := signed(t, e.url, body)
	if code1 != http.StatusOK || code2 != http.StatusOK {
		t.Fatalf("HTTP %d then %d, want 200 both times", code1, code2)
	}
	if a1.Duplicate || !a2.Duplicate || !a2.OK {
		t.Fatalf("answers %+v then %+v, want the second marked duplicate", a1, a2)
	}
	if a2.TelegramLink == "" || a2.TelegramLink != a1.TelegramLink {
		t.Fatalf("the duplicate's deep link %q differs from %q", a2.TelegramLink, a1.TelegramLink)
	}
	// Another bot process (its own store and cache) sees the same event.
	b2, _, rec2 := newBot(t, e.r.Client, e.r.Prefix)
	srv2 := httptest.NewServer(events.NewHandler(b2, events.Options{Secret: secret}))
	defer srv2.Close()
	if code, a := signed(t, srv2.URL+"/events", body); code != http.StatusOK || !a.Duplicate {
		t.Fatalf("second process: %d %+v, want 200 duplicate", code, a)
	}
	if n := len(e.rec.Sent()) + len(rec2.Sent()); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
	h, err := e.store.History(context.Background(), "cust-42", 50)
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, l := range h {
		if l.From == "event" {
			events++
		}
	}
	if events != 1 {
		t.Fatalf("history has %d event lines, want 1: %+v", events, h)
	}
}

func TestEventsAreAppliedConcurrentlyOncePerID(t *testing.T) {
	e := newEnv(t, "")
	// 20 distinct shipping events, each posted 3 times at once.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		body := []byte(fmt.Sprintf(`{"id":"ship-%d","type":"order.shipped","occurred_at":"2026-03-02T14:00:00Z",
			"customer":{"id":"c%d","telegram_chat":"%d"},"order":{"id":"%d","tracking_url":"https://track.example/%d"}}`, i, i, 100+i, 5000+i, i))
		for k := 0; k < 3; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
				req.Header.Set(events.SignatureHeader, events.SignatureValue(secret, body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("HTTP %d", resp.StatusCode)
				}
			}()
		}
	}
	wg.Wait()
	if n := len(e.rec.Sent()); n != 20 {
		t.Fatalf("%d messages sent, want 20 (one per event)", n)
	}
}

func TestStoreFailureIs503WithoutDetails(t *testing.T) {
	r := redistest.New(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	dead.Close()
	b, _, _ := newBot(t, dead, r.Prefix)
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Secret: secret}))
	defer srv.Close()
	code, a := signed(t, srv.URL+"/events", []byte(orderCreated))
	if code != http.StatusServiceUnavailable || a.OK || !strings.Contains(a.Error, "retry") {
		t.Fatalf("answer = %d %+v, want 503 asking to retry", code, a)
	}
	if strings.Contains(a.Error, "127.0.0.1") || strings.Contains(a.Error, "closed") {
		t.Fatalf("the answer leaks internals: %q", a.Error)
	}
}

// A customer over events.customer_per_minute gets 429 with Retry-After, and
// nothing is applied; other customers are not held up.
func TestEventsOverTheCustomerLimitAre429(t *testing.T) {
	r := redistest.New(t)
	b, store, _ := newBot(t, r.Client, r.Prefix)
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Secret: secret, Now: func() time.Time { return now },
		PerCustomer: ratelimit.NewKeyed(r.Client, r.Prefix, "events", 1, 3)}))
	defer srv.Close()
	ev := func(customer string, n int) []byte {
		return []byte(fmt.Sprintf(`{"id":"ev-%s-%d","type":"review.posted","occurred_at":"2026-03-02T11:00:00Z","customer":{"id":%q}}`, customer, n, customer))
	}
	for i := range 3 {
		if code, a := signed(t, srv.URL, ev("cust-1", i)); code != 200 {
			t.Fatalf("event %d within the burst: %d %+v", i, code, a)
		}
	}
	body := ev("cust-1", 3)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header.Set(events.SignatureHeader, events.SignatureValue(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var a events.Answer
	json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(a.Error, "events.customer_per_minute") {
		t.Fatalf("over the limit: %d, Retry-After %q, %+v; want 429 with Retry-After, naming the key", resp.StatusCode, resp.Header.Get("Retry-After"), a)
	}
	h, _ := store.History(context.Background(), "cust-1", 50)
	if len(h) != 3 {
		t.Fatalf("%d events in the history, want the 3 allowed", len(h))
	}
	if code, _ := signed(t, srv.URL, ev("cust-2", 0)); code != 200 {
		t.Fatalf("another customer: %d", code)
	}
}
