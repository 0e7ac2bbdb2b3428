package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"journeybot/channels"
	"journeybot/delivery"
	"journeybot/internal/redistest"
	"journeybot/journey"
	"journeybot/ratelimit"
)

// flaky is a channel whose Send fails as told, per address, then records.
type flaky struct {
	mu    sync.Mutex
	fail  map[string][]error // address -> errors to return, in turn
	sent  map[string][]string
	times map[string][]time.Time
	calls int
}

func newFlaky() *flaky {
	return &flaky{fail: map[string][]error{}, sent: map[string][]string{}, times: map[string][]time.Time{}}
}

func (f *flaky) Name() string                                      { return "test" }
func (f *flaky) Run(ctx context.Context, h channels.Handler) error { return nil }
func (f *flaky) Send(ctx context.Context, m channels.Outbound) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if errs := f.fail[m.Address]; len(errs) > 0 {
		f.fail[m.Address] = errs[1:]
		if errs[0] != nil {
			return errs[0]
		}
	}
	f.sent[m.Address] = append(f.sent[m.Address], m.Text)
	f.times[m.Address] = append(f.times[m.Address], time.Now())
	return nil
}

func (f *flaky) texts(addr string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent[addr]...)
}

type env struct {
	store *journey.Store
	ch    *flaky
	mu    sync.Mutex
	fails []string
}

func newEnv(t *testing.T, r *redistest.Redis) *env {
	return &env{store: journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix}), ch: newFlaky()}
}

func (e *env) sender(o delivery.Options, l delivery.Limits) *delivery.Sender {
	o.Store = e.store
	o.Failed = func(ctx context.Context, customer string, m journey.Outgoing, err error) {
		e.mu.Lock()
		e.fails = append(e.fails, customer+":"+m.Text+":"+err.Error())
		e.mu.Unlock()
	}
	s := delivery.New(o)
	s.AddChannel(e.ch, l)
	return s
}

// queue commits texts for customer id (chat address addr) at at.
func (e *env) queue(t *testing.T, id, addr string, at time.Time, texts ...string) {
	t.Helper()
	_, err := e.store.Commit(context.Background(), id, "", at, func(j *journey.Journey) (journey.Change, error) {
		var c journey.Change
		for _, x := range texts {
			c.Outbox = append(c.Outbox, journey.Outgoing{ID: journey.NewMessageID(), Channel: "test", Address: addr, Text: x})
		}
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, s *delivery.Sender) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	return func() { cancel(); <-done }
}

func waitTexts(t *testing.T, f *flaky, addr string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := f.texts(addr)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Temporary failures (429 with retry_after, 5xx, the network) are retried,
// in order, without losing or repeating a message.
func TestRetriesKeepOrder(t *testing.T) { redistest.Each(t, testRetriesKeepOrder) }

func testRetriesKeepOrder(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	e.ch.fail["1"] = []error{
		&channels.RetryError{After: 200 * time.Millisecond, Err: errors.New("429")},
		errors.New("connection reset"),
		nil,
		&channels.RetryError{Err: errors.New("502")},
	}
	e.queue(t, "c1", "1", time.Now(), "a", "b", "c")
	stop := run(t, e.sender(delivery.Options{}, delivery.Limits{}))
	defer stop()
	if got := fmt.Sprint(waitTexts(t, e.ch, "1", 3)); got != "[a b c]" {
		t.Fatalf("sent %s, want [a b c]", got)
	}
	time.Sleep(100 * time.Millisecond)
	if got := e.ch.texts("1"); len(got) != 3 {
		t.Fatalf("a message went out twice: %v", got)
	}
}

// Permanent failures end at once and are reported: a rejected message is
// dropped and the next goes on; a blocked chat gets nothing more.
func TestPermanentFailuresAreDropped(t *testing.T) {
	redistest.Each(t, testPermanentFailuresAreDropped)
}

func testPermanentFailuresAreDropped(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	e.ch.fail["1"] = []error{fmt.Errorf("blocked: %w", channels.ErrUnreachable)}
	e.ch.fail["2"] = []error{fmt.Errorf("bad markup: %w", channels.ErrRejected)}
	e.queue(t, "c1", "1", time.Now(), "a", "b")
	e.queue(t, "c2", "2", time.Now(), "x", "y")
	s := e.sender(delivery.Options{}, delivery.Limits{})
	if err := s.Pump(context.Background()); !errors.Is(err, channels.ErrUnreachable) && !errors.Is(err, channels.ErrRejected) {
		t.Fatalf("Pump: %v, want the permanent failure", err)
	}
	if got := fmt.Sprint(e.ch.texts("1"), e.ch.texts("2")); got != "[] [y]" {
		t.Fatalf("sent %s, want [] [y]", got)
	}
	if len(e.fails) != 2 {
		t.Fatalf("failures reported: %v", e.fails)
	}
}

// A message that could not be sent within MaxAge is dropped, not sent late.
func TestMaxAge(t *testing.T) { redistest.Each(t, testMaxAge) }

func testMaxAge(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	now := time.Now()
	e.queue(t, "c1", "1", now.Add(-2*time.Hour), "stale")
	e.queue(t, "c1", "1", now, "fresh")
	s := e.sender(delivery.Options{MaxAge: time.Hour}, delivery.Limits{})
	s.Pump(context.Background())
	if got := fmt.Sprint(e.ch.texts("1")); got != "[fresh]" {
		t.Fatalf("sent %s, want [fresh]", got)
	}
	if len(e.fails) != 1 {
		t.Fatalf("the dropped message was not reported: %v", e.fails)
	}
}

// One chat's pacing (1 message per PerChat) never holds up another chat.
func TestPerChatPacingDoesNotBlockOthers(t *testing.T) {
	redistest.Each(t, testPerChatPacingDoesNotBlockOthers)
}

func testPerChatPacingDoesNotBlockOthers(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	e.queue(t, "c1", "1", time.Now(), "a", "b", "c")
	stop := run(t, e.sender(delivery.Options{}, delivery.Limits{PerChat: 500 * time.Millisecond}))
	defer stop()
	waitTexts(t, e.ch, "1", 1)
	e.queue(t, "c2", "2", time.Now(), "x")
	start := time.Now()
	waitTexts(t, e.ch, "2", 1)
	if got := e.ch.texts("1"); len(got) == 3 {
		t.Fatalf("chat 2 waited until chat 1 was done (%v)", time.Since(start))
	}
	got := waitTexts(t, e.ch, "1", 3)
	if fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("chat 1 got %v", got)
	}
	e.ch.mu.Lock()
	defer e.ch.mu.Unlock()
	ts := e.ch.times["1"]
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d < 500*time.Millisecond {
			t.Fatalf("two messages to one chat %v apart, want >= 500ms", d)
		}
	}
}

// Two senders (two processes) on one Redis send every message exactly once,
// in order per customer, within the shared overall rate.
func TestTwoSendersSendEachMessageOnce(t *testing.T) {
	redistest.Each(t, testTwoSendersSendEachMessageOnce)
}

func testTwoSendersSendEachMessageOnce(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	lim := ratelimit.New(r.Client, r.Prefix)
	const customers, each = 40, 3
	for c := 0; c < customers; c++ {
		var texts []string
		for i := 0; i < each; i++ {
			texts = append(texts, fmt.Sprintf("m%d", i))
		}
		e.queue(t, fmt.Sprintf("c%d", c), fmt.Sprint(c), time.Now(), texts...)
	}
	l := delivery.Limits{PerSecond: 500}
	stop1 := run(t, e.sender(delivery.Options{Limiter: lim}, l))
	stop2 := run(t, e.sender(delivery.Options{Limiter: lim}, l))
	defer stop1()
	defer stop2()
	for c := 0; c < customers; c++ {
		if got := fmt.Sprint(waitTexts(t, e.ch, fmt.Sprint(c), each)); got != "[m0 m1 m2]" {
			t.Fatalf("customer %d got %s", c, got)
		}
	}
	time.Sleep(200 * time.Millisecond)
	e.ch.mu.Lock()
	defer e.ch.mu.Unlock()
	if e.ch.calls != customers*each {
		t.Fatalf("%d sends for %d messages", e.ch.calls, customers*each)
	}
}

// A slow rephrase (the model) never makes a sender outlast its lease: the
// rephrase gets what is left of the turn, and another sender never sends the
// same message.
func TestSlowPrepareDoesNotDuplicate(t *testing.T) {
	redistest.Each(t, testSlowPrepareDoesNotDuplicate)
}

func testSlowPrepareDoesNotDuplicate(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	slow := func(ctx context.Context, customer string, m journey.Outgoing) string {
		select {
		case <-time.After(600 * time.Millisecond):
			return "rephrased " + m.Text
		case <-ctx.Done():
			return m.Text
		}
	}
	e.queue(t, "c1", "1", time.Now(), "hello")
	o := delivery.Options{Lease: 300 * time.Millisecond, Poll: 10 * time.Millisecond, Prepare: slow}
	stop1 := run(t, e.sender(o, delivery.Limits{}))
	stop2 := run(t, e.sender(o, delivery.Limits{}))
	defer stop1()
	defer stop2()
	waitTexts(t, e.ch, "1", 1)
	time.Sleep(time.Second)
	if got := e.ch.texts("1"); fmt.Sprint(got) != "[hello]" {
		t.Fatalf("sent %q, want the scripted text once (the rephrase ran out of time)", got)
	}
}

// After a customer blocked the bot, the rest of their messages on that chat
// are dropped without a try, and the failure is reported once.
func TestUnreachableDropsTheRestOfTheChat(t *testing.T) {
	redistest.Each(t, testUnreachableDropsTheRestOfTheChat)
}

func testUnreachableDropsTheRestOfTheChat(t *testing.T, r *redistest.Redis) {
	e := newEnv(t, r)
	e.ch.fail["1"] = []error{fmt.Errorf("blocked: %w", channels.ErrUnreachable)}
	e.queue(t, "c1", "1", time.Now(), "a", "b", "c")
	s := e.sender(delivery.Options{}, delivery.Limits{})
	s.Pump(context.Background())
	if e.ch.calls != 1 || len(e.ch.texts("1")) != 0 {
		t.Fatalf("%d calls, sent %v; want one try and nothing sent", e.ch.calls, e.ch.texts("1"))
	}
	if len(e.fails) != 1 {
		t.Fatalf("failures reported: %v, want one", e.fails)
	}
	if ps, _, _ := e.store.Outbox(context.Background(), "c1", 10); len(ps) != 0 {
		t.Fatalf("outbox still holds %d messages", len(ps))
	}
}
