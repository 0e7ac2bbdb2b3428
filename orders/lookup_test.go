package orders_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"journeybot/orders"
)

const token = "s3cr3t-lookup-token"

// service is a loopback order service: it knows order 1234, counts
// requests, and checks the credentials it was given.
type service struct {
	*httptest.Server
	hits   atomic.Int64
	status atomic.Int64 // forced status when not 0
	block  chan struct{}
	paths  sync.Map
}

func newService(t *testing.T) *service {
	s := &service{block: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.paths.Store(r.URL.EscapedPath(), true)
		if u, p, ok := r.BasicAuth(); ok && (u != "shop" || p != "pa55word") {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("token") != token {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if code := s.status.Load(); code != 0 {
			http.Error(w, "boom", int(code))
			return
		}
		switch r.URL.Path {
		case "/api/orders/1234":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"1234","status":"shipped","total":99.5,"currency":"brl","tracking_url":"https://track.example/AB1","email":"ana@example.com",
				"items":[{"name":"Garrafa Térmica","sku":"GARRAFA-01","qty":2,"price":49.75}],"created_at":"2026-03-01T10:00:00-03:00"}`)
		case "/api/orders/5555":
			fmt.Fprint(w, `{"order":{"status":"paid"}}`) // wrapped, no id
		case "/api/orders/5556":
			fmt.Fprint(w, `{"order":{"id":"5556","status":"paid"}}`) // wrapped
		case "/api/orders/3030":
			http.Redirect(w, r, "/api/orders/1234?token="+token, http.StatusFound)
		case "/api/orders", "/api/orders/":
			fmt.Fprint(w, `{"status":"paid","orders":[]}`) // the collection, as a path-cleaning service serves ".."
		case "/api/orders/6666":
			fmt.Fprint(w, `{"id":"7777","status":"paid"}`) // about another order
		case "/api/orders/8888":
			fmt.Fprint(w, `<html>not json</html>`)
		case "/api/orders/slow":
			select {
			case <-r.Context().Done():
			case <-s.block:
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { close(s.block); s.Close() })
	return s
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time         { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration)    { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                  { return &clock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)} }
func (s *service) base() string         { return s.URL + "/api/orders?token=" + token }
func (s *service) saw(path string) bool { _, ok := s.paths.Load(path); return ok }
func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestLookupFindsAnOrder(t *testing.T) {
	s := newService(t)
	l, err := orders.New(s.base(), orders.Options{Timeout: 5 * time.Second, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	o, err := l.Lookup(context.Background(), "1234")
	if err != nil {
		t.Fatal(err)
	}
	if o == nil || o.ID != "1234" || o.Status != "shipped" || o.Total != 99.5 || o.Currency != "BRL" ||
		o.TrackingURL != "https://track.example/AB1" || len(o.Items) != 1 || o.Items[0].Qty != 2 || o.Created == 0 {
		t.Fatalf("order = %+v", o)
	}
	w, err := l.Lookup(context.Background(), "5556")
	if err != nil || w == nil || w.ID != "5556" || w.Status != "paid" {
		t.Fatalf("wrapped answer: %+v, %v; want order 5556 paid", w, err)
	}
}

func TestUnknownOrderIsNil(t *testing.T) {
	s := newService(t)
	l, _ := orders.New(s.base(), orders.Options{CacheTTL: time.Minute})
	o, err := l.Lookup(context.Background(), "4040")
	if err != nil || o != nil {
		t.Fatalf("unknown order: %+v, %v; want nil, nil", o, err)
	}
}

func TestAnswersAreCachedForTheTTL(t *testing.T) {
	s := newService(t)
	clk := newClock()
	l, _ := orders.New(s.base(), orders.Options{CacheTTL: time.Minute, Now: clk.now})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		o, err := l.Lookup(ctx, "1234")
		if err != nil || o == nil {
			t.Fatalf("lookup %d: %+v, %v", i, o, err)
		}
		o.Items[0].Name = "changed by the caller" // must not reach the cache
		if o, _ := l.Lookup(ctx, "4040"); o != nil {
			t.Fatal("unknown order became known")
		}
	}
	if n := s.hits.Load(); n != 2 {
		t.Fatalf("%d requests for 3 lookups of 2 orders, want 2 (cached, 404 included)", n)
	}
	if o, _ := l.Lookup(ctx, "1234"); o.Items[0].Name != "Garrafa Térmica" {
		t.Fatalf("cached order was changed through a returned copy: %q", o.Items[0].Name)
	}
	clk.add(time.Minute)
	if _, err := l.Lookup(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	if n := s.hits.Load(); n != 3 {
		t.Fatalf("%d requests after the TTL, want 3 (asked again)", n)
	}
}

func TestFailuresAreErrorsAndNotCached(t *testing.T) {
	s := newService(t)
	l, _ := orders.New(s.base(), orders.Options{CacheTTL: time.Minute})
	ctx := context.Background()
	s.status.Store(http.StatusBadGateway)
	if o, err := l.Lookup(ctx, "1234"); err == nil || o != nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("502: %+v, %v; want an error naming the status", o, err)
	}
	s.status.Store(0)
	if o, err := l.Lookup(ctx, "1234"); err != nil || o == nil {
		t.Fatalf("after the service recovered: %+v, %v", o, err)
	}
	if _, err := l.Lookup(ctx, "6666"); err == nil || !strings.Contains(err.Error(), "order 7777") {
		t.Fatalf("answer about another order: %v; want an error", err)
	}
	if _, err := l.Lookup(ctx, "8888"); err == nil || !strings.Contains(err.Error(), "not an order in JSON") {
		t.Fatalf("HTML answer: %v; want an error", err)
	}
}

func TestTimeout(t *testing.T) {
	s := newService(t)
	l, _ := orders.New(s.base(), orders.Options{Timeout: 50 * time.Millisecond})
	_, err := l.Lookup(context.Background(), "slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow service: %v; want a deadline error", err)
	}
}

// Only ids of the order-id rule reach the service; its answer must be
// about the order asked for, and a redirect is not followed.
func TestOnlyOrderIDsAreLookedUpAndAnswersMustMatch(t *testing.T) {
	s := newService(t)
	l, _ := orders.New(s.base(), orders.Options{})
	ctx := context.Background()
	for _, id := range []string{"..", ".", "../admin?x=1", "a/b", "#1234", "12%2F34", "-1", "", strings.Repeat("9", 65)} {
		if o, err := l.Lookup(ctx, id); err != nil || o != nil {
			t.Fatalf("id %q: %+v, %v; want nil, nil", id, o, err)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Fatalf("%d requests for ids outside the rule, want none", n)
	}
	if o, err := l.Lookup(ctx, "5555"); err == nil || o != nil || !strings.Contains(err.Error(), "no order id") {
		t.Fatalf("answer without an id: %+v, %v; want an error", o, err)
	}
	if o, err := l.Lookup(ctx, "3030"); err == nil || o != nil || !strings.Contains(err.Error(), "HTTP 302") {
		t.Fatalf("redirect: %+v, %v; want an error, not the order it points to", o, err)
	}
	if s.saw("/api/orders/1234") {
		t.Fatal("the redirect was followed")
	}
}

func TestCredentialsNeverInErrorsOrLogs(t *testing.T) {
	s := newService(t)
	var logs bytes.Buffer
	// user:password in the URL goes out as basic auth; the token in the query.
	base := strings.Replace(s.base(), "http://", "http://shop:pa55word@", 1)
	l, err := orders.New(base, orders.Options{Log: logTo(&logs), Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	s.status.Store(http.StatusInternalServerError)
	if _, err := l.Lookup(context.Background(), "1234"); err != nil {
		errs = append(errs, err.Error())
	}
	s.status.Store(0)
	if _, err := l.Lookup(context.Background(), "slow"); err != nil {
		errs = append(errs, err.Error())
	}
	// A service that is down: the transport's error names the URL.
	down, _ := orders.New("http://shop:pa55word@127.0.0.1:1/orders?token="+token, orders.Options{Log: logTo(&logs)})
	if _, err := down.Lookup(context.Background(), "1234"); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) != 3 {
		t.Fatalf("errors = %q, want 3", errs)
	}
	all := strings.Join(errs, "\n") + logs.String()
	for _, secret := range []string{token, "pa55word"} {
		if strings.Contains(all, secret) {
			t.Fatalf("a credential appears in errors or logs:\n%s", all)
		}
	}
	if _, err := orders.New("ftp://example.com/orders", orders.Options{}); err == nil {
		t.Fatal("a non-http URL was accepted")
	}
}
