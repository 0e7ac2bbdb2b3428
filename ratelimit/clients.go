package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Clients limits the requests of each client address, in this process: a
// token bucket per address (perSecond, bursts of burst), the addresses kept
// in a bounded LRU so a flood from many addresses cannot grow memory
// without end. A flood from one address is answered 429 before any work
// (no body read, no signature checked), so other clients do not wait
// behind it. Safe for concurrent use.
type Clients struct {
	perSecond rate.Limit
	burst     int
	mu        sync.Mutex
	buckets   *lru.Cache[string, *rate.Limiter]
	now       func() time.Time
}

// ClientsTracked bounds the addresses a Clients remembers.
const ClientsTracked = 65536

// NewClients returns a per-address limiter; perSecond <= 0 lets everything through.
func NewClients(perSecond float64, burst int) *Clients {
	c, _ := lru.New[string, *rate.Limiter](ClientsTracked)
	return &Clients{perSecond: rate.Limit(perSecond), burst: max(burst, 1), buckets: c, now: time.Now}
}

// Allow takes a token of addr's bucket; when there is none it says how long
// until there is.
func (c *Clients) Allow(addr string) (bool, time.Duration) {
	if c.perSecond <= 0 {
		return true, 0
	}
	c.mu.Lock()
	b, ok := c.buckets.Get(addr)
	if !ok {
		b = rate.NewLimiter(c.perSecond, c.burst)
		c.buckets.Add(addr, b)
	}
	c.mu.Unlock()
	now := c.now()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Limit wraps next: a request over its address's limit gets 429 with
// Retry-After (whole seconds, at least 1), except the paths in exempt
// (health checks an operator's probe calls often).
func (c *Clients) Limit(next http.Handler, exempt ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range exempt {
			if r.URL.Path == p {
				next.ServeHTTP(w, r)
				return
			}
		}
		if ok, wait := c.Allow(ClientAddr(r)); !ok {
			TooMany(w, wait, "too many requests from this address")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TooMany answers 429 with Retry-After: wait rounded up to whole seconds.
func TooMany(w http.ResponseWriter, wait time.Duration, what string) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, fmt.Sprintf("%s: retry after %d s", what, secs), http.StatusTooManyRequests)
}

// ClientAddr is the address a request comes from: the peer's IP, or, when
// the peer is on loopback (the reverse proxy in front of the bot, as the
// README recommends), the last address the proxy added to X-Forwarded-For.
// A client far away cannot pick its own address: only the proxy's last
// entry is read.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if fwd := net.ParseIP(strings.TrimSpace(last)); fwd != nil {
				return fwd.String()
			}
		}
	}
	return host
}

// Keyed limits events per key (a customer) for all processes together:
// GCRA in Redis (go-redis/redis_rate), perMinute a minute in bursts of
// burst. Keys are rate:PREFIX:NAME:KEY, so in Redis Cluster they spread
// over slots with the keys.
type Keyed struct {
	rl     *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
}

// NewKeyed returns a per-key limiter under prefix:name; perMinute <= 0
// lets everything through.
func NewKeyed(rdb redis.UniversalClient, prefix, name string, perMinute, burst int) *Keyed {
	return &Keyed{rl: redis_rate.NewLimiter(rdb), prefix: prefix + ":" + name + ":",
		limit: redis_rate.Limit{Rate: perMinute, Burst: max(burst, 1), Period: time.Minute}}
}

// Allow counts one event of key; when key is over its limit it returns
// false and how long until the next is allowed.
func (k *Keyed) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if k == nil || k.limit.Rate <= 0 {
		return true, 0, nil
	}
	res, err := k.rl.Allow(ctx, k.prefix+key, k.limit)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", k.prefix, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}
