package slack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/redistest"
	"journeybot/internal/slacktest"
	"journeybot/journey"
)

// fuzzDesk is a desk serving the HTTP Events API over a Slack test server
// and Redis, for the fuzz targets.
func fuzzDesk(f *testing.F) http.Handler {
	sl := slacktest.New(f)
	sl.AddUser(bia)
	sl.AddChannel("support")
	r := redistest.New(f)
	ctx, cancel := context.WithCancel(context.Background())
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(loadScripts(f), conversations.DefaultOptions())})
	b.AddChannel(channeltest.New("telegram"))
	d, err := New(ctx, Options{BotToken: sl.BotToken, SigningSecret: secret, APIURL: sl.URL, Channel: "#support",
		ClaimTimeout: time.Minute, Bot: b, Workers: 2, StaffUserIDs: []string{bia.ID}})
	if err != nil {
		f.Fatal(err)
	}
	b.SetStaff(d)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	f.Cleanup(func() { cancel(); <-done })
	mux := http.NewServeMux()
	d.Mount(mux)
	return mux
}

// FuzzSlackRequests sends arbitrary signed bodies to the three endpoints:
// events, interactions (a form with payload=) and slash commands (a form).
// Answers are 200, 400 or 503 (try again), never a panic or a 500.
func FuzzSlackRequests(f *testing.F) {
	h := fuzzDesk(f)
	f.Add(uint8(0), `{"type":"url_verification","challenge":"c"}`)
	f.Add(uint8(0), `{"type":"event_callback","event_id":"Ev1","event":{"type":"message","channel":"C1","user":"U1","text":"oi","ts":"1.1","thread_ts":"1.0"}}`)
	f.Add(uint8(0), `{"type":"event_callback","event":{"type":"reaction_added"}}`)
	f.Add(uint8(0), strings.Repeat("[", 1000))
	f.Add(uint8(1), url.Values{"payload": {`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"take","value":"cust-1"}]}`}}.Encode())
	f.Add(uint8(1), "payload=%7B")
	f.Add(uint8(2), "command=%2Fjourney&text=customer+cust-1&user_id=U1&team_id=T1")
	f.Add(uint8(2), "command=%2Fjourney&text=pause+%40ana&user_id=U1")
	f.Add(uint8(2), "text=%ZZ")
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		path, ct := "/slack/events", "application/json"
		switch kind % 3 {
		case 1:
			path, ct = "/slack/interactions", "application/x-www-form-urlencoded"
		case 2:
			path, ct = "/slack/commands", "application/x-www-form-urlencoded"
		}
		req, err := slacktest.SignedRequest(context.Background(), "http://bot"+path, secret, time.Now(), ct, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusServiceUnavailable:
		default:
			t.Fatalf("%s: status %d for %q", path, w.Code, body)
		}
	})
}
