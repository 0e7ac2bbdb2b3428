package ratelimit_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/ratelimit"
)

// Two limiters (two processes) with many goroutines each never let more than
// the rate through in any one-second window: at a low rate (permits one by
// one) and a high one (a few at a time).
func TestNeverOverTheRateAcrossProcesses(t *testing.T) {
	for _, rate := range []int{20, 400} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, r *redistest.Redis) { neverOver(t, r, rate) })
		})
	}
}

func neverOver(t *testing.T, r *redistest.Redis, rate int) {
	limiters := []*ratelimit.Limiter{ratelimit.New(r.Client, r.Prefix), ratelimit.New(r.Client, r.Prefix)}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	var times []time.Time
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(l *ratelimit.Limiter) {
			defer wg.Done()
			for l.Wait(ctx, "tg", float64(rate)) == nil {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
		}(limiters[i%2])
	}
	wg.Wait()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) < rate {
		t.Fatalf("only %d permits in 2.5s at %d/s", len(times), rate)
	}
	t.Logf("%d permits in 2.5 s at %d/s", len(times), rate)
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		if n > rate {
			t.Fatalf("%d permits in the second from %s, rate %d", n, times[i].Format("15:04:05.000"), rate)
		}
	}
}

// Names are independent: a busy one never holds up another.
func TestNamesAreIndependent(t *testing.T) { redistest.Each(t, testNamesAreIndependent) }

func testNamesAreIndependent(t *testing.T, r *redistest.Redis) {
	l := ratelimit.New(r.Client, r.Prefix)
	ctx := context.Background()
	if err := l.Wait(ctx, "chat:1", 0.1); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := l.Wait(wctx, "chat:1", 0.1); err == nil {
		t.Fatalf("a second permit at 0.1/s came within 200ms")
	}
	if err := l.Wait(ctx, "chat:2", 0.1); err != nil {
		t.Fatalf("another name waited: %v", err)
	}
}

// A high rate is split over several keys (not one hot slot in a cluster);
// a low one keeps a single key.
func TestHighRatesAreSharded(t *testing.T) { redistest.Each(t, testHighRatesAreSharded) }

func testHighRatesAreSharded(t *testing.T, r *redistest.Redis) {
	l := ratelimit.New(r.Client, r.Prefix)
	ctx := context.Background()
	for range 40 {
		if err := l.Wait(ctx, "tg", 1000); err != nil {
			t.Fatal(err)
		}
		if err := l.Wait(ctx, "wa", 80); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(key string) bool { n, _ := r.Client.Exists(ctx, "rate:"+r.Prefix+":"+key).Result(); return n == 1 }
	for i := range ratelimit.Shards(1000) {
		if !exists(fmt.Sprintf("tg:%d", i)) {
			t.Fatalf("shard %d of the 1000/s limiter unused after 40 permits", i)
		}
	}
	if ratelimit.Shards(1000) != 8 || !exists("wa") || exists("wa:0") {
		t.Fatalf("shards(1000) = %d; 80/s keeps one key: %v", ratelimit.Shards(1000), exists("wa"))
	}
}
