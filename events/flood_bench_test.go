package events_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"journeybot/events"
	"journeybot/internal/redistest"
	"journeybot/keys"
	"journeybot/ratelimit"
)

// BenchmarkFloodFromOneAddress measures what a flood of signed events from
// one address does to other clients of POST /events: each iteration is one
// event of another client, timed, while the flooding address posts 2,000
// events a second (32 goroutines, one post each 16 ms: paced, so the load
// generator costs the same with and without the limit on this shared machine). "quiet" has no flood; "unlimited" floods
// without the per-address limit; "limited" with the default one (50/s,
// bursts of 100). Reported: the other client's p50 and p99, and the flood's
// requests served and refused per second.
func BenchmarkFloodFromOneAddress(b *testing.B) {
	for _, c := range []struct {
		name  string
		flood bool
		rate  float64
	}{{"quiet", false, 50}, {"unlimited", true, 0}, {"limited", true, 50}} {
		b.Run(c.name, func(b *testing.B) { floodBench(b, c.flood, c.rate) })
	}
}

func floodBench(b *testing.B, flood bool, rate float64) {
	r := redistest.New(b)
	bt, _, _ := newBot(b, r.Client, r.Prefix)
	h := events.NewHandler(bt, events.Options{Keys: keys.New(secret), Now: func() time.Time { return now }})
	srv := httptest.NewServer(ratelimit.NewClients(rate, 100).Limit(h))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// Bodies and signatures are made up front: the load generator shares
	// the machine with the server, and should cost it as little as can be.
	type signedBody struct {
		body []byte
		sig  string
	}
	pool := make([]signedBody, 50000)
	for i := range pool {
		body := []byte(fmt.Sprintf(`{"id":"fl-%d-%d","type":"review.posted","occurred_at":"2026-03-02T11:00:00Z","customer":{"id":"c%d"}}`, time.Now().UnixNano(), i, i%5000))
		pool[i] = signedBody{body, events.SignatureValue(secret, now.Unix(), body)}
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	var seq atomic.Int64
	post := func(from string) int {
		sb := pool[seq.Add(1)%int64(len(pool))]
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(sb.body))
		req.Header.Set("X-Forwarded-For", from)
		req.Header.Set(events.SignatureHeader, sb.sig)
		req.Header.Set(events.TimestampHeader, ts)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var served, refused atomic.Int64
	if flood {
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tk := time.NewTicker(16 * time.Millisecond)
				defer tk.Stop()
				for ctx.Err() == nil {
					<-tk.C
					if post("203.0.113.66") == http.StatusTooManyRequests {
						refused.Add(1)
					} else {
						served.Add(1)
					}
				}
			}()
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t0 := time.Now()
		if code := post(fmt.Sprint("198.51.100.", i%200)); code != 200 {
			b.Fatalf("the other client got %d", code)
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(served.Load())/el.Seconds(), "flood-served/s")
	b.ReportMetric(float64(refused.Load())/el.Seconds(), "flood-429/s")
}
