// Package telegramtest is a Bot API server for tests, on loopback. It speaks
// the real JSON of the methods the bot uses (getMe, getUpdates with offset and
// long-poll timeout, sendMessage, answerCallbackQuery, editMessageReplyMarkup,
// setWebhook, deleteWebhook), keeps chats the way Telegram does, plays the
// customers' side (texts, commands, button presses, media), delivers updates
// to a webhook with the secret header when one is set, and can answer with the
// failures a bot meets in production (429 with retry_after, 403 for a user who
// blocked the bot, network trouble, 409 for a second poller).
package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// BotID is the id of the test bot; the token starts with it, like real ones.
const BotID = 7000001

// BotUsername is what getMe answers.
const BotUsername = "journey_test_bot"

// User is a Telegram user (a customer in tests).
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a Telegram chat.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

// Button is an inline keyboard button.
type Button struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
}

// Keyboard is an inline keyboard markup.
type Keyboard struct {
	InlineKeyboard [][]Button `json:"inline_keyboard"`
}

// Message is a message in a chat, the bot's or a customer's.
type Message struct {
	MessageID   int       `json:"message_id"`
	From        *User     `json:"from,omitempty"`
	Chat        Chat      `json:"chat"`
	Date        int64     `json:"date"`
	Text        string    `json:"text,omitempty"`
	Entities    []Entity  `json:"entities,omitempty"`
	ReplyMarkup *Keyboard `json:"reply_markup,omitempty"`
}

// Entity marks a command in a text.
type Entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
}

// Call is one request the bot made.
type Call struct {
	Method string
	Params url.Values
	// Via names the base URL the caller used (see URLFor); "" for URL.
	Via string
	// At is when the request arrived, End when its answer was written (zero
	// while a long poll still waits).
	At, End time.Time
	// Status is the HTTP status answered (0 while in flight).
	Status int
}

// Failure is an error answer to inject.
type Failure struct {
	Code        int
	Description string
	RetryAfter  int // seconds, for 429
	// Drop closes the connection without an answer (a network error).
	Drop bool
}

type update struct {
	id   int
	raw  []byte
	chat int64
}

// Server is the fake Bot API. All methods are safe for concurrent use.
type Server struct {
	// URL is the server's base, what telegram.api_url takes.
	URL string
	// Token is the only token accepted.
	Token string

	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	nextUpd int
	nextMsg int
	nextCB  int
	queue   []update       // not yet confirmed by an offset
	raws    map[int][]byte // every update ever queued, for Redeliver
	// confirmed is the highest offset a getUpdates call sent.
	confirmed int
	messages  map[int64][]*Message // per chat, the bot's messages
	callbacks map[string]bool      // query id -> answered
	calls     []Call
	failures  map[string][]Failure
	blocked   map[int64]bool
	webhook   string
	secret    string
	allowed   string
	delivery  chan struct{}
	closed    bool
	polls     int // getUpdates calls so far; a newer one ends an older one

	// What delivery.go adds: timings, sends, outages, concurrent webhook delivery.
	created  map[int]time.Time
	acked    map[int]time.Time
	ackedBy  map[int]string // update id -> the webhook URL that acknowledged it
	chats    map[int]int64  // update id -> chat, for every update ever made
	sends    []Send
	outages  map[string][]outage
	dopt     *Delivery // nil: one update at a time to the webhook the bot set
	dclient  *http.Client
	inflight map[int]bool
	retryAt  map[int]time.Time
	attempts map[int]int
}

// New starts a server on 127.0.0.1 and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		Token:     fmt.Sprintf("%d:AAtestSECRETtoken-%d", BotID, time.Now().UnixNano()%1e9),
		t:         t,
		changed:   make(chan struct{}),
		nextUpd:   500000,
		nextMsg:   100,
		messages:  map[int64][]*Message{},
		raws:      map[int][]byte{},
		callbacks: map[string]bool{},
		failures:  map[string][]Failure{},
		blocked:   map[int64]bool{},
		delivery:  make(chan struct{}, 1),
		created:   map[int]time.Time{},
		acked:     map[int]time.Time{},
		ackedBy:   map[int]string{},
		chats:     map[int]int64{},
		outages:   map[string][]outage{},
		inflight:  map[int]bool{},
		retryAt:   map[int]time.Time{},
		attempts:  map[int]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.deliver(ctx) }()
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.notifyLocked()
		s.mu.Unlock()
		cancel()
		<-done
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) is true or the deadline
// passes; it reports cond's last value.
func (s *Server) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			return cond()
		}
	}
}

// ---- the customers' side

// Private returns the private chat of a user.
func Private(u User) Chat {
	return Chat{ID: u.ID, Type: "private", FirstName: u.FirstName, Username: u.Username}
}

// SendText has u write text in chat (a command when it starts with "/"),
// and returns the update id.
func (s *Server) SendText(chat Chat, u User, text string) int {
	m := map[string]any{"text": text}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m["entities"] = []Entity{{Type: "bot_command", Offset: 0, Length: len(utf16.Encode([]rune(cmd)))}}
	}
	return s.pushMessage(chat, u, m)
}

// SendMedia has u send a photo, sticker, voice, document or location.
func (s *Server) SendMedia(chat Chat, u User, kind string) int {
	var m map[string]any
	switch kind {
	case "photo":
		m = map[string]any{"photo": []map[string]any{{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}}}
	case "sticker":
		m = map[string]any{"sticker": map[string]any{"file_id": "s1", "file_unique_id": "u2", "width": 512, "height": 512, "is_animated": false}}
	case "voice":
		m = map[string]any{"voice": map[string]any{"file_id": "v1", "file_unique_id": "u3", "duration": 3}}
	case "document":
		m = map[string]any{"document": map[string]any{"file_id": "d1", "file_unique_id": "u4", "file_name": "nota.pdf"}}
	case "location":
		m = map[string]any{"location": map[string]any{"latitude": -23.55, "longitude": -46.63}}
	default:
		s.t.Fatalf("telegramtest: unknown media %q", kind)
	}
	return s.pushMessage(chat, u, m)
}

func (s *Server) pushMessage(chat Chat, u User, fields map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextMsg++
	fields["message_id"] = s.nextMsg
	fields["from"] = u
	fields["chat"] = chat
	fields["date"] = time.Now().Unix()
	return s.pushLocked(chat.ID, map[string]any{"message": fields})
}

func (s *Server) pushLocked(chat int64, body map[string]any) int {
	id, raw := s.makeLocked(chat, body)
	s.queue = append(s.queue, update{id: id, raw: raw, chat: chat})
	s.notifyLocked()
	s.kick()
	return id
}

// makeLocked numbers and records an update without queueing it.
func (s *Server) makeLocked(chat int64, body map[string]any) (int, []byte) {
	s.nextUpd++
	body["update_id"] = s.nextUpd
	raw, err := json.Marshal(body)
	if err != nil {
		s.t.Fatalf("telegramtest: %v", err)
	}
	s.raws[s.nextUpd] = raw
	s.chats[s.nextUpd] = chat
	s.created[s.nextUpd] = time.Now()
	return s.nextUpd, raw
}

// Press has u tap the button labelled label on the bot's latest message in
// chat that still shows it, and returns the update id. The test fails when
// no message shows that button.
func (s *Server) Press(chat Chat, u User, label string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[chat.ID]
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.ReplyMarkup == nil {
			continue
		}
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.Text == label {
					return s.pressLocked(u, m, b.CallbackData)
				}
			}
		}
	}
	s.t.Fatalf("telegramtest: no message in chat %d shows a button %q", chat.ID, label)
	return 0
}

// PressData taps a button with the given data on message msgID, whether the
// keyboard is still shown or not (a tap that raced the keyboard's removal).
func (s *Server) PressData(chat Chat, u User, msgID int, data string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages[chat.ID] {
		if m.MessageID == msgID {
			return s.pressLocked(u, m, data)
		}
	}
	s.t.Fatalf("telegramtest: no message %d in chat %d", msgID, chat.ID)
	return 0
}

func (s *Server) pressLocked(u User, m *Message, data string) int {
	s.nextCB++
	id := fmt.Sprintf("cbq%d", s.nextCB)
	s.callbacks[id] = false
	cp := *m
	return s.pushLocked(m.Chat.ID, map[string]any{"callback_query": map[string]any{
		"id": id, "from": u, "message": cp, "chat_instance": fmt.Sprintf("ci%d", m.Chat.ID), "data": data,
	}})
}

// Redeliver puts an update that was already delivered back at the head of
// the queue, the way a lost offset, a restart or a second poller sees it again.
func (s *Server) Redeliver(updateID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := s.raws[updateID]
	if raw == nil {
		s.t.Fatalf("telegramtest: no update %d to redeliver", updateID)
	}
	s.queue = append([]update{{id: updateID, raw: raw, chat: s.chats[updateID]}}, s.queue...)
	s.notifyLocked()
	s.kick()
}

// Update returns the JSON of an update sent before (to post it by hand).
func (s *Server) Update(updateID int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.raws[updateID])
}

// Block makes sendMessage to chat fail as for a user who blocked the bot.
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	s.blocked[chatID] = true
	s.mu.Unlock()
}

// Fail makes the next calls of method answer with f, in order.
func (s *Server) Fail(method string, f ...Failure) {
	s.mu.Lock()
	s.failures[method] = append(s.failures[method], f...)
	s.mu.Unlock()
}

// ---- what the bot did

// Messages returns copies of the bot's messages in chat, oldest first, with
// their current keyboards.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(chatID)
}

func (s *Server) messagesLocked(chatID int64) []Message {
	out := make([]Message, 0, len(s.messages[chatID]))
	for _, m := range s.messages[chatID] {
		cp := *m
		if m.ReplyMarkup != nil {
			k := *m.ReplyMarkup
			cp.ReplyMarkup = &k
		}
		out = append(out, cp)
	}
	return out
}

// WaitMessages waits until the bot has sent at least n messages to chat and
// returns them; the test fails after 15 seconds without them.
func (s *Server) WaitMessages(chatID int64, n int) []Message {
	s.t.Helper()
	if !s.waitFor(15*time.Second, func() bool { return len(s.messages[chatID]) >= n }) {
		s.t.Fatalf("telegramtest: waited for %d messages in chat %d, have %d: %s", n, chatID, len(s.Messages(chatID)), texts(s.Messages(chatID)))
	}
	return s.Messages(chatID)
}

// WaitConfirmed waits until the bot confirmed updateID (a getUpdates call with
// a higher offset, or a 2xx webhook answer); the test fails after 15 seconds.
func (s *Server) WaitConfirmed(updateID int) {
	s.t.Helper()
	if !s.waitFor(15*time.Second, func() bool { return !s.queuedLocked(updateID) && s.confirmed > updateID }) {
		s.t.Fatalf("telegramtest: update %d was not confirmed", updateID)
	}
}

// WaitDelivered waits until updateID left the queue (confirmed by offset or
// delivered to the webhook with a 2xx).
func (s *Server) WaitDelivered(updateID int) {
	s.t.Helper()
	if !s.waitFor(15*time.Second, func() bool { return !s.queuedLocked(updateID) }) {
		s.t.Fatalf("telegramtest: update %d was not delivered", updateID)
	}
}

// WaitCalls waits until method was called at least n times and returns the calls.
func (s *Server) WaitCalls(method string, n int) []Call {
	s.t.Helper()
	if !s.waitFor(15*time.Second, func() bool { return len(s.callsLocked(method)) >= n }) {
		s.t.Fatalf("telegramtest: waited for %d %s calls, have %d", n, method, len(s.Calls(method)))
	}
	return s.Calls(method)
}

// Queued reports whether updateID is still waiting to be confirmed.
func (s *Server) Queued(updateID int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queuedLocked(updateID)
}

func (s *Server) queuedLocked(id int) bool {
	for _, u := range s.queue {
		if u.id == id {
			return true
		}
	}
	return false
}

// Calls returns the requests made to method ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked(method)
}

func (s *Server) callsLocked(method string) []Call {
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Answered reports whether a callback query was answered.
func (s *Server) Answered(queryID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callbacks[queryID]
}

// Webhook returns the webhook URL and secret set by the bot.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook, s.secret
}

func texts(ms []Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "\n  %q", m.Text)
	}
	return b.String()
}

// ---- the API

type reply struct {
	OK          bool            `json:"ok"`
	Result      any             `json:"result,omitempty"`
	ErrorCode   int             `json:"error_code,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  *map[string]int `json:"parameters,omitempty"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	path, via := r.URL.Path, ""
	if rest, ok := strings.CutPrefix(path, "/via/"); ok {
		via, path, _ = strings.Cut(rest, "/")
		path = "/" + path
	}
	token, method, ok := strings.Cut(strings.TrimPrefix(path, "/bot"), "/")
	if !ok || !strings.HasPrefix(path, "/bot") {
		writeReply(w, http.StatusNotFound, reply{ErrorCode: 404, Description: "Not Found"})
		return
	}
	if token != s.Token {
		writeReply(w, http.StatusUnauthorized, reply{ErrorCode: 401, Description: "Unauthorized"})
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeReply(w, http.StatusBadRequest, reply{ErrorCode: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Params: params, Via: via, At: at})
	ci := len(s.calls) - 1
	var fail *Failure
	if fs := s.failures[method]; len(fs) > 0 {
		fail = &fs[0]
		s.failures[method] = fs[1:]
	} else if f := s.outageLocked(method, at); f != nil {
		fail = f
	}
	s.notifyLocked()
	s.mu.Unlock()
	w = &statusWriter{ResponseWriter: w, done: func(code int) {
		s.mu.Lock()
		s.calls[ci].Status, s.calls[ci].End = code, time.Now()
		s.notifyLocked()
		s.mu.Unlock()
	}}
	if fail != nil {
		if fail.Drop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			writeReply(w, http.StatusBadGateway, reply{ErrorCode: 502, Description: "Bad Gateway"})
			return
		}
		rep := reply{ErrorCode: fail.Code, Description: fail.Description}
		if fail.RetryAfter > 0 {
			rep.Parameters = &map[string]int{"retry_after": fail.RetryAfter}
		}
		writeReply(w, fail.Code, rep)
		return
	}
	var res any
	var apiErr *reply
	switch method {
	case "getMe":
		res = map[string]any{"id": BotID, "is_bot": true, "first_name": "Journey Test", "username": BotUsername,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}
	case "getUpdates":
		res, apiErr = s.getUpdates(r.Context(), params)
	case "sendMessage":
		res, apiErr = s.sendMessage(params, via, at)
	case "answerCallbackQuery":
		res, apiErr = s.answerCallback(params)
	case "editMessageReplyMarkup":
		res, apiErr = s.editMarkup(params)
	case "setWebhook":
		s.mu.Lock()
		s.webhook, s.secret, s.allowed = params.Get("url"), params.Get("secret_token"), params.Get("allowed_updates")
		s.notifyLocked()
		s.kick()
		s.mu.Unlock()
		res = true
	case "deleteWebhook":
		s.mu.Lock()
		s.webhook, s.secret = "", ""
		if params.Get("drop_pending_updates") == "true" {
			s.queue = nil
		}
		s.notifyLocked()
		s.mu.Unlock()
		res = true
	case "getWebhookInfo":
		s.mu.Lock()
		res = map[string]any{"url": s.webhook, "has_custom_certificate": false, "pending_update_count": len(s.queue)}
		s.mu.Unlock()
	default:
		apiErr = &reply{ErrorCode: 404, Description: "Not Found: method not found"}
	}
	if apiErr != nil {
		writeReply(w, apiErr.ErrorCode, *apiErr)
		return
	}
	writeReply(w, http.StatusOK, reply{OK: true, Result: res})
}

func writeReply(w http.ResponseWriter, status int, r reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(r)
}

// readParams accepts what the Bot API accepts: a query string, a urlencoded
// or multipart form, or a JSON object.
func readParams(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
			return nil, fmt.Errorf("can't parse JSON: %w", err)
		}
		v := r.URL.Query()
		for k, x := range m {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			} else {
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
		return v, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, err
		}
		return r.Form, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.Form, nil
}

func badRequest(desc string) *reply {
	return &reply{ErrorCode: 400, Description: "Bad Request: " + desc}
}

func (s *Server) getUpdates(ctx context.Context, p url.Values) (any, *reply) {
	offset, _ := strconv.Atoi(p.Get("offset"))
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p.Get("timeout"))
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	s.mu.Lock()
	// As on Telegram, a getUpdates ends the one still waiting with a 409:
	// two pollers of one bot keep knocking each other off.
	s.polls++
	poll := s.polls
	s.notifyLocked()
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if s.polls != poll {
			s.mu.Unlock()
			return nil, &reply{ErrorCode: 409, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		}
		if s.webhook != "" {
			s.mu.Unlock()
			return nil, &reply{ErrorCode: 409, Description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
		}
		if offset > 0 {
			// An offset confirms every update below it, as on Telegram.
			kept := s.queue[:0]
			now := time.Now()
			for _, u := range s.queue {
				if u.id >= offset {
					kept = append(kept, u)
				} else if _, ok := s.acked[u.id]; !ok {
					s.acked[u.id] = now
				}
			}
			s.queue = kept
			if offset > s.confirmed {
				s.confirmed = offset
			}
			s.notifyLocked()
		}
		var out []json.RawMessage
		for _, u := range s.queue {
			if len(out) < limit {
				out = append(out, u.raw)
			}
		}
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if len(out) > 0 || timeout == 0 || closed {
			if out == nil {
				out = []json.RawMessage{}
			}
			return out, nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			timeout = 0
		case <-ctx.Done():
			return []json.RawMessage{}, nil
		}
	}
}

func (s *Server) sendMessage(p url.Values, via string, at time.Time) (any, *reply) {
	chatID, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil {
		return nil, badRequest("chat not found")
	}
	text := p.Get("text")
	if strings.TrimSpace(text) == "" {
		return nil, badRequest("message text is empty")
	}
	if len(utf16.Encode([]rune(text))) > 4096 {
		return nil, badRequest("message is too long")
	}
	kb, rep := parseKeyboard(p.Get("reply_markup"))
	if rep != nil {
		return nil, rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[chatID] {
		return nil, &reply{ErrorCode: 403, Description: "Forbidden: bot was blocked by the user"}
	}
	s.nextMsg++
	m := &Message{
		MessageID: s.nextMsg, From: &User{ID: BotID, IsBot: true, FirstName: "Journey Test", Username: BotUsername},
		Chat: Chat{ID: chatID, Type: chatType(chatID)}, Date: time.Now().Unix(), Text: text, ReplyMarkup: kb,
	}
	s.messages[chatID] = append(s.messages[chatID], m)
	s.sends = append(s.sends, Send{At: at, Chat: chatID, Text: text, MessageID: m.MessageID, Via: via})
	s.notifyLocked()
	return *m, nil
}

func chatType(id int64) string {
	if id < 0 {
		return "group"
	}
	return "private"
}

func parseKeyboard(raw string) (*Keyboard, *reply) {
	if raw == "" {
		return nil, nil
	}
	var kb Keyboard
	if err := json.Unmarshal([]byte(raw), &kb); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" {
				return nil, badRequest("text buttons are unallowed in the inline keyboard")
			}
			if len(b.CallbackData) < 1 || len(b.CallbackData) > 64 {
				return nil, badRequest("BUTTON_DATA_INVALID")
			}
		}
	}
	if len(kb.InlineKeyboard) == 0 {
		return nil, nil
	}
	return &kb, nil
}

func (s *Server) answerCallback(p url.Values) (any, *reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.Get("callback_query_id")
	answered, ok := s.callbacks[id]
	if !ok || answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	s.callbacks[id] = true
	s.notifyLocked()
	return true, nil
}

func (s *Server) editMarkup(p url.Values) (any, *reply) {
	chatID, _ := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	msgID, _ := strconv.Atoi(p.Get("message_id"))
	kb, rep := parseKeyboard(p.Get("reply_markup"))
	if rep != nil {
		return nil, rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages[chatID] {
		if m.MessageID != msgID {
			continue
		}
		before, _ := json.Marshal(m.ReplyMarkup)
		after, _ := json.Marshal(kb)
		if bytes.Equal(before, after) {
			return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
		}
		m.ReplyMarkup = kb
		s.notifyLocked()
		return *m, nil
	}
	return nil, badRequest("message to edit not found")
}

// ---- webhook delivery

func (s *Server) kick() {
	select {
	case s.delivery <- struct{}{}:
	default:
	}
}
