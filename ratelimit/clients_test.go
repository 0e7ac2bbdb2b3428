package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/ratelimit"
)

func TestClientAddr(t *testing.T) {
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"direct client cannot pick its address", "203.0.113.7:5000", []string{"10.0.0.1"}, "203.0.113.7"},
		{"behind a proxy on loopback", "127.0.0.1:5000", []string{"198.51.100.2"}, "198.51.100.2"},
		{"the proxy's entry is the last", "127.0.0.1:5000", []string{"1.1.1.1, 198.51.100.2"}, "198.51.100.2"},
		{"last header line", "[::1]:5000", []string{"1.1.1.1", "198.51.100.3"}, "198.51.100.3"},
		{"garbage forwarded", "127.0.0.1:5000", []string{"not-an-ip"}, "127.0.0.1"},
		{"loopback, no proxy header", "127.0.0.1:5000", nil, "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/events", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ratelimit.ClientAddr(r); got != c.want {
				t.Fatalf("ClientAddr = %q, want %q", got, c.want)
			}
		})
	}
}

// One address over its burst gets 429 with Retry-After; another address and
// the exempt probes are served meanwhile.
func TestClientsLimitEachAddress(t *testing.T) {
	served := 0
	// One token an hour after the burst: none comes back during the test.
	h := ratelimit.NewClients(1.0/3600, 3).Limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }), "/healthz")
	do := func(path, from string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", from)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := do("/events", "198.51.100.1"); w.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w := do("/events", "198.51.100.1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("over the burst: %d, want 429", w.Code)
	}
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q, want whole seconds >= 1", w.Header().Get("Retry-After"))
	}
	if w := do("/events", "198.51.100.2"); w.Code != 200 {
		t.Fatalf("another address: %d", w.Code)
	}
	if w := do("/healthz", "198.51.100.1"); w.Code != 200 {
		t.Fatalf("an exempt path: %d", w.Code)
	}
	if served != 5 {
		t.Fatalf("%d requests reached the handler, want 5", served)
	}
	// Off: everything through.
	off := ratelimit.NewClients(0, 1)
	for range 100 {
		if ok, _ := off.Allow("x"); !ok {
			t.Fatal("a limiter with rate 0 refused")
		}
	}
}

// Addresses beyond the tracked bound push out the oldest: memory stays
// bounded under a flood from many addresses.
func TestClientsStayBounded(t *testing.T) {
	c := ratelimit.NewClients(1.0/3600, 1)
	if ok, _ := c.Allow("first"); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := c.Allow("first"); ok {
		t.Fatal("second request allowed at 1/h, burst 1")
	}
	for i := range ratelimit.ClientsTracked {
		c.Allow(fmt.Sprint("a", i))
	}
	// "first" was forgotten: it starts with a full bucket again.
	if ok, _ := c.Allow("first"); !ok {
		t.Fatal("the oldest address was not forgotten")
	}
}

// A key over its limit is refused with the time to wait, in every process;
// other keys are not affected.
func TestKeyedLimitsEachKeyAcrossProcesses(t *testing.T) {
	redistest.Each(t, testKeyedLimitsEachKeyAcrossProcesses)
}

func testKeyedLimitsEachKeyAcrossProcesses(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	a := ratelimit.NewKeyed(r.Client, r.Prefix, "events", 1, 4)
	b := ratelimit.NewKeyed(r.Client, r.Prefix, "events", 1, 4)
	for i := range 4 {
		l := []*ratelimit.Keyed{a, b}[i%2]
		if ok, _, err := l.Allow(ctx, "cust-1"); !ok || err != nil {
			t.Fatalf("event %d within the burst: %v %v", i, ok, err)
		}
	}
	ok, wait, err := b.Allow(ctx, "cust-1")
	if ok || err != nil || wait <= 0 || wait > time.Minute {
		t.Fatalf("over the burst: allowed %v, wait %v, %v; want refused with a wait of at most a minute at 1/min", ok, wait, err)
	}
	if ok, _, _ := a.Allow(ctx, "cust-2"); !ok {
		t.Fatal("another customer refused")
	}
	if ok, _, _ := ratelimit.NewKeyed(r.Client, r.Prefix, "x", 0, 1).Allow(ctx, "k"); !ok {
		t.Fatal("a limit of 0 refused")
	}
}
