package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"journeybot/bot"
	"journeybot/journey"
	"journeybot/keys"
)

// SignatureHeader carries the request's signature: "v1=<hex>" (see Sign),
// or "sha256=<hex>" of the body only with Options.LegacySignature.
const SignatureHeader = "X-Journeybot-Signature"

// Applier applies an event; *bot.Bot is one.
type Applier interface {
	HandleEvent(ctx context.Context, ev journey.Event) (*bot.EventOutcome, error)
}

// Options configure the handler.
type Options struct {
	// Keys are derived from events.secret (all of its secrets): of the
	// signature and of deep links. Required.
	Keys keys.Set
	// LegacySignature accepts the body-only signature (events.legacy_signature).
	LegacySignature bool
	// BotUsername is the Telegram bot's username; when set, the answer to
	// order.created carries the customer's signed deep link.
	BotUsername string
	Log         *slog.Logger
	Now         func() time.Time
	// PerCustomer, when set, limits the events of each customer (429 with
	// Retry-After beyond it); *ratelimit.Keyed is one.
	PerCustomer Limiter
}

// Limiter counts one event of key and says whether it is within the limit,
// and if not, how long until it is.
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, time.Duration, error)
}

// Handler serves POST /events.
type Handler struct {
	bot Applier
	opt Options
}

// NewHandler returns the events endpoint.
func NewHandler(b Applier, o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{bot: b, opt: o}
}

// Answer is the JSON body of every response.
type Answer struct {
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	Field     string `json:"field,omitempty"`
	ID        string `json:"id,omitempty"`
	Customer  string `json:"customer,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Stage     string `json:"stage,omitempty"`
	Messages  int    `json:"messages,omitempty"`
	// TelegramLink opens the bot already linked to the order's customer
	// (order.created only, when telegram.bot_username is set).
	TelegramLink string `json:"telegram_link,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, Answer{Error: r.Method + " is not allowed: send events with POST"})
		return
	}
	if r.Header.Get(SignatureHeader) == "" || h.opt.Keys.Empty() {
		// Drain a little so a well-behaved client sees the answer, not a reset.
		io.CopyN(io.Discard, r.Body, 64<<10)
		reply(w, http.StatusUnauthorized, Answer{Error: "missing " + SignatureHeader + " header: expected v1=<hex HMAC-SHA256 of \"<timestamp>.<body>\">, with " + TimestampHeader})
		return
	}
	if r.ContentLength > MaxBody {
		reply(w, http.StatusRequestEntityTooLarge, Answer{Error: "body larger than 1 MiB"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, Answer{Error: "body larger than 1 MiB"})
			return
		}
		reply(w, http.StatusBadRequest, Answer{Error: "could not read the body"})
		return
	}
	legacy, msg := checkSignature(r.Header, body, h.opt.Keys, h.opt.LegacySignature, h.opt.Now())
	if msg != "" {
		reply(w, http.StatusUnauthorized, Answer{Error: msg})
		return
	}
	ev, err := Parse(body, ParseOptions{Now: h.opt.Now(), RequireTime: legacy})
	if err == nil && legacy && h.opt.Now().Sub(ev.At) > LegacyMaxAge {
		err = fieldErr("occurred_at", "more than %s ago: a body-only signed event has no timestamp, so older bytes could be a replay; sign with %s", LegacyMaxAge, TimestampHeader)
	}
	if err != nil {
		var pe *Error
		errors.As(err, &pe)
		a := Answer{Error: err.Error(), ID: ev.ID}
		if pe != nil {
			a.Field = pe.Field
		}
		reply(w, http.StatusBadRequest, a)
		return
	}
	// A client that hangs up must not cut the event off between its commit
	// and its messages: those would be lost, recorded as sent.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if h.opt.PerCustomer != nil {
		ok, wait, err := h.opt.PerCustomer.Allow(ctx, ev.Customer.ID)
		if err != nil {
			// The event's own commit will tell whether Redis is there.
			h.opt.Log.Warn("per-customer event limit unavailable", "err", err)
		} else if !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			reply(w, http.StatusTooManyRequests, Answer{Error: fmt.Sprintf("too many events for customer %s (events.customer_per_minute): retry after %d s", ev.Customer.ID, secs), ID: ev.ID})
			return
		}
	}
	out, err := h.bot.HandleEvent(ctx, ev)
	if errors.Is(err, bot.ErrErased) {
		reply(w, http.StatusConflict, Answer{Error: err.Error(), Field: "customer.consent", ID: ev.ID})
		return
	}
	if err != nil {
		h.opt.Log.Error("event not applied", "event", ev.ID, "type", ev.Type, "customer", ev.Customer.ID, "err", err)
		w.Header().Set("Retry-After", "5")
		reply(w, http.StatusServiceUnavailable, Answer{Error: "the event could not be stored now; retry later (it is applied once)", ID: ev.ID})
		return
	}
	a := Answer{OK: true, ID: ev.ID, Customer: out.Customer, Duplicate: out.Duplicate, Stage: out.Stage, Messages: out.Messages}
	if ev.Type == "order.created" && ev.Order != nil && h.opt.BotUsername != "" {
		if p, err := bot.SignPayload(h.opt.Keys, 'o', ev.Order.ID); err == nil {
			a.TelegramLink = bot.DeepLink(h.opt.BotUsername, p)
		} else {
			h.opt.Log.Info("no deep link for order", "order", ev.Order.ID, "err", err)
		}
	}
	h.opt.Log.Debug("event applied", "event", ev.ID, "type", ev.Type, "customer", out.Customer, "duplicate", out.Duplicate)
	reply(w, http.StatusOK, a)
}

// Off answers every request to /events when the API is not configured, in
// the same JSON as the handler.
func Off(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusNotFound, Answer{Error: "the events API is off: set events.secret to accept POST /events"})
}

func reply(w http.ResponseWriter, code int, a Answer) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(a)
}
