// Package redistest gives tests a Redis: the real server named by
// JOURNEYBOT_TEST_REDIS_URL (CI sets it), or an embedded miniredis when it is
// unset, so `make test` passes on a machine without Redis too.
package redistest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable with the test Redis URL.
const EnvURL = "JOURNEYBOT_TEST_REDIS_URL"

var seq atomic.Int64

// Redis is a test's connection plus a key prefix of its own.
type Redis struct {
	Client redis.UniversalClient
	// Prefix is unique to the test; keys under it are deleted at cleanup.
	Prefix string
	// URL is what a child process (the real binary) should use.
	URL string
	// Real is true when a real server (not miniredis) is used.
	Real bool
}

// New returns a Redis for t and removes the test's keys when it ends.
func New(t testing.TB) *Redis {
	t.Helper()
	prefix := fmt.Sprintf("jbtest%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
	url := os.Getenv(EnvURL)
	if url == "" {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			t.Fatalf("start miniredis: %v", err)
		}
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		// miniredis expires keys only when told time passed: tell it, so
		// TTLs (leases) run out as they do on a server.
		stop := make(chan struct{})
		go func() {
			tk := time.NewTicker(20 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					m.FastForward(20 * time.Millisecond)
				}
			}
		}()
		t.Cleanup(func() { close(stop); c.Close(); m.Close() })
		return &Redis{Client: c, Prefix: prefix, URL: "redis://" + m.Addr()}
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("test redis at %s: %v", opt.Addr, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			c.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
		c.Close()
	})
	return &Redis{Client: c, Prefix: prefix, URL: url, Real: true}
}
