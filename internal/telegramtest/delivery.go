package telegramtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// This file holds what delivery tests need beyond a chat: when each message
// reached the API (and through which base URL), outages of a method for a
// while, and webhook delivery over several connections to several processes,
// the way Telegram delivers to a bot behind a load balancer.

// Send is one sendMessage the API accepted.
type Send struct {
	// At is when the request arrived at the server.
	At        time.Time
	Chat      int64
	Text      string
	MessageID int
	// Via names the base URL the sender used (see URLFor).
	Via string
}

// URLFor returns a base URL for telegram.api_url that reaches this server
// and tags every call made through it with via, so a test tells apart the
// calls of several bot processes (Call.Via, Send.Via). via must be a word
// without "/".
func (s *Server) URLFor(via string) string {
	if via == "" || strings.Contains(via, "/") {
		s.t.Fatalf("telegramtest: via %q must be a non-empty word without /", via)
	}
	return s.URL + "/via/" + via
}

// Sends returns every accepted sendMessage, in order of arrival.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sends)
}

// SendsTo returns the accepted sendMessage calls to one chat, in order.
func (s *Server) SendsTo(chat int64) []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Send
	for _, m := range s.sends {
		if m.Chat == chat {
			out = append(out, m)
		}
	}
	return out
}

// SendCounts returns how many messages each chat was sent.
func (s *Server) SendCounts() map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int{}
	for _, m := range s.sends {
		out[m.Chat]++
	}
	return out
}

// WaitSends waits until cond, called with every accepted send so far, is
// true; it reports false after timeout. cond runs under the server's lock:
// it must read only its argument, never call the server.
func (s *Server) WaitSends(timeout time.Duration, cond func([]Send) bool) bool {
	return s.waitFor(timeout, func() bool { return cond(s.sends) })
}

// MaxInWindow returns the largest number of times that fall in one
// half-open window [t, t+w), and the start of the first such window. The
// times need not be sorted.
func MaxInWindow(times []time.Time, w time.Duration) (int, time.Time) {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, at := 0, time.Time{}
	j := 0
	// A window holding the most times can always start at one of them.
	for i := range ts {
		if j < i {
			j = i
		}
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		if j-i > best {
			best, at = j-i, ts[i]
		}
	}
	return best, at
}

// MaxSendsIn returns the most accepted sends in any window of length w
// (half-open), overall and to any one chat, with the chat of the latter.
func (s *Server) MaxSendsIn(w time.Duration) (all int, perChat int, chat int64) {
	sends := s.Sends()
	times := make([]time.Time, len(sends))
	byChat := map[int64][]time.Time{}
	for i, m := range sends {
		times[i] = m.At
		byChat[m.Chat] = append(byChat[m.Chat], m.At)
	}
	all, _ = MaxInWindow(times, w)
	for c, ts := range byChat {
		if n, _ := MaxInWindow(ts, w); n > perChat || (n == perChat && c < chat) {
			perChat, chat = n, c
		}
	}
	return all, perChat, chat
}

// ---- outages

type outage struct {
	from, until time.Time
	f           Failure
}

// FailFor makes every call of method answer f from now for d, then
// healthy again: an outage (502s from Telegram for a minute), unlike Fail,
// which answers a given number of calls. It returns when the outage ends.
func (s *Server) FailFor(method string, d time.Duration, f Failure) time.Time {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outages[method] = append(s.outages[method], outage{from: now, until: now.Add(d), f: f})
	return now.Add(d)
}

func (s *Server) outageLocked(method string, at time.Time) *Failure {
	for _, o := range s.outages[method] {
		if !at.Before(o.from) && at.Before(o.until) {
			f := o.f
			return &f
		}
	}
	return nil
}

// statusWriter notes the status of an answer when it is written.
type statusWriter struct {
	http.ResponseWriter
	done func(code int)
}

func (w *statusWriter) WriteHeader(code int) {
	w.done(code)
	w.ResponseWriter.WriteHeader(code)
}

// Hijack lets Failure.Drop close the connection through the wrapper.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("telegramtest: cannot hijack")
	}
	w.done(0)
	return hj.Hijack()
}

// ---- updates made by hand, and their timings

// NewText makes the update of u writing text in chat, as SendText does, but
// does not queue it: the test posts it itself (Post) to the processes it
// chooses. It returns the update id and its JSON.
func (s *Server) NewText(chat Chat, u User, text string) (int, []byte) {
	m := map[string]any{"text": text}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m["entities"] = []Entity{{Type: "bot_command", Offset: 0, Length: len(utf16.Encode([]rune(cmd)))}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextMsg++
	m["message_id"] = s.nextMsg
	m["from"] = u
	m["chat"] = chat
	m["date"] = time.Now().Unix()
	return s.makeLocked(chat.ID, map[string]any{"message": m})
}

// Post posts update id to a webhook URL with the secret the bot set, once,
// the way Telegram would, and returns the status (0 with the error when no
// answer came). A 2xx counts as the update's acknowledgement (Acked).
func (s *Server) Post(ctx context.Context, client *http.Client, hook string, id int) (int, error) {
	s.mu.Lock()
	raw, secret := s.raws[id], s.secret
	s.mu.Unlock()
	if raw == nil {
		return 0, fmt.Errorf("telegramtest: no update %d", id)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		s.mu.Lock()
		s.ackLocked(id, time.Now())
		if s.ackedBy[id] == "" {
			s.ackedBy[id] = hook
		}
		s.mu.Unlock()
	}
	return resp.StatusCode, nil
}

func (s *Server) ackLocked(id int, at time.Time) {
	if _, ok := s.acked[id]; !ok {
		s.acked[id] = at
	}
	if id+1 > s.confirmed {
		s.confirmed = id + 1
	}
	s.notifyLocked()
}

// Created returns when update id was made.
func (s *Server) Created(id int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[id]
}

// Acked returns when update id was first acknowledged: a 2xx webhook answer
// (by the server's delivery or Post) or a getUpdates offset above it.
func (s *Server) Acked(id int) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.acked[id]
	return at, ok
}

// AckedBy returns the webhook URL whose 2xx first acknowledged update id
// ("" when none did, or when a getUpdates offset confirmed it).
func (s *Server) AckedBy(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackedBy[id]
}

// ChatOf returns the chat of update id.
func (s *Server) ChatOf(id int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chats[id]
}

// Pending returns how many queued updates are not confirmed yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// WaitDrained waits until every queued update is confirmed; false after timeout.
func (s *Server) WaitDrained(timeout time.Duration) bool {
	return s.waitFor(timeout, func() bool { return len(s.queue) == 0 })
}

// ---- webhook delivery

// Delivery says how the server posts queued updates to webhooks.
type Delivery struct {
	// Targets are the webhook URLs, as behind a load balancer: update id
	// goes first to Targets[id % len], and each failed attempt moves it to
	// the next. Empty: the URL the bot set with setWebhook.
	Targets []string
	// Conns is how many posts may be in flight at once, Telegram's
	// max_connections (1 to 100; 0 means 40, Telegram's default).
	Conns int
	// ChatParallel lets several updates of one chat be in flight at once.
	// By default a chat's next update waits for the previous one's 2xx, as
	// the Bot API server keeps one update per chat in flight.
	ChatParallel bool
	// Timeout is how long an answer may take before the post counts as
	// failed and the update is delivered again (0 means 30 s).
	Timeout time.Duration
}

// SetDelivery switches webhook delivery from one update at a time, in
// order, to the given fan-out. Updates that fail (no answer, a non-2xx, a
// timeout) are delivered again after 100 ms, to the next target.
func (s *Server) SetDelivery(d Delivery) {
	if d.Conns <= 0 {
		d.Conns = 40
	}
	if d.Timeout <= 0 {
		d.Timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = d.Conns
	tr.MaxIdleConnsPerHost = d.Conns
	s.mu.Lock()
	s.dopt = &d
	s.dclient = &http.Client{Timeout: d.Timeout, Transport: tr}
	s.notifyLocked()
	s.kick()
	s.mu.Unlock()
}

// Attempts returns how many times update id was posted by the server.
func (s *Server) Attempts(id int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[id]
}

type job struct {
	u      update
	hook   string
	secret string
	client *http.Client
}

// nextLocked picks the updates to post now, marks them in flight, and
// says how long until a held-back update may be retried.
func (s *Server) nextLocked(now time.Time) ([]job, time.Duration) {
	wake := time.Hour
	if s.closed {
		return nil, wake
	}
	targets, conns, parallel, client := []string{s.webhook}, 1, false, s.dclient
	legacy := s.dopt == nil
	if !legacy {
		conns, parallel = s.dopt.Conns, s.dopt.ChatParallel
		if len(s.dopt.Targets) > 0 {
			targets = s.dopt.Targets
		}
	}
	if targets[0] == "" {
		return nil, wake
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
		s.dclient = client
	}
	busy := len(s.inflight)
	var out []job
	waiting := map[int64]bool{} // chats with an earlier unconfirmed update
	for i, u := range s.queue {
		if busy >= conns || (legacy && i > 0) {
			break
		}
		held := !parallel && u.chat != 0 && waiting[u.chat]
		waiting[u.chat] = true
		if held || s.inflight[u.id] {
			continue
		}
		if at, ok := s.retryAt[u.id]; ok && now.Before(at) {
			wake = min(wake, at.Sub(now))
			continue
		}
		s.inflight[u.id] = true
		busy++
		hook := targets[(u.id+s.attempts[u.id])%len(targets)]
		s.attempts[u.id]++
		out = append(out, job{u: u, hook: hook, secret: s.secret, client: client})
	}
	return out, wake
}

// deliver posts queued updates to the webhook with the secret header,
// retrying an update until it gets a 2xx, as Telegram does.
func (s *Server) deliver(ctx context.Context) {
	results := make(chan struct{}, 1)
	for {
		s.mu.Lock()
		jobs, wake := s.nextLocked(time.Now())
		s.mu.Unlock()
		for _, j := range jobs {
			go func() {
				s.post(ctx, j)
				select {
				case results <- struct{}{}:
				default:
				}
			}()
		}
		t := time.NewTimer(wake)
		select {
		case <-ctx.Done():
			t.Stop()
			// Let the posts in flight see the cancellation before the
			// server closes.
			s.waitFor(5*time.Second, func() bool { return len(s.inflight) == 0 })
			return
		case <-s.delivery:
		case <-results:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Server) post(ctx context.Context, j job) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, j.hook, bytes.NewReader(j.u.raw))
	req.Header.Set("Content-Type", "application/json")
	if j.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", j.secret)
	}
	resp, err := j.client.Do(req)
	ok := false
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ok = resp.StatusCode/100 == 2
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, j.u.id)
	if ok {
		delete(s.retryAt, j.u.id)
		if i := slices.IndexFunc(s.queue, func(u update) bool { return u.id == j.u.id }); i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
		}
		s.ackLocked(j.u.id, now)
		if s.ackedBy[j.u.id] == "" {
			s.ackedBy[j.u.id] = j.hook
		}
	} else {
		s.retryAt[j.u.id] = now.Add(100 * time.Millisecond)
		s.notifyLocked()
	}
}
