// Package slacktest is a loopback Slack for tests: the Web API methods the
// staff desk calls (auth.test, chat.postMessage, chat.update,
// chat.postEphemeral, conversations.replies, users.info,
// apps.connections.open) and a Socket Mode WebSocket endpoint that says
// hello, pings, delivers events_api / interactive / slash_commands envelopes
// and collects their acknowledgements. slack-go's own slacktest speaks the old
// RTM protocol and lacks several of these methods, hence this one.
package slacktest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Message is a message the server holds (posted by the bot or by a user).
type Message struct {
	Channel, TS, ThreadTS string
	User, BotID           string
	Text                  string
	Blocks                json.RawMessage // as posted; nil without blocks
	Broadcast             bool            // reply_broadcast: also shown in the channel
	Updates               int             // chat.update calls on it
}

// Ephemeral is a message only one user sees.
type Ephemeral struct {
	Channel, User, ThreadTS, Text string
	Blocks                        json.RawMessage
}

// User is a workspace member users.info knows.
type User struct {
	ID, TeamID, Name, RealName, FirstName string
}

// Server is the loopback Slack. Create it with New.
type Server struct {
	// URL is the Web API base URL, with the trailing slash slack-go needs.
	URL string
	// Tokens the server accepts, and who the bot is.
	BotToken, AppToken       string
	TeamID, BotID, BotUserID string
	AppID                    string

	srv      *httptest.Server
	upgrader websocket.Upgrader
	ping     time.Duration

	mu         sync.Mutex
	seq        int64
	start      int64
	channels   map[string]string // name -> id
	msgs       []*Message
	ephemerals []Ephemeral
	users      map[string]User
	members    map[string][]string // channel id -> member ids
	calls      map[string]int
	conns      []*conn
	connected  chan struct{} // closed and replaced on each new connection
	acks       map[string]chan json.RawMessage
	echo       bool
	closing    chan struct{}
	wg         sync.WaitGroup
}

// New starts a server on 127.0.0.1; it stops when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		BotToken: "xoxb-test-bot-token", AppToken: "xapp-test-app-token",
		TeamID: "T0TEST", BotID: "B0BOT", BotUserID: "U0BOT", AppID: "A0APP",
		ping:     500 * time.Millisecond,
		start:    time.Now().Unix(),
		channels: map[string]string{},
		users:    map[string]User{},
		members:  map[string][]string{},
		calls:    map[string]int{},
		acks:     map[string]chan json.RawMessage{},
		closing:  make(chan struct{}),
		// The socketmode client sends Origin: https://api.slack.com.
		upgrader:  websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		connected: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.api)
	mux.HandleFunc("/socket-mode", s.socket)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api/"
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and its WebSocket connections.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		return
	default:
	}
	close(s.closing)
	conns := s.conns
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
	s.wg.Wait()
	s.srv.Close()
}

// AddChannel creates a channel and returns its id; chat.postMessage accepts
// the id, the name or #name.
func (s *Server) AddChannel(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("C%04d%s", len(s.channels)+1, strings.ToUpper(name))
	s.channels[name] = id
	return id
}

// AddUser makes a member known to users.info.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.TeamID == "" {
		u.TeamID = s.TeamID
	}
	s.users[u.ID] = u
}

// AddMember makes user a member of channel (an id) for conversations.members.
func (s *Server) AddMember(channel, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[channel] = append(s.members[channel], user)
}

// SetEcho makes the server deliver the bot's own posts back as message
// events over Socket Mode, as Slack does for a channel the app listens to.
func (s *Server) SetEcho(on bool) { s.mu.Lock(); s.echo = on; s.mu.Unlock() }

// Calls returns how many times a Web API method was called.
func (s *Server) Calls(method string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls[method] }

// Messages returns copies of all messages in a channel (id), in order.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Thread returns the replies under ts (not the parent), in order.
func (s *Server) Thread(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.ThreadTS == ts && m.TS != ts {
			out = append(out, m)
		}
	}
	return out
}

// Message returns the message at ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	for _, m := range s.Messages(channel) {
		if m.TS == ts {
			return m, true
		}
	}
	return Message{}, false
}

// Ephemerals returns the ephemeral messages shown so far.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.ephemerals...)
}

// Post records a message a user writes (a thread reply when threadTS is
// set) and returns it; pass it to MessageEvent to deliver it to the app.
func (s *Server) Post(channel, user, threadTS, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Channel: channel, TS: s.nextTS(), ThreadTS: threadTS, User: user, Text: text}
	s.msgs = append(s.msgs, m)
	return *m
}

// nextTS returns a new, increasing message timestamp. Call with mu held.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.start, s.seq)
}

func (s *Server) resolveChannel(c string) (string, bool) {
	c = strings.TrimPrefix(c, "#")
	if id, ok := s.channels[c]; ok {
		return id, true
	}
	for _, id := range s.channels {
		if id == c {
			return id, true
		}
	}
	return "", false
}

func reply(w http.ResponseWriter, v map[string]any) {
	if _, ok := v["ok"]; !ok {
		v["ok"] = true
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) { reply(w, map[string]any{"ok": false, "error": code}) }

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// api serves the Web API methods.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		fail(w, "invalid_form_data")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	if method == "apps.connections.open" {
		if bearer(r) != s.AppToken {
			fail(w, "invalid_auth")
			return
		}
		reply(w, map[string]any{"url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket-mode?ticket=" + strconv.Itoa(s.calls[method])})
		return
	}
	tok := r.Form.Get("token")
	if tok == "" {
		tok = bearer(r)
	}
	if tok != s.BotToken {
		fail(w, "invalid_auth")
		return
	}
	f := r.Form.Get
	switch method {
	case "auth.test":
		reply(w, map[string]any{"url": "https://test.slack.com/", "team": "Test", "user": "journeybot",
			"team_id": s.TeamID, "user_id": s.BotUserID, "bot_id": s.BotID})
	case "chat.postMessage":
		ch, ok := s.resolveChannel(f("channel"))
		if !ok {
			fail(w, "channel_not_found")
			return
		}
		if f("text") == "" && f("blocks") == "" {
			fail(w, "no_text")
			return
		}
		m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: f("thread_ts"), User: s.BotUserID, BotID: s.BotID,
			Text: f("text"), Broadcast: f("reply_broadcast") == "true"}
		if b := f("blocks"); b != "" {
			m.Blocks = json.RawMessage(b)
		}
		if m.ThreadTS != "" {
			if _, ok := s.find(ch, m.ThreadTS); !ok {
				fail(w, "thread_not_found")
				return
			}
		}
		s.msgs = append(s.msgs, m)
		reply(w, map[string]any{"channel": ch, "ts": m.TS, "message": s.wire(m)})
		if s.echo {
			s.echoLocked(m)
		}
	case "chat.update":
		ch, _ := s.resolveChannel(f("channel"))
		m, ok := s.find(ch, f("ts"))
		if !ok {
			fail(w, "message_not_found")
			return
		}
		m.Text = f("text")
		if b := f("blocks"); b != "" {
			m.Blocks = json.RawMessage(b)
		}
		m.Updates++
		reply(w, map[string]any{"channel": ch, "ts": m.TS, "text": m.Text})
	case "chat.postEphemeral":
		ch, ok := s.resolveChannel(f("channel"))
		if !ok {
			fail(w, "channel_not_found")
			return
		}
		e := Ephemeral{Channel: ch, User: f("user"), ThreadTS: f("thread_ts"), Text: f("text")}
		if b := f("blocks"); b != "" {
			e.Blocks = json.RawMessage(b)
		}
		s.ephemerals = append(s.ephemerals, e)
		reply(w, map[string]any{"message_ts": s.nextTS()})
	case "conversations.replies":
		ch, _ := s.resolveChannel(f("channel"))
		parent, ok := s.find(ch, f("ts"))
		if !ok {
			fail(w, "thread_not_found")
			return
		}
		limit, _ := strconv.Atoi(f("limit"))
		out := []any{s.wire(parent)}
		for _, m := range s.msgs {
			if m.Channel == ch && m.ThreadTS == parent.TS && m.TS != parent.TS && (limit == 0 || len(out) < limit) {
				out = append(out, s.wire(m))
			}
		}
		reply(w, map[string]any{"messages": out, "has_more": false, "response_metadata": map[string]any{"next_cursor": ""}})
	case "conversations.members":
		if _, ok := s.resolveChannel(f("channel")); !ok || strings.HasPrefix(f("channel"), "#") {
			fail(w, "channel_not_found")
			return
		}
		reply(w, map[string]any{"members": s.members[f("channel")], "response_metadata": map[string]any{"next_cursor": ""}})
	case "users.info":
		u, ok := s.users[f("user")]
		if !ok {
			fail(w, "user_not_found")
			return
		}
		reply(w, map[string]any{"user": map[string]any{
			"id": u.ID, "team_id": u.TeamID, "name": u.Name, "real_name": u.RealName,
			"profile": map[string]any{"first_name": u.FirstName, "real_name": u.RealName, "display_name": u.Name},
		}})
	default:
		fail(w, "unknown_method")
	}
}

func (s *Server) find(channel, ts string) (*Message, bool) {
	for _, m := range s.msgs {
		if m.Channel == channel && m.TS == ts {
			return m, true
		}
	}
	return nil, false
}

// wire is a message as the Web API and events show it.
func (s *Server) wire(m *Message) map[string]any {
	w := map[string]any{"type": "message", "channel": m.Channel, "text": m.Text, "ts": m.TS}
	if m.User != "" {
		w["user"] = m.User
	}
	if m.BotID != "" {
		w["bot_id"] = m.BotID
	}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		w["blocks"] = m.Blocks
	}
	return w
}

// MessageEvent is the Events API "message" event for m.
func MessageEvent(m Message) map[string]any {
	ev := map[string]any{"type": "message", "channel": m.Channel, "text": m.Text, "ts": m.TS,
		"event_ts": m.TS, "channel_type": "channel"}
	if m.User != "" {
		ev["user"] = m.User
	}
	if m.BotID != "" {
		ev["bot_id"] = m.BotID
	}
	if m.ThreadTS != "" {
		ev["thread_ts"] = m.ThreadTS
	}
	return ev
}

// EventCallback wraps an inner event the way the Events API delivers it.
func (s *Server) EventCallback(eventID string, event any) []byte {
	b, _ := json.Marshal(map[string]any{
		"token": "legacy-verification-token", "team_id": s.TeamID, "api_app_id": s.AppID,
		"type": "event_callback", "event_id": eventID, "event_time": time.Now().Unix(), "event": event,
	})
	return b
}

// BlockAction is the interactive payload of a button press on a message.
func (s *Server) BlockAction(user User, channel, messageTS, blockID, actionID, value string) map[string]any {
	team := user.TeamID
	if team == "" {
		team = s.TeamID
	}
	// The payload's team is the workspace the app is installed in; a
	// member from another one (Slack Connect) differs only in user.team_id.
	return map[string]any{
		"type": "block_actions", "api_app_id": s.AppID, "trigger_id": "trigger." + messageTS,
		"team":      map[string]any{"id": s.TeamID, "domain": "test"},
		"user":      map[string]any{"id": user.ID, "username": user.Name, "name": user.Name, "team_id": team},
		"channel":   map[string]any{"id": channel, "name": "support"},
		"container": map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel},
		"message":   map[string]any{"type": "message", "ts": messageTS},
		"actions": []any{map[string]any{"type": "button", "action_id": actionID, "block_id": blockID, "value": value,
			"action_ts": strconv.FormatInt(time.Now().UnixNano(), 10)}},
	}
}

// SlashCommand is the form of a slash command as Slack posts it.
func (s *Server) SlashCommand(user User, channel, command, text string) map[string]string {
	team := user.TeamID
	if team == "" {
		team = s.TeamID
	}
	name := "directmessage" // what Slack names a DM
	s.mu.Lock()
	for n, id := range s.channels {
		if id == channel {
			name = n
		}
	}
	s.mu.Unlock()
	return map[string]string{
		"token": "legacy-verification-token", "team_id": team, "team_domain": "test", "channel_id": channel,
		"channel_name": name, "user_id": user.ID, "user_name": user.Name, "command": command, "text": text,
		"api_app_id": s.AppID, "response_url": s.srv.URL + "/response", "trigger_id": "trigger.cmd",
	}
}

// Signature returns the X-Slack-Signature of body sent at timestamp ts.
func Signature(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%d:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// SignedRequest is a POST to an app's endpoint signed the way Slack signs it.
func SignedRequest(ctx context.Context, url, secret string, at time.Time, contentType string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Signature(secret, at.Unix(), body))
	return req, nil
}

// ---- Socket Mode ----

type conn struct {
	ws *websocket.Conn
	wm sync.Mutex // gorilla allows one writer at a time
}

func (c *conn) write(v any) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// socket is the Socket Mode WebSocket endpoint.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws}
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		ws.Close()
		return
	default:
	}
	s.conns = append(s.conns, c)
	n := len(s.conns)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.drop(c)
	if err := c.write(map[string]any{"type": "hello", "num_connections": n,
		"connection_info": map[string]any{"app_id": s.AppID}, "debug_info": map[string]any{"host": "slacktest"}}); err != nil {
		return
	}
	s.mu.Lock()
	close(s.connected) // wake Connected callers
	s.connected = make(chan struct{})
	s.mu.Unlock()
	done := make(chan struct{})
	defer close(done)
	go func() { // the client reconnects when pings stop, as with Slack
		t := time.NewTicker(s.ping)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second)) != nil {
					return
				}
			}
		}
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := ws.ReadJSON(&ack); err != nil {
			return
		}
		s.mu.Lock()
		ch := s.acks[ack.EnvelopeID]
		delete(s.acks, ack.EnvelopeID)
		s.mu.Unlock()
		if ch != nil {
			ch <- ack.Payload
		}
	}
}

func (s *Server) drop(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.conns {
		if o == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			break
		}
	}
	c.ws.Close()
}

// Connected waits until a Socket Mode client is connected.
func (s *Server) Connected(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, wait := len(s.conns), s.connected
		s.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no socket mode connection: %w", ctx.Err())
		case <-wait:
		}
	}
}

// ErrNoConnection means no Socket Mode client is connected.
var ErrNoConnection = errors.New("slacktest: no socket mode connection")

// Deliver sends one envelope (events_api, interactive or slash_commands)
// over the newest connection and waits for its acknowledgement, returning
// the ack's payload (null without one).
func (s *Server) Deliver(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	if err := s.Connected(ctx); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil, ErrNoConnection
	}
	c := s.conns[len(s.conns)-1]
	s.seq++
	id := fmt.Sprintf("env-%d", s.seq)
	ch := make(chan json.RawMessage, 1)
	s.acks[id] = ch
	s.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": json.RawMessage(raw),
		"accepts_response_payload": typ != "events_api", "retry_attempt": 0, "retry_reason": ""}
	if err := c.write(env); err != nil {
		return nil, fmt.Errorf("slacktest: deliver %s: %w", typ, err)
	}
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
		return nil, fmt.Errorf("slacktest: no ack for %s envelope %s: %w", typ, id, ctx.Err())
	}
}

// DeliverEvent delivers an Events API event with its event id.
func (s *Server) DeliverEvent(ctx context.Context, eventID string, event any) error {
	_, err := s.Deliver(ctx, "events_api", json.RawMessage(s.EventCallback(eventID, event)))
	return err
}

// echoLocked delivers the bot's own post back as an event. Call with mu held.
func (s *Server) echoLocked(m *Message) {
	select {
	case <-s.closing:
		return
	default:
	}
	if len(s.conns) == 0 {
		return
	}
	s.seq++
	id := fmt.Sprintf("Ev%d", s.seq)
	ev := MessageEvent(*m)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.DeliverEvent(ctx, id, ev)
	}()
}
