package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
	"journeybot/journey"
)

// Benchmarks of the delivery path through real processes (issue 10), for
// `make bench`. Each runs a fixed workload of several seconds, so the
// framework runs it once; the figures are custom metrics (and a table the
// parent benchmark logs), not ns/op.

// benchClients is how many webhook posts are in flight at once, more than
// Telegram's 40 connections.
const benchClients = 64

var echoBuild struct {
	sync.Once
	path string
	err  error
}

// echoBinary builds internal/echobot/cmd/echobot once.
func echoBinary(b testing.TB) string {
	b.Helper()
	echoBuild.Do(func() {
		dir, err := os.MkdirTemp("", "journeybot-echo")
		if err != nil {
			echoBuild.err = err
			return
		}
		echoBuild.path = filepath.Join(dir, "echobot")
		out, err := exec.Command("go", "build", "-o", echoBuild.path, "../../internal/echobot/cmd/echobot").CombinedOutput()
		if err != nil {
			echoBuild.err = fmt.Errorf("go build echobot: %v\n%s", err, out)
		}
	})
	if echoBuild.err != nil {
		b.Fatal(echoBuild.err)
	}
	return echoBuild.path
}

// target is a webhook under test: the real bot or the echo bot.
type target struct {
	hook    string
	metrics string // "" for the echo bot
}

func startTarget(b *testing.B, kind string, srv *telegramtest.Server, r *redistest.Redis) target {
	b.Helper()
	if kind == "echo" {
		addr := freeAddr(b)
		cmd := exec.Command(echoBinary(b), "-addr", addr, "-redis", r.URL, "-prefix", r.Prefix,
			"-api", srv.URL, "-token", srv.Token, "-secret", webhookSecret)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitStatus(b, "http://"+addr+"/healthz", 200)
		// The echo bot does not set a webhook; give the fake API the secret
		// its posts carry.
		resp, err := http.PostForm(srv.URL+"/bot"+srv.Token+"/setWebhook", map[string][]string{"url": {"http://" + addr + "/telegram/webhook"}, "secret_token": {webhookSecret}})
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		return target{hook: "http://" + addr + "/telegram/webhook"}
	}
	f := newFleet(b, srv, r.URL, r.Prefix, "webhook").set("telegram.rate", "1000")
	p := f.start("bot", "")
	srv.WaitCalls("setWebhook", 1)
	return target{hook: p.hook, metrics: p.metricsURL()}
}

// intake is what one closed-loop phase measured.
type intake struct {
	posts, failed int
	took          time.Duration
	acks          []time.Duration
	ids           []int
}

func (in intake) rate() float64 { return float64(in.posts) / in.took.Seconds() }

// postAll posts each update once with benchClients in flight and times each
// acknowledgement.
func postAll(srv *telegramtest.Server, hook string, ids []int) intake {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	var next atomic.Int64
	var mu sync.Mutex
	res := intake{ids: ids}
	t0 := time.Now()
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var acks []time.Duration
			failed := 0
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					break
				}
				if took, ok := timedPost(srv, client, hook, ids[i]); ok {
					acks = append(acks, took)
				} else {
					failed++
				}
			}
			mu.Lock()
			res.acks = append(res.acks, acks...)
			res.failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.took = time.Since(t0)
	res.posts = len(res.acks)
	return res
}

// timedPost posts one update and reports how long its acknowledgement took
// (false: not acknowledged).
func timedPost(srv *telegramtest.Server, client *http.Client, hook string, id int) (time.Duration, bool) {
	s := time.Now()
	code, _ := srv.Post(context.Background(), client, hook, id)
	return time.Since(s), code/100 == 2
}

// postAt posts the updates at rate per second in all: each of benchClients
// clients posts on a schedule of its own (rate/benchClients a second,
// staggered), so the load is paced rather than as fast as acknowledgements
// come; it times each acknowledgement.
func postAt(srv *telegramtest.Server, hook string, ids []int, rate float64) intake {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	res := intake{ids: ids}
	period := time.Duration(float64(time.Second) * benchClients / rate) // of one client
	t0 := time.Now()
	for w := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var acks []time.Duration
			failed := 0
			for k, i := 0, w; i < len(ids); k, i = k+1, i+benchClients {
				at := t0.Add(time.Duration(k)*period + period*time.Duration(w)/benchClients)
				time.Sleep(time.Until(at))
				if took, ok := timedPost(srv, client, hook, ids[i]); ok {
					acks = append(acks, took)
				} else {
					failed++
				}
			}
			mu.Lock()
			res.acks = append(res.acks, acks...)
			res.failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.took = time.Since(t0)
	res.posts = len(res.acks)
	return res
}

// makeUpdates makes n updates "m1", each of a chat of its own, so the 1/s
// per-chat limit plays no part.
func makeUpdates(srv *telegramtest.Server, n int, base int64) []int {
	ids := make([]int, n)
	for i := range ids {
		u := telegramtest.User{ID: base + int64(i), FirstName: "B", LanguageCode: "en"}
		ids[i], _ = srv.NewText(telegramtest.Private(u), u, "m1")
	}
	return ids
}

// sendLag waits for the replies of the updates and returns how many came,
// the rate at which they reached the API (from the first acknowledgement to
// the last reply), and the lag of each reply behind its update's
// acknowledgement (negative when the bot replies before it acknowledges).
func sendLag(srv *telegramtest.Server, ids []int, timeout time.Duration) (int, float64, []time.Duration) {
	want := map[int64]int{}
	for _, id := range ids {
		want[srv.ChatOf(id)] = id
	}
	srv.WaitSends(timeout, func(ss []telegramtest.Send) bool {
		got := 0
		for _, s := range ss {
			if _, ok := want[s.Chat]; ok {
				got++
			}
		}
		return got >= len(want)
	})
	var first, last time.Time
	var lags []time.Duration
	seen := map[int64]bool{}
	for _, s := range srv.Sends() {
		id, ok := want[s.Chat]
		if !ok || seen[s.Chat] {
			continue
		}
		seen[s.Chat] = true
		acked, ok := srv.Acked(id)
		if !ok {
			continue
		}
		lags = append(lags, s.At.Sub(acked))
		if first.IsZero() || acked.Before(first) {
			first = acked
		}
		if s.At.After(last) {
			last = s.At
		}
	}
	rate := 0.0
	if len(lags) > 1 && last.After(first) {
		rate = float64(len(lags)) / last.Sub(first).Seconds()
	}
	return len(lags), rate, lags
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchTable collects the figures of sub-benchmarks for one table.
type benchTable struct {
	mu   sync.Mutex
	rows map[string]map[string]float64
}

func (t *benchTable) put(row, col string, v float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows == nil {
		t.rows = map[string]map[string]float64{}
	}
	if t.rows[row] == nil {
		t.rows[row] = map[string]float64{}
	}
	t.rows[row][col] = v
}

func (t *benchTable) log(b *testing.B, cols []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| %-22s |", "")
	for _, c := range cols {
		fmt.Fprintf(&sb, " %14s |", c)
	}
	rows := make([]string, 0, len(t.rows))
	for r := range t.rows {
		rows = append(rows, r)
	}
	sort.Strings(rows)
	for _, r := range rows {
		fmt.Fprintf(&sb, "\n| %-22s |", r)
		for _, c := range cols {
			if v, ok := t.rows[r][c]; ok && v != 0 && v > -10 && v < 10 {
				fmt.Fprintf(&sb, " %14.3f |", v) // ratios, small lags
			} else if ok {
				fmt.Fprintf(&sb, " %14.1f |", v)
			} else {
				fmt.Fprintf(&sb, " %14s |", "-")
			}
		}
	}
	// Printed, not logged: a parent benchmark's log is not shown.
	fmt.Println(b.Name() + sb.String())
}

// BenchmarkWebhookDelivery: webhook intake through the real process
// (telegram.rate 1000, the loopback Bot API, 64 clients posting updates of
// distinct chats): acknowledged posts/s and ack p50/p99; then the sends
// those updates caused, sends/s and the lag from acknowledgement to the
// API; then ack p99 at half the measured rate. The same for the echo bot,
// in the same run, and the engine's share as ratios.
func BenchmarkWebhookDelivery(b *testing.B) {
	var tab benchTable
	for _, kind := range []string{"journeybot", "echo"} {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				benchWebhook(b, kind, &tab)
			}
		})
	}
	tab.mu.Lock()
	if jb, echo := tab.rows["journeybot"], tab.rows["echo"]; jb != nil && echo != nil && echo["posts/s"] > 0 {
		tab.rows["journeybot/echo"] = map[string]float64{
			"posts/s": jb["posts/s"] / echo["posts/s"], "ack-p99-ms": jb["ack-p99-ms"] / echo["ack-p99-ms"],
			"sends/s": jb["sends/s"] / echo["sends/s"],
		}
	}
	tab.mu.Unlock()
	tab.log(b, []string{"posts/s", "ack-p50-ms", "ack-p99-ms", "half-rate/s", "half-p99-ms", "sends/s", "lag-p50-ms", "lag-p99-ms"})
}

func benchWebhook(b *testing.B, kind string, tab *benchTable) {
	r := redistest.New(b)
	srv := telegramtest.New(b)
	tg := startTarget(b, kind, srv, r)
	base := 4_000_000_000 + (time.Now().UnixNano()/1000)%100_000_000
	// Warm up (connections, the first compile of the Lua scripts).
	postAll(srv, tg.hook, makeUpdates(srv, 200, base))
	base += 200

	// Full load: as many as 64 clients get acknowledged in about 4 s; a
	// first second sizes the batch.
	probe := postAll(srv, tg.hook, makeUpdates(srv, benchClients*4, base))
	base += benchClients * 4
	n := max(200, min(20000, int(probe.rate()*4)))
	ids := makeUpdates(srv, n, base)
	base += int64(n)
	b.ResetTimer()
	full := postAll(srv, tg.hook, ids)
	b.StopTimer()
	got, sendRate, lags := sendLag(srv, ids, 60*time.Second)

	half := full.rate() / 2
	halfIDs := makeUpdates(srv, max(50, int(half*3)), base)
	halfRun := postAt(srv, tg.hook, halfIDs, half)

	m := map[string]float64{
		"posts/s": full.rate(), "ack-p50-ms": msf(percentile(full.acks, 50)), "ack-p99-ms": msf(percentile(full.acks, 99)),
		"half-rate/s": half, "half-p99-ms": msf(percentile(halfRun.acks, 99)),
		"sends/s": sendRate, "lag-p50-ms": msf(percentile(lags, 50)), "lag-p99-ms": msf(percentile(lags, 99)),
	}
	for k, v := range m {
		b.ReportMetric(v, k)
		tab.put(kind, k, v)
	}
	b.ReportMetric(0, "ns/op")
	if full.failed > 0 || halfRun.failed > 0 || got < len(ids) {
		b.Logf("%s: %d + %d posts not acknowledged; %d of %d replies reached the API in 60 s", kind, full.failed, halfRun.failed, got, len(ids))
	}
}

// BenchmarkSchedulerDue: N customers all due at one instant (an event dated
// a minute before it, and a flow "after: 1m since" that event), with 1 and 2
// processes. Fired: due items claimed, their flow run and committed with the
// message they send, and finished (out of the due index, read every 10 ms),
// per second from the last reading before the first to the one that saw the
// last. Sent: those messages reaching the API, bound by telegram.rate 1000
// (shared by the processes), per second from the due instant, and the lag
// from the due instant to the send.
func BenchmarkSchedulerDue(b *testing.B) {
	var tab benchTable
	for _, procs := range []int{1, 2} {
		b.Run("processes="+strconv.Itoa(procs), func(b *testing.B) {
			for range b.N {
				benchDue(b, procs, &tab)
			}
		})
	}
	tab.log(b, []string{"due", "fired", "fired/s", "sent/s", "lag-p50-ms", "lag-p99-ms"})
}

func benchDue(b *testing.B, procs int, tab *benchTable) {
	const n = 5000
	r := redistest.New(b)
	srv := telegramtest.New(b)
	f := newFleet(b, srv, r.URL, r.Prefix, "webhook").set("telegram.rate", "1000")
	var addrs, metrics []string
	for i := range procs {
		p := f.start("p"+strconv.Itoa(i), "")
		addrs, metrics = append(addrs, p.addr), append(metrics, p.metricsURL())
	}
	woken := func() float64 {
		sum := 0.0
		for _, u := range metrics {
			sum += metric(b, u, "journeybot_scheduled_customers_woken_total", "")
		}
		return sum
	}
	base := 5_000_000_000 + (time.Now().UnixNano()/1000)%100_000_000
	// All due at one whole second, far enough ahead for the arming.
	due := time.Now().Add(25 * time.Second).Truncate(time.Second)
	chats := make([]int64, n)
	for i := range chats {
		chats[i] = base + int64(i)
	}
	failed := arm(addrs, chats, due)
	if time.Now().After(due) {
		b.Logf("arming %d customers ended %s after the due instant; lags include it", n, time.Since(due))
	}
	b.ResetTimer()
	fired, firedRate := firedAt(b, journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix}), n-failed, time.Until(due)+60*time.Second)
	srv.WaitSends(time.Until(due)+90*time.Second, func(ss []telegramtest.Send) bool { return len(ss) >= n })
	b.StopTimer()
	if w := woken(); w != fired {
		b.Logf("the processes counted %.0f customers woken, the due index %.0f gone", w, fired)
	}
	var lags []time.Duration
	var last time.Time
	for _, s := range srv.Sends() {
		if s.Text == "due" {
			lags = append(lags, s.At.Sub(due))
			if s.At.After(last) {
				last = s.At
			}
		}
	}
	rate := 0.0
	if len(lags) > 0 {
		rate = float64(len(lags)) / last.Sub(due).Seconds()
	}
	row := "processes=" + strconv.Itoa(procs)
	m := map[string]float64{"due": float64(n - failed), "fired": fired, "fired/s": firedRate, "sent/s": rate,
		"lag-p50-ms": msf(percentile(lags, 50)), "lag-p99-ms": msf(percentile(lags, 99))}
	for k, v := range m {
		b.ReportMetric(v, k)
		tab.put(row, k, v)
	}
	b.ReportMetric(0, "ns/op")
}

// firedAt reads the due index every 10 ms until none of want waits in it
// (or timeout): each customer leaves it once its batch is committed and
// finished. It returns how many left, and how many a second from the last
// reading with none gone to the first with all. Redis answers between
// batches; the processes' own /metrics pages, busy firing, answer too late
// to time it.
func firedAt(b *testing.B, store *journey.Store, want int, timeout time.Duration) (float64, float64) {
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var before time.Time
	for {
		at := time.Now()
		waiting, err := store.Pending(ctx)
		if err != nil {
			b.Fatal(err)
		}
		gone := float64(int64(want) - waiting)
		switch {
		case gone <= 0:
			before = at
		case before.IsZero():
			b.Logf("%.0f of %d fired before the first reading (the arming ended late): no rate", gone, want)
			return gone, 0
		case waiting == 0 || at.After(deadline):
			return gone, gone / at.Sub(before).Seconds()
		}
		time.Sleep(10 * time.Millisecond)
	}
}
