package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"journeybot/channels"
)

// WebhookPath is where Meta sends notifications (on http.addr).
const WebhookPath = "/whatsapp/webhook"

// WebhookHandler serves the webhook: the verification GET (hub.mode=subscribe
// with the verify token: 200 with hub.challenge as the body, 403 otherwise),
// and notifications by POST, whose X-Hub-Signature-256 (HMAC-SHA256 of the raw
// body under the app secret) is checked in constant time before anything is
// decoded (401 without or with a wrong one). A notification whose messages
// could not all be handed over gets a 500, so Meta sends it again; the ones
// handed over before are duplicates then, and skipped by their id.
func (c *Channel) WebhookHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+WebhookPath, c.verify)
	mux.HandleFunc("POST "+WebhookPath, c.notify)
	return mux
}

func (c *Channel) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	got := sha256.Sum256([]byte(q.Get("hub.verify_token")))
	want := sha256.Sum256([]byte(c.opt.VerifyToken))
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, q.Get("hub.challenge"))
}

func (c *Channel) notify(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if !c.signed(raw, r.Header.Get("X-Hub-Signature-256")) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	h := c.handler()
	if h == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	var n notification
	if err := json.Unmarshal(raw, &n); err != nil {
		http.Error(w, "bad notification", http.StatusBadRequest)
		return
	}
	// Meta may hang up meanwhile; what it sent should still be stored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if err := c.handleNotification(ctx, h, &n); err != nil {
		c.log.Warn("webhook notification not handled; Meta will send it again", "err", err)
		http.Error(w, "not handled", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// signed checks header ("sha256=<hex>") against the body's HMAC in
// constant time.
func (c *Channel) signed(body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(c.opt.AppSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// The webhook's JSON (field "messages" of a whatsapp_business_account).
type (
	notification struct {
		Object string  `json:"object"`
		Entry  []entry `json:"entry"`
	}
	entry struct {
		ID      string   `json:"id"`
		Changes []change `json:"changes"`
	}
	change struct {
		Field string `json:"field"`
		Value value  `json:"value"`
	}
	value struct {
		Product  string `json:"messaging_product"`
		Metadata struct {
			DisplayPhoneNumber string `json:"display_phone_number"`
			PhoneNumberID      string `json:"phone_number_id"`
		} `json:"metadata"`
		Contacts []struct {
			Profile struct {
				Name string `json:"name"`
			} `json:"profile"`
			WaID string `json:"wa_id"`
		} `json:"contacts"`
		Messages []inMessage `json:"messages"`
		Statuses []status    `json:"statuses"`
	}
	inMessage struct {
		From      string `json:"from"`
		ID        string `json:"id"`
		Timestamp string `json:"timestamp"`
		Type      string `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text"`
		Interactive *struct {
			Type        string `json:"type"`
			ButtonReply *struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"button_reply"`
			ListReply *struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"list_reply"`
		} `json:"interactive"`
		// Button is a template's quick reply.
		Button *struct {
			Payload string `json:"payload"`
			Text    string `json:"text"`
		} `json:"button"`
		Image    *media `json:"image"`
		Video    *media `json:"video"`
		Document *media `json:"document"`
		Audio    *struct {
			Voice bool `json:"voice"`
		} `json:"audio"`
		Reaction *struct {
			MessageID string `json:"message_id"`
			Emoji     string `json:"emoji"`
		} `json:"reaction"`
	}
	media struct {
		Caption string `json:"caption"`
	}
	status struct {
		ID          string `json:"id"`
		Status      string `json:"status"` // sent, delivered, read, failed
		Timestamp   string `json:"timestamp"`
		RecipientID string `json:"recipient_id"`
		Errors      []struct {
			Code  int    `json:"code"`
			Title string `json:"title"`
		} `json:"errors"`
	}
)

// handleNotification hands over the notification's messages in order and
// records its statuses. Changes for another phone number of the same app
// are not this channel's.
func (c *Channel) handleNotification(ctx context.Context, h channels.Handler, n *notification) error {
	for _, e := range n.Entry {
		for _, ch := range e.Changes {
			v := ch.Value
			if ch.Field != "messages" || (v.Metadata.PhoneNumberID != "" && v.Metadata.PhoneNumberID != c.opt.PhoneNumberID) {
				continue
			}
			names := map[string]string{}
			for _, ct := range v.Contacts {
				names[ct.WaID] = ct.Profile.Name
			}
			for i, m := range v.Messages {
				in, ok := c.inbound(m, i, names[m.From])
				if !ok {
					continue
				}
				if err := h.HandleInbound(ctx, in); err != nil {
					return err
				}
				if in.Kind != channels.KindMedia || in.Media != "reaction" {
					c.markRead(m.ID)
				}
			}
			for _, s := range v.Statuses {
				c.status(ctx, s)
			}
		}
	}
	return nil
}

// inbound turns a message into an Inbound; ok is false for messages the bot
// does not take (a removed reaction, system notices).
func (c *Channel) inbound(m inMessage, i int, name string) (channels.Inbound, bool) {
	if m.From == "" || m.ID == "" {
		return channels.Inbound{}, false
	}
	in := channels.Inbound{Channel: Name, Address: m.From, ID: m.ID, FirstName: firstName(name), Phone: "+" + m.From}
	if ts, err := strconv.ParseInt(m.Timestamp, 10, 64); err == nil && ts > 0 {
		in.At = time.Unix(ts, 0)
		// Seconds only: the position in the notification orders messages of
		// the same second (microsecond units, like the bot's own default).
		in.Seq = ts*1_000_000 + int64(i)
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			return in, false
		}
		in.Kind, in.Text = channels.KindText, m.Text.Body
		if cmd, args, ok := command(m.Text.Body); ok {
			in.Kind, in.Command, in.Args = channels.KindCommand, cmd, args
		}
	case "interactive":
		switch it := m.Interactive; {
		case it != nil && it.ButtonReply != nil:
			in.Kind, in.Data, in.Text = channels.KindButton, it.ButtonReply.ID, it.ButtonReply.Title
		case it != nil && it.ListReply != nil:
			in.Kind, in.Data, in.Text = channels.KindButton, it.ListReply.ID, it.ListReply.Title
		default:
			return in, false
		}
	case "button":
		// A template's quick reply: its payload was set in WhatsApp Manager,
		// not by the scripts, so the bot reads its text like a typed one.
		if m.Button == nil {
			return in, false
		}
		in.Kind, in.Text = channels.KindText, m.Button.Text
	case "reaction":
		if m.Reaction == nil || m.Reaction.Emoji == "" {
			return in, false // a reaction taken back
		}
		in.Kind, in.Media, in.Text = channels.KindMedia, "reaction", m.Reaction.Emoji
	case "image", "video", "document", "sticker", "location", "contacts":
		in.Kind, in.Media = channels.KindMedia, map[string]string{"image": "photo", "contacts": "contact"}[m.Type]
		if in.Media == "" {
			in.Media = m.Type
		}
		for _, md := range []*media{m.Image, m.Video, m.Document} {
			if md != nil && md.Caption != "" {
				in.Text = md.Caption
			}
		}
	case "audio":
		in.Kind, in.Media = channels.KindMedia, "audio"
		if m.Audio != nil && m.Audio.Voice {
			in.Media = "voice"
		}
	case "unsupported":
		in.Kind, in.Media = channels.KindMedia, "unsupported"
	default:
		return in, false // system (a changed number), order, ephemeral...
	}
	return in, true
}

// command reads "/pedido 1001 ana@example.com" as a command: WhatsApp has
// none, but the scripts' commands (/start, /stop, /pedido) work typed.
func command(text string) (cmd, args string, ok bool) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") || len(text) < 2 {
		return "", "", false
	}
	cmd, args, _ = strings.Cut(text[1:], " ")
	cmd = strings.ToLower(cmd)
	for _, r := range cmd {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return "", "", false
		}
	}
	return cmd, strings.TrimSpace(args), cmd != ""
}

func firstName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return s
}

// status records a delivery status; a failure is logged with its code
// (131047 when a message reached a closed window, 131026 undeliverable).
func (c *Channel) status(ctx context.Context, s status) {
	switch s.Status {
	case "sent", "delivered", "read", "failed":
	default:
		return
	}
	if s.Status == "failed" {
		for _, e := range s.Errors {
			c.log.Info("message failed at WhatsApp", "message", s.ID, "code", e.Code, "title", e.Title)
		}
	}
	if c.opt.Statuses != nil {
		c.opt.Statuses.RecordStatus(ctx, Name, s.Status)
	}
}
