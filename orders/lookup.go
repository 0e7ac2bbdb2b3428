// Package orders asks the store's order service about orders the journeys
// do not hold yet (orders.lookup_url), for stores that keep orders elsewhere
// than in the events they send.
package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"journeybot/events"
	"journeybot/journey"
)

// Options configure a Lookup.
type Options struct {
	Timeout  time.Duration // per request (orders.lookup_timeout); default 3s
	CacheTTL time.Duration // how long answers are reused (orders.cache_ttl); 0 disables the cache
	// CacheSize bounds the cache; default 10000 orders.
	CacheSize int
	Client    *http.Client
	Log       *slog.Logger
	Now       func() time.Time
}

// Lookup implements bot.OrderLookup with GET {lookup_url}/{id}.
type Lookup struct {
	base *url.URL
	safe string // the URL without credentials or query, for messages
	opt  Options

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	o       *journey.Order // nil: the service does not know the order
	expires time.Time
}

// maxResponse bounds what the service may send back.
const maxResponse = 1 << 20

// New returns a lookup for rawURL (http or https). Credentials may be in the
// URL (https://user:pass@host/orders, or ?token=...): they are sent, never logged.
func New(rawURL string, o Options) (*Lookup, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("orders.lookup_url is not an http(s) URL")
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	// A redirect is not followed: the service's answer is the order or an
	// error, never another URL's document (with the credentials sent on).
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Lookup{base: u, safe: u.Scheme + "://" + u.Host + u.EscapedPath(), opt: o, cache: map[string]entry{}}, nil
}

// Lookup returns the order with id, or nil (and no error) when the service
// answers 404. Answers, 404s included, are cached for CacheTTL; failures are
// not. Only ids of the order-id rule (journey.LookupableOrderID) are asked
// about, as the caller normalised them (journey.NormalizeOrderID); any other
// id is unknown without a request.
func (l *Lookup) Lookup(ctx context.Context, id string) (*journey.Order, error) {
	if !journey.LookupableOrderID(id) {
		return nil, nil
	}
	if o, ok := l.cached(id); ok {
		return o, nil
	}
	o, err := l.fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	l.store(id, o)
	return clone(o), nil
}

func (l *Lookup) target(id string) string {
	u := *l.base
	u.Path = strings.TrimSuffix(l.base.Path, "/") + "/" + id
	u.RawPath = strings.TrimSuffix(l.base.EscapedPath(), "/") + "/" + url.PathEscape(id)
	return u.String()
}

func (l *Lookup) fetch(ctx context.Context, id string) (*journey.Order, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.target(id), nil)
	if err != nil {
		return nil, fmt.Errorf("order lookup %s: %w", id, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "journeybot")
	start := time.Now()
	resp, err := l.opt.Client.Do(req)
	if err != nil {
		// url.Error repeats the whole URL, query tokens included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("order lookup %s at %s: %w", id, l.safe, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	l.opt.Log.Debug("order lookup", "order", id, "status", resp.StatusCode, "took", time.Since(start))
	switch {
	case err != nil:
		return nil, fmt.Errorf("order lookup %s at %s: read: %w", id, l.safe, err)
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("order lookup %s at %s: HTTP %d", id, l.safe, resp.StatusCode)
	case len(body) > maxResponse:
		return nil, fmt.Errorf("order lookup %s at %s: answer larger than 1 MiB", id, l.safe)
	}
	o, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("order lookup %s at %s: %w", id, l.safe, err)
	}
	if strings.TrimSpace(o.ID) == "" {
		return nil, fmt.Errorf("order lookup %s at %s: the answer has no order id", id, l.safe)
	}
	jo, err := o.ToJourney("order")
	if err != nil {
		return nil, fmt.Errorf("order lookup %s at %s: %w", id, l.safe, err)
	}
	if jo.ID != id {
		return nil, fmt.Errorf("order lookup %s at %s: the answer is about order %s", id, l.safe, jo.ID)
	}
	return &jo, nil
}

// decode reads the order, bare or wrapped as {"order": {...}}.
func decode(body []byte) (*events.Order, error) {
	var wrapped struct {
		Order *events.Order `json:"order"`
	}
	if json.Unmarshal(body, &wrapped) == nil && wrapped.Order != nil {
		return wrapped.Order, nil
	}
	var o events.Order
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("answer is not an order in JSON: %w", err)
	}
	return &o, nil
}

func (l *Lookup) cached(id string) (*journey.Order, bool) {
	if l.opt.CacheTTL <= 0 {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[id]
	if !ok || !l.opt.Now().Before(e.expires) {
		return nil, false
	}
	return clone(e.o), true
}

func (l *Lookup) store(id string, o *journey.Order) {
	if l.opt.CacheTTL <= 0 {
		return
	}
	now := l.opt.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache) >= l.opt.CacheSize {
		for k, e := range l.cache {
			if !now.Before(e.expires) {
				delete(l.cache, k)
			}
		}
		// Still full of fresh answers: forget an arbitrary one.
		for k := range l.cache {
			if len(l.cache) < l.opt.CacheSize {
				break
			}
			delete(l.cache, k)
		}
	}
	l.cache[id] = entry{o: o, expires: now.Add(l.opt.CacheTTL)}
}

// clone keeps callers from changing a cached order.
func clone(o *journey.Order) *journey.Order {
	if o == nil {
		return nil
	}
	c := *o
	c.Items = slices.Clone(o.Items)
	return &c
}
