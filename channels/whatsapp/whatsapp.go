// Package whatsapp is the customers' channel on WhatsApp, over Meta's Cloud
// API (a thin client on net/http: no Go client is maintained). It receives
// notifications at a webhook (the verification GET, then signed POSTs),
// turns messages into channels.Inbound (texts, reply buttons, list replies,
// media), records delivery statuses, and sends texts, reply buttons, lists
// and approved templates, one attempt each: the bot's senders (package
// delivery) pace them and retry them.
package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"journeybot/channels"
)

// Name is the channel's name in addresses and journeys.
const Name = "whatsapp"

// DefaultAPIURL is the Graph API with the version the channel speaks.
const DefaultAPIURL = "https://graph.facebook.com/v23.0"

// The Cloud API's limits (developers.facebook.com/docs/whatsapp/cloud-api).
const (
	MaxText       = 4096 // a text message's body
	MaxButtonText = 1024 // an interactive message's body
	MaxButtons    = 3    // reply buttons
	MaxLabel      = 20   // a reply button's title
	MaxRows       = 10   // rows of a list, all sections together
	MaxRowTitle   = 24
	maxRowDesc    = 72
	maxData       = 200 // a list row's id (a reply button's may be 256)
	// Window is the customer service window: free-form messages only this
	// long after the customer's last message.
	Window = 24 * time.Hour
)

// Capabilities are WhatsApp's, for lint as well as the bot.
func Capabilities() channels.Capabilities {
	return channels.Capabilities{
		MaxText: MaxText, MaxButtonText: MaxButtonText, MaxButtons: MaxButtons, MaxList: MaxRows,
		MaxLabel: MaxLabel, MaxListLabel: MaxRowTitle, MaxData: maxData, Templates: true, Window: Window,
	}
}

// StatusRecorder hears delivery statuses (sent, delivered, read, failed)
// of the messages the bot sent: figures for marketers, never answered.
type StatusRecorder interface {
	RecordStatus(ctx context.Context, channel, status string)
}

// Options build a Channel. AccessToken, PhoneNumberID, AppSecret and
// VerifyToken are required.
type Options struct {
	AccessToken   string
	PhoneNumberID string
	// AppSecret signs the webhook's POSTs (X-Hub-Signature-256).
	AppSecret string
	// VerifyToken is what the webhook's verification GET must present.
	VerifyToken string
	// APIURL is the Graph API base with its version (DefaultAPIURL).
	APIURL     string
	Log        *slog.Logger
	HTTPClient *http.Client
	Statuses   StatusRecorder
}

// Channel is the WhatsApp channel. Safe for concurrent use.
type Channel struct {
	opt  Options
	log  *slog.Logger
	http *http.Client
	base string // {api_url}/{phone_number_id}
	hmu  sync.RWMutex
	hand channels.Handler // the handler of Run, for the webhook
	// reads are the mark-as-read calls in flight, finished before Run
	// returns; none start once stopped is set (under hmu).
	reads   sync.WaitGroup
	stopped bool
}

// New checks the options and returns the channel. It makes no call: see
// Check.
func New(o Options) (*Channel, error) {
	switch {
	case o.AccessToken == "":
		return nil, errors.New("whatsapp: access token is empty")
	case o.PhoneNumberID == "":
		return nil, errors.New("whatsapp: phone number id is empty")
	case o.AppSecret == "":
		return nil, errors.New("whatsapp: app secret is empty (it signs the webhook)")
	case o.VerifyToken == "":
		return nil, errors.New("whatsapp: verify token is empty (the webhook's verification needs it)")
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	u, err := url.Parse(o.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errors.New("whatsapp: api url is not an http(s) URL")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}}
	}
	return &Channel{
		opt: o, log: o.Log.With("channel", Name), http: hc,
		base: strings.TrimRight(o.APIURL, "/") + "/" + url.PathEscape(o.PhoneNumberID),
	}, nil
}

// Name returns "whatsapp".
func (c *Channel) Name() string { return Name }

// Capabilities are WhatsApp's (see the package's constants).
func (c *Channel) Capabilities() channels.Capabilities { return Capabilities() }

// PhoneAddresses are the wa_ids a store's phone may have (see Addresses).
func (c *Channel) PhoneAddresses(phone string) []string { return Addresses(phone) }

// Check asks the Graph API about the phone number, so a wrong token or
// phone number id is a clear error at start rather than failed sends.
func (c *Channel) Check(ctx context.Context) (display string, err error) {
	var out struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		VerifiedName       string `json:"verified_name"`
	}
	if err := c.call(ctx, http.MethodGet, c.base+"?fields=display_phone_number,verified_name", nil, &out); err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && (ge.HTTPStatus == http.StatusUnauthorized || ge.Code == 190) {
			return "", fmt.Errorf("whatsapp: the Graph API refused whatsapp.access_token (%s): check the token in the Meta app", ge.Message)
		}
		return "", fmt.Errorf("whatsapp: phone number %s: %w", c.opt.PhoneNumberID, err)
	}
	return out.DisplayPhoneNumber, nil
}

// Run hands the webhook's messages to h until ctx ends; the webhook answers
// 503 before and after.
func (c *Channel) Run(ctx context.Context, h channels.Handler) error {
	c.setHandler(h)
	<-ctx.Done()
	c.hmu.Lock()
	c.hand, c.stopped = nil, true
	c.hmu.Unlock()
	c.reads.Wait()
	return nil
}

func (c *Channel) handler() channels.Handler {
	c.hmu.RLock()
	defer c.hmu.RUnlock()
	return c.hand
}

func (c *Channel) setHandler(h channels.Handler) {
	c.hmu.Lock()
	c.hand = h
	c.hmu.Unlock()
}

// GraphError is the Graph API's error: {"error":{"message","type","code",
// "error_subcode","error_data":{"details"},"fbtrace_id"}}.
type GraphError struct {
	HTTPStatus int    `json:"-"`
	Message    string `json:"message"`
	Type       string `json:"type"`
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	Data       struct {
		Details string `json:"details"`
	} `json:"error_data"`
	TraceID string `json:"fbtrace_id"`
	// RetryAfter is the Retry-After header, when there was one.
	RetryAfter time.Duration `json:"-"`
}

func (e *GraphError) Error() string {
	msg := e.Message
	if e.Data.Details != "" {
		msg += ": " + e.Data.Details
	}
	return fmt.Sprintf("graph api %d (code %d): %s", e.HTTPStatus, e.Code, msg)
}

// call makes one Graph API request with the token and decodes the answer
// into out. Errors never carry the token (it only travels in a header).
func (c *Channel) call(ctx context.Context, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.opt.AccessToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("graph api: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var env struct {
			Error *GraphError `json:"error"`
		}
		ge := &GraphError{}
		if json.Unmarshal(raw, &env) == nil && env.Error != nil {
			ge = env.Error
		} else {
			ge.Message = http.StatusText(resp.StatusCode)
		}
		ge.HTTPStatus = resp.StatusCode
		if s := resp.Header.Get("Retry-After"); s != "" {
			if d, err := time.ParseDuration(s + "s"); err == nil {
				ge.RetryAfter = d
			}
		}
		return ge
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("graph api: answer: %w", err)
		}
	}
	return nil
}
