// Package openaitest provides an OpenAI-compatible loopback server for tests.
//
// It speaks the /v1/chat/completions wire format with its own structs (not
// go-openai's) so tests exercise the real JSON a client sends and parses.
package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one chat message as received on the wire.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// UnmarshalJSON accepts content as a plain string or as an array of parts,
// because OpenAI-compatible clients may send either.
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Role = raw.Role
	m.Content = ""
	if len(raw.Content) == 0 || string(raw.Content) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw.Content, &m.Content); err == nil {
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw.Content, &parts); err != nil {
		return fmt.Errorf("content is neither string nor parts: %w", err)
	}
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(p.Text)
	}
	m.Content = sb.String()
	return nil
}

// Request is a recorded chat completion request.
type Request struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	MaxTokens   int       `json:"max_tokens"`
	Temperature float32   `json:"temperature"`

	// Header is the HTTP header as received (e.g. to check Authorization).
	Header http.Header `json:"-"`
}

// ContentsByRole returns the contents of all messages with the given role.
func (r Request) ContentsByRole(role string) []string {
	var out []string
	for _, m := range r.Messages {
		if m.Role == role {
			out = append(out, m.Content)
		}
	}
	return out
}

// Response scripts one answer of the server.
type Response struct {
	// Content is the assistant message content for a 200 reply.
	Content string
	// Status, when non-zero and not 200, makes the server reply with this
	// status and Body (which may be empty).
	Status int
	// Body, when non-empty, is written verbatim instead of a generated
	// completion (useful for error JSON or malformed replies).
	Body string
	// NoChoices makes a 200 reply with an empty choices array.
	NoChoices bool
	// FinishReason defaults to "stop".
	FinishReason string
	// Delay is waited before replying; it ends early if the client goes away
	// so a timed-out test does not hold the server open.
	Delay time.Duration
	// PromptTokens/CompletionTokens override the usage numbers; when zero the
	// server reports a rough word count.
	PromptTokens, CompletionTokens int
}

// Reply is a 200 response with the given assistant content.
func Reply(content string) Response { return Response{Content: content} }

// ErrorJSON is an error response shaped like OpenAI's: {"error":{...}}.
func ErrorJSON(status int, typ, message string) Response {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": message, "type": typ, "param": nil, "code": nil,
	}})
	return Response{Status: status, Body: string(b)}
}

// Status is an error response with an empty body, like many proxies send.
func Status(code int) Response { return Response{Status: code} }

// Server is a loopback OpenAI-compatible server. Create it with New.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	handler  func(Request) Response
	queue    []Response
	requests []Request
}

// New starts a server on 127.0.0.1 that replies "ok" until scripted
// otherwise, and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{handler: func(Request) Response { return Reply("ok") }}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

// BaseURL is the value for go-openai's ClientConfig.BaseURL.
func (s *Server) BaseURL() string { return s.srv.URL + "/v1" }

// SetReply makes every following call answer with content.
func (s *Server) SetReply(content string) { s.SetResponse(Reply(content)) }

// SetResponse makes every following call answer with r.
func (s *Server) SetResponse(r Response) {
	s.SetHandler(func(Request) Response { return r })
}

// SetHandler computes each answer from the request, e.g. to assert on it or
// echo parts of it back.
func (s *Server) SetHandler(h func(Request) Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Enqueue adds one-shot responses served in order before the handler.
func (s *Server) Enqueue(rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, rs...)
}

// Requests returns a copy of the chat completion requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls is the number of chat completion requests received so far.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// LastRequest returns the most recent request; ok is false if none arrived.
func (s *Server) LastRequest() (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return Request{}, false
	}
	return s.requests[len(s.requests)-1], true
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"message": "unknown route " + r.Method + " " + r.URL.Path, "type": "invalid_request_error",
		}})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "invalid JSON: " + err.Error(), "type": "invalid_request_error",
		}})
		return
	}
	req.Header = r.Header.Clone()

	s.mu.Lock()
	s.requests = append(s.requests, req)
	var resp Response
	if len(s.queue) > 0 {
		resp, s.queue = s.queue[0], s.queue[1:]
	} else {
		h := s.handler
		s.mu.Unlock()
		resp = h(req) // outside the lock: handlers may call back into s
		s.mu.Lock()
	}
	s.mu.Unlock()

	if resp.Delay > 0 {
		t := time.NewTimer(resp.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	if resp.Status != 0 && resp.Status != http.StatusOK {
		if resp.Body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(resp.Status)
		_, _ = io.WriteString(w, resp.Body)
		return
	}
	if resp.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, resp.Body)
		return
	}
	writeJSON(w, http.StatusOK, completion(req, resp))
}

func completion(req Request, resp Response) map[string]any {
	pt, ct := resp.PromptTokens, resp.CompletionTokens
	if pt == 0 {
		for _, m := range req.Messages {
			pt += len(strings.Fields(m.Content))
		}
	}
	if ct == 0 {
		ct = len(strings.Fields(resp.Content))
	}
	finish := resp.FinishReason
	if finish == "" {
		finish = "stop"
	}
	choices := []any{}
	if !resp.NoChoices {
		choices = append(choices, map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": resp.Content},
			"finish_reason": finish,
		})
	}
	model := req.Model
	if model == "" {
		model = "openaitest"
	}
	return map[string]any{
		"id":      "chatcmpl-openaitest",
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   model,
		"choices": choices,
		"usage": map[string]any{
			"prompt_tokens":     pt,
			"completion_tokens": ct,
			"total_tokens":      pt + ct,
		},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
