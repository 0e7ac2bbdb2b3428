package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"journeybot/events"
	"journeybot/internal/telegramtest"
)

// The harness of the delivery tests and benchmarks: bot processes sharing a
// Redis and a fake Bot API, customers who number their messages ("m1",
// "m2", ...) and a script that answers "r1", "r2", ..., and a check that
// every acknowledged message got its reply once, in order.

// beforeRun is set (DELIVERY_BEFORE=1) to measure a binary that predates the
// delivery keys: config refuses unknown keys, so they are left out and the
// scenarios run with that binary's fixed behaviour. Not a JOURNEYBOT_
// variable, which the binary would refuse.
var beforeRun = os.Getenv("DELIVERY_BEFORE") != ""

const webhookSecret = "delivery-Secret_1"

func deliveryScripts(t testing.TB) string {
	d, err := filepath.Abs("testdata/delivery")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fleet is the bot processes of one test and what they share.
type fleet struct {
	t        testing.TB
	srv      *telegramtest.Server
	redisURL string
	prefix   string
	mode     string            // "webhook" or "polling"
	keys     map[string]string // delivery keys, set only when the binary has them
	env      []string          // more JOURNEYBOT_* settings
}

func newFleet(t testing.TB, srv *telegramtest.Server, redisURL, prefix, mode string) *fleet {
	// The load comes from one address (loopback): no per-address limit.
	return &fleet{t: t, srv: srv, redisURL: redisURL, prefix: prefix, mode: mode, keys: map[string]string{"http.ip_rate": "0"}}
}

// set sets a delivery key (telegram.rate, intake.per_minute, ...) of the
// contract; a before run leaves it out.
func (f *fleet) set(key, value string) *fleet {
	f.keys[key] = value
	return f
}

// botProc is one bot process of a fleet.
type botProc struct {
	*proc
	name  string
	addr  string
	maddr string // metrics.addr (http.addr for a binary from before it)
	hook  string
}

func (b *botProc) metricsURL() string { return "http://" + b.maddr + "/metrics" }

// start starts a process named name (its Bot API calls carry that name, see
// telegramtest.Server.URLFor) on addr, or on a free port when addr is "".
func (f *fleet) start(name, addr string) *botProc {
	t := f.t
	t.Helper()
	if addr == "" {
		addr = freeAddr(t)
	}
	hook := "http://" + addr + "/telegram/webhook"
	env := []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + deliveryScripts(t),
		"JOURNEYBOT_REDIS_URL=" + f.redisURL, "JOURNEYBOT_REDIS_PREFIX=" + f.prefix,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + f.srv.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + f.srv.URLFor(name),
		"JOURNEYBOT_TELEGRAM_MODE=" + f.mode, "JOURNEYBOT_EVENTS_SECRET=" + eventsSecret,
		// No quiet hours: an event's message must not wait for the morning
		// whatever the hour the test runs at.
		"JOURNEYBOT_SEND_QUIET_START=00:00", "JOURNEYBOT_SEND_QUIET_END=00:00",
		"JOURNEYBOT_LOG_LEVEL=warn",
	}
	if f.mode == "webhook" {
		env = append(env, "JOURNEYBOT_TELEGRAM_WEBHOOK_SECRET="+webhookSecret, "JOURNEYBOT_TELEGRAM_WEBHOOK_URL="+hook)
	}
	if !beforeRun {
		for k, v := range f.keys {
			env = append(env, "JOURNEYBOT_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))+"="+v)
		}
	}
	env = append(env, f.env...)
	maddr := addr
	if !beforeRun {
		maddr = freeAddr(t)
		env = append(env, "JOURNEYBOT_METRICS_ADDR="+maddr)
	}
	p := start(t, env, "run")
	b := &botProc{proc: p, name: name, addr: addr, maddr: maddr, hook: hook}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get(t, "http://"+addr+"/healthz"); code == 200 {
			break
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("bot %s exited at start: %v\n%s", name, err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot %s not healthy in 20 s:\n%s", name, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

// kill ends b with SIGKILL: no shutdown, nothing flushed.
func (b *botProc) kill(t testing.TB) {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGKILL)
	b.wait(t)
}

// term sends SIGTERM and waits for the exit; it returns how long that took.
func (b *botProc) term(t testing.TB) (time.Duration, error) {
	t.Helper()
	t0 := time.Now()
	b.cmd.Process.Signal(syscall.SIGTERM)
	err := b.wait(t)
	return time.Since(t0), err
}

const eventsSecret = "d31a7e5b9c2f4068a1e3c5b7d9f0214365a7c9e1b3d5f7092b4d6f8a0c2e4a6b"

// ---- customers and what they were answered

// customers returns n Telegram users with chat ids of this run.
func customers(n int) []telegramtest.User {
	base := 1_500_000_000 + (time.Now().UnixNano()/1000)%400_000_000
	out := make([]telegramtest.User, n)
	for i := range out {
		id := base + int64(i)
		out[i] = telegramtest.User{ID: id, FirstName: "C" + strconv.Itoa(i), LanguageCode: "en"}
	}
	return out
}

// ledger records the numbered messages each chat wrote.
type ledger struct {
	mu   sync.Mutex
	next map[int64]int         // chat -> number of its next message
	upd  map[int64]map[int]int // chat -> number -> update id
}

func newLedger() *ledger { return &ledger{next: map[int64]int{}, upd: map[int64]map[int]int{}} }

// write has u write its next numbered message through the server's queue
// (delivered to the webhook, or fetched by getUpdates).
func (l *ledger) write(srv *telegramtest.Server, u telegramtest.User) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next[u.ID]++
	k := l.next[u.ID]
	id := srv.SendText(telegramtest.Private(u), u, "m"+strconv.Itoa(k))
	if l.upd[u.ID] == nil {
		l.upd[u.ID] = map[int]int{}
	}
	l.upd[u.ID][k] = id
	return id
}

// make makes u's next numbered message without queueing it (to Post it).
func (l *ledger) make(srv *telegramtest.Server, u telegramtest.User) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next[u.ID]++
	k := l.next[u.ID]
	id, _ := srv.NewText(telegramtest.Private(u), u, "m"+strconv.Itoa(k))
	if l.upd[u.ID] == nil {
		l.upd[u.ID] = map[int]int{}
	}
	l.upd[u.ID][k] = id
	return id
}

// acked returns, per chat, the numbers of its messages that were
// acknowledged (a 2xx to the webhook post or a getUpdates offset past them).
func (l *ledger) acked(srv *telegramtest.Server) map[int64][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int64][]int{}
	for chat, m := range l.upd {
		for k, id := range m {
			if _, ok := srv.Acked(id); ok {
				out[chat] = append(out[chat], k)
			}
		}
		slices.Sort(out[chat])
	}
	return out
}

func (l *ledger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.upd {
		n += len(m)
	}
	return n
}

// replyNumber reads "r17" as 17.
func replyNumber(text string) (int, bool) {
	s, ok := strings.CutPrefix(text, "r")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// outcome is what a check found.
type outcome struct {
	written                    int
	acked, lost, dup, disorder int
	details                    []string
}

func (o outcome) String() string {
	return fmt.Sprintf("%d written, %d acknowledged, %d lost, %d duplicated, %d out of order", o.written, o.acked, o.lost, o.dup, o.disorder)
}

// judge compares the replies at the server with the acknowledged messages.
func (l *ledger) judge(srv *telegramtest.Server) outcome {
	o := outcome{written: l.total()}
	acked := l.acked(srv)
	chats := make([]int64, 0, len(acked))
	for c := range acked {
		chats = append(chats, c)
	}
	slices.Sort(chats)
	for _, chat := range chats {
		ks := acked[chat]
		o.acked += len(ks)
		count := map[int]int{}
		var firsts []int
		for _, m := range srv.SendsTo(chat) {
			if n, ok := replyNumber(m.Text); ok {
				if count[n] == 0 {
					firsts = append(firsts, n)
				}
				count[n]++
			}
		}
		for _, k := range ks {
			switch c := count[k]; {
			case c == 0:
				o.lost++
				l.mu.Lock()
				id := l.upd[chat][k]
				l.mu.Unlock()
				at, _ := srv.Acked(id)
				o.details = append(o.details, fmt.Sprintf("lost: chat %d message m%d (update %d, acknowledged %s)", chat, k, id, at.Format("15:04:05.000")))
			case c > 1:
				o.dup += c - 1
				o.details = append(o.details, fmt.Sprintf("duplicated: chat %d reply r%d sent %d times", chat, k, c))
			}
		}
		for i := 1; i < len(firsts); i++ {
			if firsts[i] < firsts[i-1] {
				o.disorder++
				o.details = append(o.details, fmt.Sprintf("out of order: chat %d got r%d after r%d", chat, firsts[i], firsts[i-1]))
			}
		}
	}
	return o
}

// settle waits until every acknowledged message has its reply, or timeout;
// it returns the outcome then.
func (l *ledger) settle(srv *telegramtest.Server, timeout time.Duration) outcome {
	deadline := time.Now().Add(timeout)
	for {
		o := l.judge(srv)
		if o.lost == 0 || time.Now().After(deadline) {
			return o
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expect fails t unless o has nothing lost, no more duplicates than maxDup
// and nothing out of order; it logs the figures either way (MEASURE lines
// are what docs/delivery-measurements.md quotes).
func expect(t *testing.T, scenario string, o outcome, maxDup int) {
	t.Helper()
	t.Logf("MEASURE %s: %s", scenario, o)
	if o.acked == 0 {
		t.Errorf("%s: nothing was acknowledged", scenario)
	}
	if o.lost > 0 || o.dup > maxDup || o.disorder > 0 {
		d := o.details
		if len(d) > 30 {
			d = append(d[:30:30], fmt.Sprintf("... and %d more", len(o.details)-30))
		}
		t.Errorf("%s: %s (at most %d duplicates allowed)\n  %s", scenario, o, maxDup, strings.Join(d, "\n  "))
	}
}

// ---- load

// feed has the customers write numbered messages round-robin, rate per
// second in all, for d; it returns when done or ctx ends.
func feed(ctx context.Context, srv *telegramtest.Server, l *ledger, cs []telegramtest.User, rate float64, d time.Duration) int {
	interval := time.Duration(float64(time.Second) / rate)
	t0 := time.Now()
	n := 0
	for i := 0; time.Since(t0) < d; i++ {
		if ctx.Err() != nil {
			return n
		}
		l.write(srv, cs[i%len(cs)])
		n++
		if wait := time.Until(t0.Add(time.Duration(i+1) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
	return n
}

// ---- metrics and figures

// metric reads one sample of a Prometheus text page: name with exactly
// these labels (`channel="telegram"`, or "" for none); 0 when absent.
func metric(t testing.TB, url, name, labels string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return math.NaN()
	}
	defer resp.Body.Close()
	want := name
	if labels != "" {
		want += "{" + labels + "}"
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, want+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// percentile returns the p-th percentile (0-100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// replyLatencies returns, for each acknowledged message of the given chats
// that got a reply, the time from the update's making (the customer
// pressing send) to its first reply at the API.
func (l *ledger) replyLatencies(srv *telegramtest.Server, chats []int64) []time.Duration {
	var out []time.Duration
	for _, chat := range chats {
		first := map[int]time.Time{}
		for _, m := range srv.SendsTo(chat) {
			if n, ok := replyNumber(m.Text); ok {
				if _, seen := first[n]; !seen {
					first[n] = m.At
				}
			}
		}
		l.mu.Lock()
		for k, id := range l.upd[chat] {
			if at, ok := first[k]; ok {
				out = append(out, at.Sub(srv.Created(id)))
			}
		}
		l.mu.Unlock()
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// metricSum adds up every sample of name, whatever its labels; NaN when
// /metrics does not answer.
func metricSum(t testing.TB, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return math.NaN()
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			f, _ := strconv.ParseFloat(line[i+1:], 64)
			sum += f
		}
	}
	return sum
}

// postAcked posts update id to the hooks in turn until one answers 2xx, as
// Telegram retries; false when timeout passed first.
func postAcked(srv *telegramtest.Server, client *http.Client, hooks []string, id int, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i := 0; ; i++ {
		code, _ := srv.Post(ctx, client, hooks[i%len(hooks)], id)
		if code/100 == 2 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// arm gives each chat a timer due at the whole second due: an event dated a
// minute before it, which the delivery scripts' flow "after: 1m since
// bench.armed" answers with "due". The events are posted to the addrs in
// turn, benchClients at a time; arm returns how many were refused.
func arm(addrs []string, chats []int64, due time.Time) int {
	occurred := due.Add(-time.Minute).Format(time.RFC3339)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(chats) {
					return
				}
				chat := chats[i]
				body := fmt.Sprintf(`{"id":"arm-%d","type":"bench.armed","occurred_at":%q,"customer":{"id":"due-%d","telegram_chat":"%d","language":"en"}}`, chat, occurred, chat, chat)
				req, _ := http.NewRequest(http.MethodPost, "http://"+addrs[i%len(addrs)]+"/events", strings.NewReader(body))
				events.SignRequest(req, eventsSecret, time.Now(), []byte(body))
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

// dueCounts returns how many "due" messages each of chats got among sends.
func dueCounts(sends []telegramtest.Send, chats []int64) map[int64]int {
	want := map[int64]bool{}
	for _, c := range chats {
		want[c] = true
	}
	out := map[int64]int{}
	for _, s := range sends {
		if want[s.Chat] && s.Text == "due" {
			out[s.Chat]++
		}
	}
	return out
}
