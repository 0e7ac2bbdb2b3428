package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"journeybot/channels"
)

// Error codes of the Cloud API the channel acts on.
const (
	codeOutsideWindow  = 131047 // re-engagement: more than 24 h since the customer wrote
	codeRateLimit      = 130429 // the number's throughput
	codePairRateLimit  = 131056 // too many messages to one customer
	codeSpamRateLimit  = 131048
	codeUndeliverable  = 131026 // not on WhatsApp, or cannot receive
	codeNotAllowed     = 131030 // not in the test number's allowed list
	codeTemporary      = 131000 // "something went wrong"
	codeServiceUnavail = 131016
	codeAppRateLimit   = 4
	codeTokenInvalid   = 190
)

// Send delivers m in one attempt: as its template when it has one, else as
// text, reply buttons (up to 3) or a list (up to 10 rows). Failures say what
// the sender should do: a *channels.RetryError for rate limits (130429,
// 131056, HTTP 429) and temporary failures; channels.ErrRejected for a
// message WhatsApp refuses, 131047 (outside the service window) included, so
// it is never retried into the same refusal; channels.ErrUnreachable for a
// number WhatsApp cannot deliver to.
func (c *Channel) Send(ctx context.Context, m channels.Outbound) error {
	to := strings.TrimPrefix(m.Address, "+")
	if to == "" || strings.Trim(to, "0123456789") != "" {
		return fmt.Errorf("whatsapp: address %q is not a phone number: %w", m.Address, channels.ErrRejected)
	}
	body, err := payload(to, m)
	if err != nil {
		return fmt.Errorf("whatsapp: %w: %w", channels.ErrRejected, err)
	}
	if body == nil {
		return nil // nothing to say
	}
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := c.call(ctx, http.MethodPost, c.base+"/messages", body, &out); err != nil {
		return classify(to, err)
	}
	return nil
}

// classify turns a failed send into what the sender acts on.
func classify(to string, err error) error {
	var ge *GraphError
	if !errors.As(err, &ge) {
		return &channels.RetryError{Err: fmt.Errorf("whatsapp: send to %s: %w", to, err)}
	}
	switch {
	case ge.HTTPStatus == http.StatusTooManyRequests || ge.Code == codeRateLimit || ge.Code == codeSpamRateLimit || ge.Code == codeAppRateLimit:
		return &channels.RetryError{After: max(ge.RetryAfter, time.Second), Err: fmt.Errorf("whatsapp: rate limit: %w", ge)}
	case ge.Code == codePairRateLimit:
		// One customer gets about one message every 6 seconds in a burst.
		return &channels.RetryError{After: max(ge.RetryAfter, 6*time.Second), Err: fmt.Errorf("whatsapp: pair rate limit for %s: %w", to, ge)}
	case ge.Code == codeOutsideWindow:
		return fmt.Errorf("whatsapp: %s: outside the 24-hour window: %w: %w", to, ge, channels.ErrRejected)
	case ge.Code == codeUndeliverable || ge.Code == codeNotAllowed:
		return fmt.Errorf("whatsapp: %s: %w: %w", to, ge, channels.ErrUnreachable)
	case ge.Code == codeTokenInvalid || ge.HTTPStatus == http.StatusUnauthorized:
		// The operator's to fix; the messages wait for a good token.
		return &channels.RetryError{Err: fmt.Errorf("whatsapp: whatsapp.access_token refused: %w", ge)}
	case ge.HTTPStatus >= 500 || ge.Code == codeTemporary || ge.Code == codeServiceUnavail || ge.Code == 1 || ge.Code == 2:
		return &channels.RetryError{After: ge.RetryAfter, Err: fmt.Errorf("whatsapp: send to %s: %w", to, ge)}
	}
	return fmt.Errorf("whatsapp: send to %s: %w: %w", to, ge, channels.ErrRejected)
}

// Message payloads of POST /{phone_number_id}/messages.
type (
	message struct {
		Product     string       `json:"messaging_product"`
		Recipient   string       `json:"recipient_type"`
		To          string       `json:"to"`
		Type        string       `json:"type"`
		Text        *text        `json:"text,omitempty"`
		Interactive *interactive `json:"interactive,omitempty"`
		Template    *template    `json:"template,omitempty"`
	}
	text struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	}
	interactive struct {
		Type   string `json:"type"` // button, list
		Body   ibody  `json:"body"`
		Action action `json:"action"`
	}
	ibody struct {
		Text string `json:"text"`
	}
	action struct {
		Buttons  []replyButton `json:"buttons,omitempty"`
		Button   string        `json:"button,omitempty"` // a list's button
		Sections []section     `json:"sections,omitempty"`
	}
	replyButton struct {
		Type  string `json:"type"`
		Reply reply  `json:"reply"`
	}
	reply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	section struct {
		Title string `json:"title,omitempty"`
		Rows  []row  `json:"rows"`
	}
	row struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description,omitempty"`
	}
	template struct {
		Name       string      `json:"name"`
		Language   language    `json:"language"`
		Components []component `json:"components,omitempty"`
	}
	language struct {
		Code string `json:"code"`
	}
	component struct {
		Type       string      `json:"type"`
		Parameters []parameter `json:"parameters"`
	}
	parameter struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// payload builds the message for m, or nil when there is nothing to send.
func payload(to string, m channels.Outbound) (*message, error) {
	msg := &message{Product: "whatsapp", Recipient: "individual", To: to}
	if t := m.Template; t != nil {
		msg.Type = "template"
		tp := &template{Name: t.Name, Language: language{Code: TemplateLanguage(t.Language, m.Language)}}
		if len(t.Params) > 0 {
			comp := component{Type: "body"}
			for _, p := range t.Params {
				if p == "" {
					p = "-" // WhatsApp refuses an empty parameter
				}
				comp.Parameters = append(comp.Parameters, parameter{Type: "text", Text: p})
			}
			tp.Components = []component{comp}
		}
		msg.Template = tp
		return msg, nil
	}
	body := strings.TrimSpace(m.Text)
	switch {
	case len(m.Buttons) == 0:
		if body == "" {
			return nil, nil
		}
		if parts := channels.SplitText(body, MaxText); len(parts) > 0 {
			body = parts[0] // the bot splits before it queues; this only guards
		}
		msg.Type, msg.Text = "text", &text{Body: body, PreviewURL: strings.Contains(body, "https://")}
		return msg, nil
	case len(m.Buttons) > MaxRows:
		return nil, fmt.Errorf("%d buttons: WhatsApp shows at most %d list rows", len(m.Buttons), MaxRows)
	}
	if body == "" {
		body = "…" // an interactive message needs a body
	}
	if parts := channels.SplitText(body, MaxButtonText); len(parts) > 0 {
		body = parts[0]
	}
	in := &interactive{Body: ibody{Text: body}}
	for _, b := range m.Buttons {
		if b.Data == "" || len(b.Data) > maxData {
			return nil, fmt.Errorf("button %q has %d bytes of data; WhatsApp takes 1 to %d", b.Label, len(b.Data), maxData)
		}
	}
	if len(m.Buttons) <= MaxButtons {
		in.Type = "button"
		for _, b := range m.Buttons {
			in.Action.Buttons = append(in.Action.Buttons, replyButton{Type: "reply", Reply: reply{ID: b.Data, Title: channels.Shorten(b.Label, MaxLabel)}})
		}
	} else {
		in.Type = "list"
		in.Action.Button = "Ver opções"
		if m.Language == "en" {
			in.Action.Button = "See options"
		}
		var rows []row
		for _, b := range m.Buttons {
			r := row{ID: b.Data, Title: channels.Shorten(b.Label, MaxRowTitle)}
			if r.Title != b.Label {
				r.Description = channels.Shorten(b.Label, maxRowDesc) // the whole label, where it fits
			}
			rows = append(rows, r)
		}
		in.Action.Sections = []section{{Rows: rows}}
	}
	msg.Type, msg.Interactive = "interactive", in
	return msg, nil
}

// TemplateLanguage is the template language code to send: the script's, else
// the customer's language as WhatsApp spells it (pt-BR is pt_BR).
func TemplateLanguage(script, customer string) string {
	if script != "" {
		return script
	}
	switch customer {
	case "", "pt-BR", "pt":
		return "pt_BR"
	}
	return strings.ReplaceAll(customer, "-", "_")
}

// markRead tells WhatsApp the bot read a message (the customer sees two blue
// ticks). Best effort: a failure changes nothing else.
func (c *Channel) markRead(id string) {
	c.hmu.RLock()
	defer c.hmu.RUnlock()
	if c.stopped {
		return
	}
	c.reads.Add(1)
	go func() {
		defer c.reads.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		body := map[string]string{"messaging_product": "whatsapp", "status": "read", "message_id": id}
		if err := c.call(ctx, http.MethodPost, c.base+"/messages", body, nil); err != nil {
			c.log.Debug("mark as read failed", "err", err)
		}
	}()
}
