package telegramtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMaxInWindowIsHalfOpen(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	cases := []struct {
		times []time.Time
		want  int
		start int // ms
	}{
		{nil, 0, -1},
		{at(0), 1, 0},
		{at(0, 999), 2, 0},
		{at(0, 1000), 1, 0},                    // [t, t+1s) leaves t+1s out
		{at(1500, 0, 999, 1000, 1998), 4, 999}, // unsorted input; [999, 1999) holds four
		{at(0, 10, 20, 30, 5000, 5001), 4, 0},
	}
	for _, c := range cases {
		n, start := MaxInWindow(c.times, time.Second)
		if n != c.want {
			t.Errorf("MaxInWindow(%v) = %d, want %d", c.times, n, c.want)
		}
		if c.start >= 0 && !start.Equal(t0.Add(time.Duration(c.start)*time.Millisecond)) {
			t.Errorf("MaxInWindow(%v) starts at %v, want +%dms", c.times, start.Sub(t0), c.start)
		}
	}
}

func send(t *testing.T, base, token string, chat int64, text string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/bot"+token+"/sendMessage", url.Values{"chat_id": {strconv.FormatInt(chat, 10)}, "text": {text}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Calls through URLFor carry their tag; sends have arrival times; an outage
// answers its failure for its duration only.
func TestViaSendsAndOutage(t *testing.T) {
	s := New(t)
	before := time.Now()
	if code := send(t, s.URLFor("p1"), s.Token, 10, "a"); code != 200 {
		t.Fatalf("send via p1: %d", code)
	}
	if code := send(t, s.URLFor("p2"), s.Token, 11, "b"); code != 200 {
		t.Fatalf("send via p2: %d", code)
	}
	if code := send(t, s.URL, s.Token, 10, "c"); code != 200 {
		t.Fatalf("send: %d", code)
	}
	sends := s.Sends()
	if len(sends) != 3 || sends[0].Via != "p1" || sends[1].Via != "p2" || sends[2].Via != "" || sends[0].At.Before(before) || sends[2].At.Before(sends[0].At) {
		t.Fatalf("sends = %+v", sends)
	}
	if got := s.SendCounts(); got[10] != 2 || got[11] != 1 {
		t.Fatalf("SendCounts = %v", got)
	}
	if got := s.SendsTo(10); len(got) != 2 || got[1].Text != "c" {
		t.Fatalf("SendsTo(10) = %+v", got)
	}
	if all, per, chat := s.MaxSendsIn(time.Minute); all != 3 || per != 2 || chat != 10 {
		t.Fatalf("MaxSendsIn = %d, %d in chat %d", all, per, chat)
	}
	calls := s.Calls("sendMessage")
	if calls[0].Via != "p1" || calls[0].Status != 200 || calls[0].End.Before(calls[0].At) {
		t.Fatalf("call = %+v", calls[0])
	}

	end := s.FailFor("sendMessage", 300*time.Millisecond, Failure{Code: 502, Description: "Bad Gateway"})
	if code := send(t, s.URL, s.Token, 10, "d"); code != 502 {
		t.Fatalf("send during the outage: %d, want 502", code)
	}
	time.Sleep(time.Until(end) + 10*time.Millisecond)
	if code := send(t, s.URL, s.Token, 10, "e"); code != 200 {
		t.Fatalf("send after the outage: %d, want 200", code)
	}
	if got := s.SendsTo(10); len(got) != 3 || got[2].Text != "e" {
		t.Fatalf("the failed send was recorded as a send: %+v", got)
	}
	if c := s.Calls("sendMessage"); c[3].Status != 502 {
		t.Fatalf("the outage call has status %d", c[3].Status)
	}
}

// hook is a webhook that records which updates it got, how many of one chat
// were in flight at once, and answers status.
type hook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int
	delay    time.Duration
	got      []int
	inFlight map[int64]int
	maxChat  int
	cur, max int
}

func newHook(t *testing.T, status int, delay time.Duration) *hook {
	h := &hook{status: status, delay: delay, inFlight: map[int64]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u struct {
			UpdateID int `json:"update_id"`
			Message  struct {
				Chat struct {
					ID int64 `json:"id"`
				} `json:"chat"`
			} `json:"message"`
		}
		json.NewDecoder(r.Body).Decode(&u)
		chat := u.Message.Chat.ID
		h.mu.Lock()
		h.inFlight[chat]++
		h.cur++
		h.maxChat = max(h.maxChat, h.inFlight[chat])
		h.max = max(h.max, h.cur)
		h.mu.Unlock()
		time.Sleep(h.delay)
		h.mu.Lock()
		h.inFlight[chat]--
		h.cur--
		if h.status == 200 && r.Header.Get("X-Telegram-Bot-Api-Secret-Token") == "sekret" {
			h.got = append(h.got, u.UpdateID)
		}
		h.mu.Unlock()
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func setWebhook(t *testing.T, s *Server, hook string) {
	t.Helper()
	resp, err := http.PostForm(s.URL+"/bot"+s.Token+"/setWebhook", url.Values{"url": {hook}, "secret_token": {"sekret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Delivery over several connections to two targets, one of them broken:
// every update ends acknowledged by the healthy one, never two of one chat
// at once, several chats at once.
func TestDeliveryFansOutAndFailsOver(t *testing.T) {
	s := New(t)
	good, bad := newHook(t, 200, 30*time.Millisecond), newHook(t, 503, 0)
	setWebhook(t, s, good.srv.URL)
	s.SetDelivery(Delivery{Targets: []string{good.srv.URL, bad.srv.URL}, Conns: 8})
	var ids []int
	for i := range 40 {
		u := User{ID: int64(100 + i%5), FirstName: "C"}
		ids = append(ids, s.SendText(Private(u), u, "m"+strconv.Itoa(i)))
	}
	if !s.WaitDrained(15 * time.Second) {
		t.Fatalf("%d updates still queued", s.Pending())
	}
	good.mu.Lock()
	defer good.mu.Unlock()
	if len(good.got) != 40 {
		t.Fatalf("the healthy target got %d updates, want 40", len(good.got))
	}
	if good.maxChat != 1 {
		t.Fatalf("%d updates of one chat were in flight at once, want 1", good.maxChat)
	}
	if good.max < 3 {
		t.Fatalf("at most %d posts were in flight at once; delivery is not concurrent", good.max)
	}
	failedOver := 0
	for _, id := range ids {
		at, ok := s.Acked(id)
		if !ok || at.Before(s.Created(id)) {
			t.Fatalf("update %d: acked %v at %v, created %v", id, ok, at, s.Created(id))
		}
		if s.AckedBy(id) != good.srv.URL {
			t.Fatalf("update %d acknowledged by %q", id, s.AckedBy(id))
		}
		if s.Attempts(id) > 1 {
			failedOver++
		}
	}
	if failedOver == 0 {
		t.Fatalf("no update was tried on the broken target first")
	}
	// Per chat, the order of arrival is the order of the updates.
	last := map[int64]int{}
	for _, id := range good.got {
		c := s.ChatOf(id)
		if id < last[c] {
			t.Fatalf("chat %d: update %d arrived after %d", c, id, last[c])
		}
		last[c] = id
	}
}

func TestDeliveryChatParallel(t *testing.T) {
	s := New(t)
	h := newHook(t, 200, 50*time.Millisecond)
	setWebhook(t, s, h.srv.URL)
	s.SetDelivery(Delivery{Conns: 4, ChatParallel: true})
	u := User{ID: 5, FirstName: "F"}
	for i := range 8 {
		s.SendText(Private(u), u, "m"+strconv.Itoa(i))
	}
	if !s.WaitDrained(10 * time.Second) {
		t.Fatalf("%d updates still queued", s.Pending())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxChat < 2 || h.max > 4 {
		t.Fatalf("one chat had at most %d in flight, all chats %d; want ≥ 2 and ≤ 4", h.maxChat, h.max)
	}
}

// NewText makes an update that is not queued; Post delivers it and records
// the acknowledgement; getUpdates offsets acknowledge too.
func TestNewTextPostAndPollAcks(t *testing.T) {
	s := New(t)
	h := newHook(t, 200, 0)
	setWebhook(t, s, h.srv.URL)
	u := User{ID: 9, FirstName: "P"}
	id, raw := s.NewText(Private(u), u, "m1")
	if !strings.Contains(string(raw), `"text":"m1"`) || s.Pending() != 0 || s.ChatOf(id) != 9 {
		t.Fatalf("NewText: %s, pending %d", raw, s.Pending())
	}
	if _, ok := s.Acked(id); ok {
		t.Fatal("acked before it was posted")
	}
	code, err := s.Post(context.Background(), http.DefaultClient, h.srv.URL, id)
	if err != nil || code != 200 {
		t.Fatalf("Post = %d, %v", code, err)
	}
	if at, ok := s.Acked(id); !ok || at.Before(s.Created(id)) || s.AckedBy(id) != h.srv.URL {
		t.Fatalf("Acked = %v, %v by %q", at, ok, s.AckedBy(id))
	}

	// Polling: the offset of the next call acknowledges.
	resp, _ := http.PostForm(s.URL+"/bot"+s.Token+"/deleteWebhook", nil)
	resp.Body.Close()
	id2 := s.SendText(Private(u), u, "m2")
	resp, _ = http.PostForm(s.URLFor("poller")+"/bot"+s.Token+"/getUpdates", url.Values{"offset": {strconv.Itoa(id2 + 1)}})
	resp.Body.Close()
	if _, ok := s.Acked(id2); !ok {
		t.Fatal("an update confirmed by offset is not acked")
	}
	if c := s.Calls("getUpdates"); len(c) != 1 || c[0].Via != "poller" {
		t.Fatalf("getUpdates calls = %+v", c)
	}
}

// A second getUpdates ends the one still waiting with a 409, as Telegram
// does when two processes poll for one bot.
func TestSecondPollerConflicts(t *testing.T) {
	s := New(t)
	first := make(chan int, 1)
	go func() {
		resp, err := http.PostForm(s.URLFor("one")+"/bot"+s.Token+"/getUpdates", url.Values{"timeout": {"10"}})
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	s.WaitCalls("getUpdates", 1)
	t0 := time.Now()
	resp, err := http.PostForm(s.URLFor("two")+"/bot"+s.Token+"/getUpdates", url.Values{"timeout": {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the second poller got %d, want 200", resp.StatusCode)
	}
	select {
	case code := <-first:
		if code != http.StatusConflict {
			t.Fatalf("the first poller got %d, want 409", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the first poller still waits %s after the second came", time.Since(t0))
	}
}
