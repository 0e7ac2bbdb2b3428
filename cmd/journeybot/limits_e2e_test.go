package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"journeybot/events"
	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
)

// The real binary limits each client address on every public endpoint
// (429 with Retry-After once its burst is spent) and each customer on
// POST /events, while other addresses, other customers and the probes go on.
func TestRunLimitsAddressesAndCustomers(t *testing.T) {
	r := redistest.New(t)
	srv := telegramtest.New(t)
	scripts, _ := filepath.Abs("../../scripts")
	addr := freeAddr(t)
	const secret = eventsSecret
	start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + srv.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + srv.URL,
		"JOURNEYBOT_TELEGRAM_MODE=webhook", "JOURNEYBOT_TELEGRAM_WEBHOOK_SECRET=limits_secret",
		"JOURNEYBOT_TELEGRAM_WEBHOOK_URL=http://" + addr + "/telegram/webhook",
		"JOURNEYBOT_EVENTS_SECRET=" + secret,
		// One token an hour after the burst: the test never sees one come back.
		"JOURNEYBOT_HTTP_IP_RATE=0.0003", "JOURNEYBOT_HTTP_IP_BURST=4",
		"JOURNEYBOT_EVENTS_CUSTOMER_PER_MINUTE=1", "JOURNEYBOT_EVENTS_CUSTOMER_BURST=2",
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	srv.WaitCalls("setWebhook", 1)
	post := func(path, from, body string, signed bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", from) // the test is the reverse proxy on loopback
		if signed {
			events.SignRequest(req, secret, time.Now(), []byte(body))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// One address spends its burst of 4 over both endpoints, then gets 429.
	for _, path := range []string{"/telegram/webhook", "/events", "/telegram/webhook", "/events"} {
		if resp := post(path, "198.51.100.1", "{}", false); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s within the burst: %d, want 401 (unsigned)", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/telegram/webhook", "/events", "/slack/events", "/whatsapp/webhook"} {
		resp := post(path, "198.51.100.1", "{}", false)
		if s, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || s < 1 {
			t.Fatalf("%s over the burst: %d, Retry-After %q; want 429 with whole seconds", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if code, _ := get(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("/healthz during a flood: %d", code)
	}
	// A customer over its event limit: 429, from any address.
	ev := func(customer string, n int) string {
		return fmt.Sprintf(`{"id":"lim-%s-%d","type":"review.posted","customer":{"id":%q}}`, customer, n, customer)
	}
	for i := range 2 {
		if resp := post("/events", fmt.Sprint("198.51.100.", 10+i), ev("cust-lim", i), true); resp.StatusCode != 200 {
			t.Fatalf("event %d of the customer: %d", i, resp.StatusCode)
		}
	}
	if resp := post("/events", "198.51.100.20", ev("cust-lim", 2), true); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the customer's third event: %d, want 429 with Retry-After", resp.StatusCode)
	}
	if resp := post("/events", "198.51.100.21", ev("cust-other", 0), true); resp.StatusCode != 200 {
		t.Fatalf("another customer's event: %d", resp.StatusCode)
	}
}
