// Package telegram is the customers' channel on Telegram, over the Bot API
// client github.com/go-telegram-bot-api/telegram-bot-api/v5. It receives
// updates by long polling or by webhook, turns them into channels.Inbound
// (texts, commands, button presses, media), and sends messages with inline
// keyboards, one attempt each: the bot's senders (package delivery) pace
// them within Telegram's limits and retry them.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"journeybot/channels"
)

// Name is the channel's name in addresses and journeys.
const Name = "telegram"

// Modes of receiving updates.
const (
	ModePolling = "polling"
	ModeWebhook = "webhook"
)

// Options build a Channel. Token is required.
type Options struct {
	Token string
	// APIURL is the Bot API server (default https://api.telegram.org); every
	// call goes there.
	APIURL string
	// Mode is ModePolling (default) or ModeWebhook.
	Mode string
	// WebhookSecret is the secret_token Telegram sends in the
	// X-Telegram-Bot-Api-Secret-Token header (required for ModeWebhook).
	WebhookSecret string
	// AllowGroups makes the bot answer in group chats too.
	AllowGroups bool
	Log         *slog.Logger
	// HTTPClient does the requests (default: a client with sane timeouts).
	HTTPClient *http.Client
	// PollTimeout is the long-poll timeout of getUpdates (default 50s).
	PollTimeout time.Duration
	// PollLease, when set, makes polling a single process's job among those
	// sharing it (lease.Lease); without it every process that runs polls.
	PollLease Leaser
	// RetryBase is the first wait after a failed getUpdates (default 500ms);
	// the wait doubles up to 15s.
	RetryBase time.Duration
}

// Leaser runs fn while this process holds a lease, until ctx ends.
type Leaser interface {
	Run(ctx context.Context, fn func(ctx context.Context))
}

// Channel is the Telegram channel. Safe for concurrent use.
type Channel struct {
	opt  Options
	log  *slog.Logger
	api  *tgbotapi.BotAPI // template; each call uses a copy with its own context
	http *http.Client
	self tgbotapi.User
	hmu  sync.RWMutex
	hand channels.Handler // the handler of Run, for the webhook
}

// New connects to the Bot API (getMe validates the token) and returns the
// channel. Nothing is received until Run.
func New(ctx context.Context, o Options) (*Channel, error) {
	if o.Token == "" {
		return nil, errors.New("telegram: token is empty")
	}
	if o.APIURL == "" {
		o.APIURL = "https://api.telegram.org"
	}
	if o.Mode == "" {
		o.Mode = ModePolling
	}
	if o.Mode != ModePolling && o.Mode != ModeWebhook {
		return nil, fmt.Errorf("telegram: mode %q is neither %s nor %s", o.Mode, ModePolling, ModeWebhook)
	}
	if o.Mode == ModeWebhook && o.WebhookSecret == "" {
		return nil, errors.New("telegram: webhook mode needs a webhook secret")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 50 * time.Second
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 500 * time.Millisecond
	}
	hc := o.HTTPClient
	if hc == nil {
		// No overall Timeout: each call sets its own deadline (long polls are long).
		hc = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: o.PollTimeout + 15*time.Second,
		}}
	}
	c := &Channel{opt: o, log: o.Log.With("channel", Name), http: hc}
	// The library formats the endpoint with Sprintf(endpoint, token, method).
	endpoint := strings.ReplaceAll(strings.TrimRight(o.APIURL, "/"), "%", "%%") + "/bot%s/%s"
	if _, err := url.Parse(fmt.Sprintf(endpoint, "x", "getMe")); err != nil {
		return nil, fmt.Errorf("telegram: api url: %w", err)
	}
	var err error
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		c.api, err = tgbotapi.NewBotAPIWithClient(o.Token, endpoint, &ctxClient{ctx: cctx, hc: hc, token: o.Token})
		cancel()
		if err == nil {
			break
		}
		err = c.redact(err)
		var apiErr *tgbotapi.Error
		if errors.As(err, &apiErr) && apiErr.Code == http.StatusUnauthorized {
			return nil, fmt.Errorf("telegram: the Bot API at %s refused telegram.token (401 Unauthorized): check the token from BotFather", o.APIURL)
		}
		if errors.As(err, &apiErr) || attempt >= 4 || ctx.Err() != nil {
			return nil, fmt.Errorf("telegram: getMe at %s: %w", o.APIURL, err)
		}
		c.log.Warn("Bot API not reachable, retrying", "err", err)
		if !sleep(ctx, c.backoff(attempt)) {
			return nil, fmt.Errorf("telegram: getMe at %s: %w", o.APIURL, err)
		}
	}
	c.self = c.api.Self
	c.log.Info("connected to the Bot API", "bot", "@"+c.self.UserName, "mode", o.Mode)
	return c, nil
}

// Name returns "telegram".
func (c *Channel) Name() string { return Name }

// Username is the bot's @username (without @), as getMe said.
func (c *Channel) Username() string { return c.self.UserName }

// call runs fn with a copy of the client whose requests carry ctx (the
// library itself takes no context) and a deadline; errors come back with the
// token removed.
func (c *Channel) call(ctx context.Context, timeout time.Duration, fn func(api *tgbotapi.BotAPI) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	api := *c.api
	api.Client = &ctxClient{ctx: cctx, hc: c.http, token: c.opt.Token}
	return c.redact(fn(&api))
}

// request sends one Chattable whose answer is not a Message (answerCallbackQuery
// answers true, so the library's Send would fail to decode it).
func (c *Channel) request(ctx context.Context, ch tgbotapi.Chattable) error {
	return c.call(ctx, 30*time.Second, func(api *tgbotapi.BotAPI) error {
		_, err := api.Request(ch)
		return err
	})
}

// SetWebhook points Telegram at url with the secret token. The library's
// WebhookConfig has no secret_token field, so this uses its generic request.
func (c *Channel) SetWebhook(ctx context.Context, hookURL string) error {
	err := c.call(ctx, 30*time.Second, func(api *tgbotapi.BotAPI) error {
		_, err := api.MakeRequest("setWebhook", tgbotapi.Params{
			"url":             hookURL,
			"secret_token":    c.opt.WebhookSecret,
			"allowed_updates": allowedUpdates,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("telegram: setWebhook: %w", err)
	}
	return nil
}

// DeleteWebhook removes a webhook so getUpdates works (pending updates are kept).
func (c *Channel) DeleteWebhook(ctx context.Context) error {
	if err := c.request(ctx, tgbotapi.DeleteWebhookConfig{}); err != nil {
		return fmt.Errorf("telegram: deleteWebhook: %w", err)
	}
	return nil
}

// allowedUpdates are the update kinds the bot asks for.
const allowedUpdates = `["message","callback_query"]`

// ctxClient gives the library's context-free requests a context, and takes
// the token out of transport errors (it is in every request URL).
type ctxClient struct {
	ctx   context.Context
	hc    *http.Client
	token string
}

func (c *ctxClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req.WithContext(c.ctx))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = strings.ReplaceAll(ue.URL, c.token, "<token>")
		}
	}
	return resp, err
}

// redact makes sure no error the channel returns or logs contains the token.
func (c *Channel) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), c.opt.Token) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), c.opt.Token, "<token>"), cause: err}
}

// redacted hides its cause from errors.As (the cause's text holds the token)
// but still answers errors.Is (context.Canceled and the like).
type redacted struct {
	msg   string
	cause error
}

func (r *redacted) Error() string        { return r.msg }
func (r *redacted) Is(target error) bool { return errors.Is(r.cause, target) }

func (c *Channel) backoff(attempt int) time.Duration {
	d := c.opt.RetryBase << min(attempt, 10)
	return min(d, 15*time.Second)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
