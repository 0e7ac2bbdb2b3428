// Package whatsapptest is a WhatsApp Cloud API server for tests, on
// loopback. It speaks the real JSON of what the bot uses (GET of the phone
// number, POST /{phone_number_id}/messages with texts, reply buttons, lists,
// templates and read receipts), answers errors in the Graph API's shape
// ({"error":{"message","type","code","error_data","fbtrace_id"}}) where Meta
// would (131047 for a free-form message outside the 24-hour window, 131009 for
// too many buttons or too long titles, 132001 for an unknown template, 190 for
// a bad token), and plays the customers' side: it posts signed notifications
// (texts, button and list replies, media, statuses) to the bot's webhook.
package whatsapptest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Test credentials; the token looks like a real one so leaks are findable.
const (
	Token         = "EAAGtestTOKEN0123456789abcdef"
	PhoneNumberID = "109876543210"
	AppSecret     = "test-app-secret-0123"
	VerifyToken   = "test-verify-token"
)

// Sent is a message the bot sent, as the customer sees it.
type Sent struct {
	ID       string
	To       string // the wa_id it reached
	Type     string // text, button, list, template
	Text     string
	Buttons  []Choice // reply buttons or list rows
	List     string   // a list's button
	Template string
	Language string
	Params   []string
	At       time.Time
}

// Choice is a reply button or a list row.
type Choice struct {
	ID, Title, Description string
}

// Labels are the titles of the choices.
func (s Sent) Labels() []string {
	var out []string
	for _, c := range s.Buttons {
		out = append(out, c.Title)
	}
	return out
}

// Failure is a canned error answer to a send.
type Failure struct {
	Status     int // HTTP status
	Code       int // Graph error code
	RetryAfter int // seconds, as a Retry-After header (0: none)
}

// Server is the test server. Safe for concurrent use.
type Server struct {
	*httptest.Server
	t       testing.TB
	mu      sync.Mutex
	changed chan struct{}
	now     func() time.Time
	hook    string
	sent    []Sent
	calls   int
	reads   []string
	last    map[string]time.Time // wa_id -> the customer's last message
	known   map[string]bool      // registered wa_ids
	tmpls   map[string]bool      // "name/lang" approved
	fails   []Failure
	seq     int
	posted  map[string][]byte // notification by message id, for redelivery
	byNum   map[string]string // wa_id of numbers sent to
}

// New starts a server; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		t: t, changed: make(chan struct{}), now: time.Now, last: map[string]time.Time{}, known: map[string]bool{},
		tmpls: map[string]bool{}, posted: map[string][]byte{}, byNum: map[string]string{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL with the API version, as whatsapp.api_url takes it.
func (s *Server) APIURL() string { return s.URL + "/v23.0" }

// SetClock makes the server judge the 24-hour window by now.
func (s *Server) SetClock(now func() time.Time) { s.mu.Lock(); s.now = now; s.mu.Unlock() }

// SetWebhook is where customer messages and statuses are posted.
func (s *Server) SetWebhook(url string) { s.mu.Lock(); s.hook = url; s.mu.Unlock() }

// Approve makes a template usable (name in language, e.g. pt_BR).
func (s *Server) Approve(name, lang string) {
	s.mu.Lock()
	s.tmpls[name+"/"+lang] = true
	s.mu.Unlock()
}

// Register makes waID a WhatsApp account; sends to its number with or
// without the Brazilian ninth digit reach it.
func (s *Server) Register(waID string) { s.mu.Lock(); s.known[waID] = true; s.mu.Unlock() }

// Wrote opens waID's window as if the customer had just written.
func (s *Server) Wrote(waID string) {
	s.mu.Lock()
	s.last[waID], s.known[waID] = s.now(), true
	s.mu.Unlock()
}

// Fail answers the next sends with fs, in order.
func (s *Server) Fail(fs ...Failure) { s.mu.Lock(); s.fails = append(s.fails, fs...); s.mu.Unlock() }

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor waits until cond holds (under the lock) or the timeout passes.
func (s *Server) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// Messages are what the bot sent to waID so far.
func (s *Server) Messages(waID string) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(waID)
}

func (s *Server) messagesLocked(waID string) []Sent {
	var out []Sent
	for _, m := range s.sent {
		if m.To == waID {
			out = append(out, m)
		}
	}
	return out
}

// WaitMessages waits until the bot sent waID at least n messages (5 s).
func (s *Server) WaitMessages(waID string, n int) []Sent {
	s.t.Helper()
	var got []Sent
	if !s.waitFor(5*time.Second, func() bool { got = s.messagesLocked(waID); return len(got) >= n }) {
		s.t.Fatalf("whatsapptest: %d messages to %s, want %d:\n%s", len(got), waID, n, describe(got))
	}
	return got
}

// Calls is how many send requests the server answered (failures included).
func (s *Server) Calls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// Reads are the message ids the bot marked as read.
func (s *Server) Reads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reads...)
}

// WaitRead waits until the bot marked id as read.
func (s *Server) WaitRead(id string) {
	s.t.Helper()
	if !s.waitFor(5*time.Second, func() bool {
		for _, r := range s.reads {
			if r == id {
				return true
			}
		}
		return false
	}) {
		s.t.Fatalf("whatsapptest: message %s never marked as read", id)
	}
}

func describe(ms []Sent) string {
	var b strings.Builder
	for i, m := range ms {
		fmt.Fprintf(&b, "  %d. [%s] %q %v %s\n", i+1, m.Type, m.Text, m.Labels(), m.Template)
	}
	return b.String()
}

// --- the customer's side ---

// Text posts a text message from waID (named name) and returns its id. The
// webhook must answer 200.
func (s *Server) Text(waID, name, body string) string {
	s.t.Helper()
	return s.post(waID, name, map[string]any{"type": "text", "text": map[string]any{"body": body}})
}

// Press replies to the newest message to waID that offers label, as a
// reply button or a list row.
func (s *Server) Press(waID, label string) string {
	s.t.Helper()
	s.mu.Lock()
	var found *Sent
	var choice Choice
	for i := len(s.sent) - 1; i >= 0 && found == nil; i-- {
		m := s.sent[i]
		if m.To != waID {
			continue
		}
		for _, c := range m.Buttons {
			if c.Title == label {
				found, choice = &m, c
				break
			}
		}
	}
	s.mu.Unlock()
	if found == nil {
		s.t.Fatalf("whatsapptest: no message to %s offers %q", waID, label)
	}
	reply := map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": choice.ID, "title": choice.Title}}
	if found.Type == "list" {
		reply = map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": choice.ID, "title": choice.Title, "description": choice.Description}}
	}
	return s.post(waID, "", map[string]any{"type": "interactive", "interactive": reply, "context": map[string]any{"from": PhoneNumberID, "id": found.ID}})
}

// Media posts a media message (image, sticker, audio, location, reaction...).
func (s *Server) Media(waID, kind string) string {
	s.t.Helper()
	m := map[string]any{"type": kind}
	switch kind {
	case "location":
		m["location"] = map[string]any{"latitude": -23.55, "longitude": -46.63}
	case "reaction":
		m["reaction"] = map[string]any{"message_id": "wamid.x", "emoji": "👍"}
	default:
		m[kind] = map[string]any{"id": "media-1", "mime_type": "image/jpeg", "sha256": "x"}
	}
	return s.post(waID, "", m)
}

// Redeliver posts the notification of message id again, as Meta does when
// it did not get a 200 in time; it returns the webhook's status.
func (s *Server) Redeliver(id string) int {
	s.mu.Lock()
	body := s.posted[id]
	s.mu.Unlock()
	return s.deliver(body)
}

// Status posts a delivery status of the bot's message id.
func (s *Server) Status(id, waID, status string) int {
	st := map[string]any{"id": id, "status": status, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "recipient_id": waID}
	if status == "failed" {
		st["errors"] = []any{map[string]any{"code": 131047, "title": "Re-engagement message"}}
	}
	return s.deliver(s.envelope(map[string]any{"statuses": []any{st}}))
}

// Post sends raw as a notification, signed with secret ("" for none), and
// returns the webhook's status.
func (s *Server) Post(raw []byte, secret string) int {
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Hub-Signature-256", Sign(raw, secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Errorf("whatsapptest: post to webhook: %v", err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Sign is the X-Hub-Signature-256 of body under secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (s *Server) post(waID, name string, msg map[string]any) string {
	s.t.Helper()
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("wamid.in.%d.%d", time.Now().UnixNano(), s.seq)
	now := s.now()
	s.last[waID] = now
	s.known[waID] = true
	s.mu.Unlock()
	msg["from"], msg["id"], msg["timestamp"] = waID, id, strconv.FormatInt(now.Unix(), 10)
	if name == "" {
		name = "Cliente"
	}
	body := s.envelope(map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": waID}},
		"messages": []any{msg},
	})
	s.mu.Lock()
	s.posted[id] = body
	s.mu.Unlock()
	if code := s.deliver(body); code != http.StatusOK {
		s.t.Errorf("whatsapptest: webhook answered %d to message %s", code, id)
	}
	return id
}

func (s *Server) envelope(value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]any{"display_phone_number": "15550001111", "phone_number_id": PhoneNumberID}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry":  []any{map[string]any{"id": "WABA-1", "changes": []any{map[string]any{"field": "messages", "value": value}}}},
	})
	return b
}

func (s *Server) deliver(body []byte) int { return s.Post(body, AppSecret) }

// --- the Cloud API ---

func graphError(w http.ResponseWriter, status, code int, msg, details string, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}
	if details != "" {
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+Token {
		graphError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token - Cannot parse access token", "", 0)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v23.0")
	switch {
	case r.Method == http.MethodGet && path == "/"+PhoneNumberID:
		json.NewEncoder(w).Encode(map[string]any{"display_phone_number": "+1 555-000-1111", "verified_name": "Loja Teste", "id": PhoneNumberID})
	case r.Method == http.MethodPost && path == "/"+PhoneNumberID+"/messages":
		s.messages(w, r)
	default:
		graphError(w, http.StatusBadRequest, 100, "Unsupported request - method type: "+r.Method, "", 0)
	}
}

// recipient is the wa_id a number reaches: a registered account with or
// without the ninth digit, else the number itself.
func (s *Server) recipientLocked(to string) string {
	if s.known[to] {
		return to
	}
	if strings.HasPrefix(to, "55") {
		if len(to) == 13 && s.known[to[:4]+to[5:]] {
			return to[:4] + to[5:]
		}
		if len(to) == 12 && s.known[to[:4]+"9"+to[4:]] {
			return to[:4] + "9" + to[4:]
		}
	}
	return to
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Product   string `json:"messaging_product"`
		Status    string `json:"status"`
		MessageID string `json:"message_id"`
		To        string `json:"to"`
		Type      string `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text"`
		Interactive *struct {
			Type string `json:"type"`
			Body struct {
				Text string `json:"text"`
			} `json:"body"`
			Action struct {
				Buttons []struct {
					Type  string `json:"type"`
					Reply struct {
						ID    string `json:"id"`
						Title string `json:"title"`
					} `json:"reply"`
				} `json:"buttons"`
				Button   string `json:"button"`
				Sections []struct {
					Rows []Choice `json:"rows"`
				} `json:"sections"`
			} `json:"action"`
		} `json:"interactive"`
		Template *struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
			Components []struct {
				Type       string `json:"type"`
				Parameters []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter", "the body is not JSON", 0)
		return
	}
	if body.Product != "whatsapp" {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter", "messaging_product must be whatsapp", 0)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if body.Status == "read" {
		s.reads = append(s.reads, body.MessageID)
		s.notifyLocked()
		json.NewEncoder(w).Encode(map[string]any{"success": true})
		return
	}
	s.calls++
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		graphError(w, f.Status, f.Code, "(#"+strconv.Itoa(f.Code)+") canned failure", "", f.RetryAfter)
		s.notifyLocked()
		return
	}
	to := s.recipientLocked(body.To)
	m := Sent{To: to, Type: body.Type, At: s.now()}
	switch body.Type {
	case "text":
		if body.Text == nil || body.Text.Body == "" || utf8.RuneCountInString(body.Text.Body) > 4096 {
			graphError(w, http.StatusBadRequest, 100, "Invalid parameter", "text.body is empty or longer than 4096 characters", 0)
			return
		}
		m.Text = body.Text.Body
	case "interactive":
		in := body.Interactive
		if in == nil || in.Body.Text == "" || utf8.RuneCountInString(in.Body.Text) > 1024 {
			graphError(w, http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", "interactive body text is empty or longer than 1024 characters", 0)
			return
		}
		m.Text, m.Type = in.Body.Text, in.Type
		switch in.Type {
		case "button":
			if n := len(in.Action.Buttons); n < 1 || n > 3 {
				graphError(w, http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", fmt.Sprintf("Buttons count is invalid: %d (1 to 3)", n), 0)
				return
			}
			for _, b := range in.Action.Buttons {
				if utf8.RuneCountInString(b.Reply.Title) > 20 || b.Reply.Title == "" || b.Reply.ID == "" {
					graphError(w, http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", "Button title length invalid: "+b.Reply.Title, 0)
					return
				}
				m.Buttons = append(m.Buttons, Choice{ID: b.Reply.ID, Title: b.Reply.Title})
			}
		case "list":
			m.List = in.Action.Button
			for _, sec := range in.Action.Sections {
				m.Buttons = append(m.Buttons, sec.Rows...)
			}
			if n := len(m.Buttons); n < 1 || n > 10 || in.Action.Button == "" || utf8.RuneCountInString(in.Action.Button) > 20 {
				graphError(w, http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", fmt.Sprintf("Total row count exceed max allowed count: %d (1 to 10)", n), 0)
				return
			}
			for _, c := range m.Buttons {
				if utf8.RuneCountInString(c.Title) > 24 || c.Title == "" || utf8.RuneCountInString(c.Description) > 72 {
					graphError(w, http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", "Row title length invalid: "+c.Title, 0)
					return
				}
			}
		default:
			graphError(w, http.StatusBadRequest, 131009, "(#131009) Parameter value is not valid", "interactive type "+in.Type, 0)
			return
		}
	case "template":
		t := body.Template
		if t == nil || !s.tmpls[t.Name+"/"+t.Language.Code] {
			graphError(w, http.StatusNotFound, 132001, "(#132001) Template name does not exist in the translation", "template not approved in this language", 0)
			return
		}
		m.Template, m.Language = t.Name, t.Language.Code
		for _, c := range t.Components {
			for _, p := range c.Parameters {
				m.Params = append(m.Params, p.Text)
			}
		}
	default:
		graphError(w, http.StatusBadRequest, 131051, "(#131051) Unsupported message type", body.Type, 0)
		return
	}
	if body.Type != "template" {
		if last, ok := s.last[to]; !ok || s.now().Sub(last) > 24*time.Hour {
			graphError(w, http.StatusBadRequest, 131047, "(#131047) Re-engagement message",
				"Message failed to send because more than 24 hours have passed since the customer last replied to this number.", 0)
			s.notifyLocked()
			return
		}
	}
	s.seq++
	m.ID = fmt.Sprintf("wamid.out.%d", s.seq)
	s.sent = append(s.sent, m)
	s.byNum[body.To] = to
	s.notifyLocked()
	json.NewEncoder(w).Encode(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{map[string]any{"input": body.To, "wa_id": to}},
		"messages":          []any{map[string]any{"id": m.ID}},
	})
}
