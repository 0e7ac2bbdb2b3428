package events_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
	"journeybot/keys"
	"journeybot/ratelimit"
)

// secret is 32 random bytes in hex, as the configuration requires.
const secret = "5f0c1e9a7b3d4c2e8f6a1b0d9c7e5a3f2b4d6c8e0a1f3b5d7c9e2a4b6d8f0c1e"

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
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Keys: keys.New(secret), BotUsername: username, Now: func() time.Time { return now }}))
	t.Cleanup(srv.Close)
	return &env{r: r, store: store, bot: b, rec: rec, url: srv.URL + "/events"}
}

// sign returns the headers of body signed with secret at ts.
func sign(secret string, ts time.Time, body []byte) map[string]string {
	return map[string]string{
		events.TimestampHeader: fmt.Sprint(ts.Unix()),
		events.SignatureHeader: events.SignatureValue(secret, ts.Unix(), body),
	}
}

// post sends body with the given headers.
func post(t *testing.T, url string, body []byte, h map[string]string) (int, events.Answer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
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
	return post(t, url, body, sign(secret, now, body))
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
	kind, id, ok := bot.VerifyPayload(keys.New(secret), payload, time.Now())
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
	good := sign(secret, now, body)
	with := func(k, v string) map[string]string {
		h := map[string]string{events.TimestampHeader: good[events.TimestampHeader], events.SignatureHeader: good[events.SignatureHeader]}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	sig := good[events.SignatureHeader]
	cases := map[string]map[string]string{
		"missing":              with(events.SignatureHeader, ""),
		"no timestamp":         with(events.TimestampHeader, ""),
		"other secret":         sign("0000000000000000000000000000000000000000000000000000000000000001", now, body),
		"not hex":              with(events.SignatureHeader, "v1="+strings.Repeat("zz", 32)),
		"short":                with(events.SignatureHeader, sig[:len(sig)-2]),
		"other scheme":         with(events.SignatureHeader, strings.Replace(sig, "v1=", "sha1=", 1)),
		"other body":           sign(secret, now, append([]byte(" "), body...)),
		"bare hex only":        with(events.SignatureHeader, strings.TrimPrefix(sig, "v1=")),
		"timestamp changed":    with(events.TimestampHeader, fmt.Sprint(now.Unix()+1)),
		"signed 6 min ago":     sign(secret, now.Add(-6*time.Minute), body),
		"signed 6 min ahead":   sign(secret, now.Add(6*time.Minute), body),
		"raw secret as key":    with(events.SignatureHeader, "v1="+hexHMAC([]byte(secret), fmt.Sprint(now.Unix())+"."+string(body))),
		"legacy form when off": {events.SignatureHeader: events.LegacySignatureValue(secret, body)},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			code, a := post(t, e.url, body, h)
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
	// Within the window, and upper-case hex, is the same signature.
	if code, a := post(t, e.url, body, sign(secret, now.Add(-4*time.Minute), body)); code != http.StatusOK {
		t.Fatalf("signed 4 minutes ago: %d %+v, want 200", code, a)
	}
	if code, _ := post(t, e.url, body, with(events.SignatureHeader, "v1="+strings.ToUpper(strings.TrimPrefix(sig, "v1=")))); code != http.StatusOK {
		t.Fatalf("upper-case hex signature: HTTP %d, want 200", code)
	}
}

func hexHMAC(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// The body-only form is accepted only when the operator says so.
func TestLegacySignatureOnlyWhenEnabled(t *testing.T) {
	r := redistest.New(t)
	b, store, _ := newBot(t, r.Client, r.Prefix)
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Keys: keys.New(secret), LegacySignature: true, Now: func() time.Time { return now }}))
	defer srv.Close()
	body := []byte(orderCreated)
	if code, a := post(t, srv.URL, body, map[string]string{events.SignatureHeader: events.LegacySignatureValue(secret, body)}); code != http.StatusOK || !a.OK {
		t.Fatalf("legacy signature with events.legacy_signature: %d %+v, want 200", code, a)
	}
	if code, _ := post(t, srv.URL, body, map[string]string{events.SignatureHeader: events.LegacySignatureValue("0000000000000000000000000000000000000000000000000000000000000001", body)}); code != http.StatusUnauthorized {
		t.Fatalf("legacy signature under another secret: HTTP %d, want 401", code)
	}
	if _, found, _ := store.Get(context.Background(), "cust-42"); !found {
		t.Fatal("the legacy-signed event was not applied")
	}
	// Without a timestamp, bytes older than the id memory could be replayed
	// once their id is forgotten: such an event is refused, and so is one
	// that does not say when it happened.
	old := []byte(strings.Replace(orderCreated, `"2026-03-02T11:58:00-03:00"`, `"2026-02-27T11:58:00-03:00"`, 1))
	if code, a := post(t, srv.URL, old, map[string]string{events.SignatureHeader: events.LegacySignatureValue(secret, old)}); code != http.StatusBadRequest || a.Field != "occurred_at" {
		t.Fatalf("legacy-signed event from 3 days ago: %d %+v, want 400 on occurred_at", code, a)
	}
	untimed := []byte(strings.Replace(orderCreated, `"occurred_at": "2026-03-02T11:58:00-03:00",`, ``, 1))
	if code, a := post(t, srv.URL, untimed, map[string]string{events.SignatureHeader: events.LegacySignatureValue(secret, untimed)}); code != http.StatusBadRequest || a.Field != "occurred_at" {
		t.Fatalf("legacy-signed event without occurred_at: %d %+v, want 400 on occurred_at", code, a)
	}
}

// events.secret is a list: a store still on the old secret is accepted
// while the new one rolls out, and deep links of either verify.
func TestSecretRotation(t *testing.T) {
	const newSecret = "9a8b7c6d5e4f30211203948576afbecd9a8b7c6d5e4f30211203948576afbecd"
	r := redistest.New(t)
	b, _, _ := newBot(t, r.Client, r.Prefix)
	ks := keys.New(newSecret, secret)
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Keys: ks, BotUsername: "shop_bot", Now: func() time.Time { return now }}))
	defer srv.Close()
	body := []byte(orderCreated)
	if code, a := post(t, srv.URL, body, sign(secret, now, body)); code != http.StatusOK {
		t.Fatalf("old secret during rotation: %d %+v, want 200", code, a)
	}
	code, a := post(t, srv.URL, body, sign(newSecret, now, body))
	if code != http.StatusOK || !a.Duplicate {
		t.Fatalf("new secret: %d %+v, want 200 duplicate", code, a)
	}
	p := strings.TrimPrefix(a.TelegramLink, "https://t.me/shop_bot?start=")
	if _, _, ok := bot.VerifyPayload(keys.New(newSecret), p, time.Now()); !ok {
		t.Fatal("the deep link is not signed with the newest secret")
	}
	old, _ := bot.SignPayload(keys.New(secret), 'o', "1001")
	if _, _, ok := bot.VerifyPayload(ks, old, time.Now()); !ok {
		t.Fatal("a deep link of the old secret no longer verifies during rotation")
	}
	if _, _, ok := bot.VerifyPayload(keys.New(newSecret), old, time.Now()); ok {
		t.Fatal("a deep link of a removed secret still verifies")
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
	events.SignRequest(req, secret, now, body)
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
	srv2 := httptest.NewServer(events.NewHandler(b2, events.Options{Keys: keys.New(secret), Now: func() time.Time { return now }}))
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
				events.SignRequest(req, secret, now, body)
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
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Keys: keys.New(secret), Now: func() time.Time { return now }}))
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
	srv := httptest.NewServer(events.NewHandler(b, events.Options{Keys: keys.New(secret), Now: func() time.Time { return now },
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
	events.SignRequest(req, secret, now, body)
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
