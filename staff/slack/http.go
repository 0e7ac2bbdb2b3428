package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// Mount serves the HTTP Events API endpoints on mux: POST /slack/events,
// /slack/interactions and /slack/commands. Every request must carry a valid
// signature made with the signing secret no more than five minutes ago.
func (d *Desk) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /slack/events", d.serveEvents)
	mux.HandleFunc("POST /slack/interactions", d.serveInteractions)
	mux.HandleFunc("POST /slack/commands", d.serveCommands)
}

// verified reads the raw body (before any form parsing, which would consume
// it) and checks its signature; it answers 401 itself when that fails.
func (d *Desk) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body larger than 1 MiB", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "body unreadable", http.StatusBadRequest)
		return nil, false
	}
	// NewSecretsVerifier also refuses timestamps more than five minutes off.
	sv, err := slack.NewSecretsVerifier(r.Header, d.o.SigningSecret)
	if err == nil {
		sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		d.log.Info("refused unsigned or stale Slack request", "path", r.URL.Path, "err", err)
		http.Error(w, "invalid or expired signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

func (d *Desk) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := d.verified(w, r)
	if !ok {
		return
	}
	if msg := notAnEvent(body); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	// The signature was checked above, hence no verification token.
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		// An event type slack-go does not know: nothing for us, and an
		// error would only make Slack retry it.
		w.WriteHeader(http.StatusOK)
		return
	}
	if ev.Type == slackevents.URLVerification {
		v, _ := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if v == nil {
			http.Error(w, "bad url_verification", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, v.Challenge)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := d.onEvent(ctx, ev); err != nil {
		d.log.Warn("slack event not accepted; Slack will retry", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// notAnEvent says why a signed body is not an Events API request at all
// ("" when it is one): not a JSON object, an envelope type Slack does not
// send, or an event_callback without an event object. Such a body gets a
// 400; a real event of a type the desk does not know still gets its 200.
func notAnEvent(body []byte) string {
	var env struct {
		Type  string          `json:"type"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "not a Slack event: the body is not a JSON object"
	}
	switch env.Type {
	case slackevents.URLVerification, slackevents.AppRateLimited:
		return ""
	case slackevents.CallbackEvent:
		var inner struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(env.Event, &inner) != nil || inner.Type == "" {
			return "not a Slack event: event_callback without an event object with a type"
		}
		return ""
	}
	return "not a Slack event: type must be event_callback, url_verification or app_rate_limited"
}

func (d *Desk) serveInteractions(w http.ResponseWriter, r *http.Request) {
	body, ok := d.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := d.onInteraction(ctx, cb); err != nil {
		d.log.Warn("slack interaction not accepted", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (d *Desk) serveCommands(w http.ResponseWriter, r *http.Request) {
	body, ok := d.verified(w, r)
	if !ok {
		return
	}
	f, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	c := slack.SlashCommand{TeamID: f.Get("team_id"), ChannelID: f.Get("channel_id"), ChannelName: f.Get("channel_name"), UserID: f.Get("user_id"),
		UserName: f.Get("user_name"), Command: f.Get("command"), Text: f.Get("text")}
	ctx, cancel := context.WithTimeout(r.Context(), 2500*time.Millisecond)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(commandReply(d.command(ctx, c)))
}

// commandReply is a slash command answer only the member who typed it sees.
func commandReply(text string) map[string]string {
	return map[string]string{"response_type": "ephemeral", "text": text}
}
