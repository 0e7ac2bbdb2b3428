// Package llm writes customer replies with a language model: a scripted
// message rephrased for one customer, or an answer to a free question within
// the topics a journey stage allows.
//
// Every model reply is checked before use (facts kept, nothing invented,
// length, language); on any doubt or failure the caller gets the scripted
// text back (Rephrase) or ok=false (Answer). Errors never reach the caller.
package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	openai "github.com/sashabaranov/go-openai"
)

const (
	defaultTimeout         = 4 * time.Second
	defaultMaxTokens       = 300
	defaultTemperature     = 0.7
	defaultCacheTTL        = 24 * time.Hour
	defaultBreakerFailures = 5
	defaultBreakerCooldown = time.Minute
	defaultMaxChars        = 4096 // Telegram's message limit
	cacheMaxEntries        = 10000
)

// Config configures a Client. Zero values get the documented defaults.
type Config struct {
	APIKey, BaseURL, Model string
	Timeout                time.Duration // default 4s, for the whole call
	MaxTokens              int           // default 300
	Temperature            float32       // default 0.7 (0 also means default)
	CacheTTL               time.Duration // default 24h; rephrased text per (template, style, context)
	BreakerFailures        int           // consecutive failures that open the breaker, default 5
	BreakerCooldown        time.Duration // default 1m; then half-open: one trial call
}

// String hides the API key when a Config is printed.
func (c Config) String() string {
	return fmt.Sprintf("llm.Config{BaseURL:%q Model:%q Timeout:%s APIKey:%s}", c.BaseURL, c.Model, c.Timeout, redactedIfSet(c.APIKey))
}

// LogValue hides the API key when a Config is logged with slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("model", c.Model),
		slog.Duration("timeout", c.Timeout),
		slog.String("api_key", redactedIfSet(c.APIKey)),
	)
}

func redactedIfSet(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// CustomerContext is what the model may know about the customer. Contact data
// (e-mail, phone, address) is deliberately absent.
type CustomerContext struct {
	FirstName, Language, Stage string
	Products                   []string
	Points                     int
}

// Turn is one message of the recent conversation.
type Turn struct {
	FromCustomer bool
	// ByModel marks a bot turn the model wrote (a rephrase or a free answer).
	ByModel bool
	Text    string
}

// RephraseRequest asks for a scripted message to be rewritten for a customer.
type RephraseRequest struct {
	Template string // the rendered scripted text; its facts must survive
	Language string // "pt-BR" or "en"; falls back to Context.Language
	Style    string // optional style note from the script
	Context  CustomerContext
	Turns    []Turn // last few turns
	MaxChars int    // channel limit, e.g. 4096; 0 means 4096
}

// AnswerRequest asks for a free answer restricted to Topics.
type AnswerRequest struct {
	Question string
	Topics   []string // what the stage allows, with the facts the model may use
	Language string
	Context  CustomerContext
	Turns    []Turn
	MaxChars int
}

// Client calls an OpenAI-compatible chat completions endpoint. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	api   *openai.Client
	log   *slog.Logger
	m     *metrics
	cache *cache
	br    *breaker
	chk   *checker
	// now drives the breaker cooldown and cache expiry; tests replace it so
	// they do not sleep.
	now func() time.Time
	// maxCompletionTokens: reasoning models (o1, gpt-5...) reject max_tokens
	// and temperature, so New picks the parameters the model accepts.
	maxCompletionTokens bool
}

// New builds a Client. reg may be nil (metrics are then kept but not
// exported); logger may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Client, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("llm: Config.Model is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = defaultMaxTokens
	}
	if cfg.Temperature <= 0 {
		cfg.Temperature = defaultTemperature
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = defaultCacheTTL
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = defaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = defaultBreakerCooldown
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	oc := openai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		// The URL is not echoed: some proxies carry a key in it.
		if u, err := url.Parse(cfg.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, errors.New("llm: Config.BaseURL is not an absolute URL")
		}
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	// The context deadline bounds each call; this client timeout is only a
	// backstop should a caller pass a context that ignores it.
	oc.HTTPClient = &http.Client{Timeout: cfg.Timeout + time.Second}

	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("llm: registering metrics: %w", err)
	}
	c := &Client{
		cfg:   cfg,
		api:   openai.NewClientWithConfig(oc),
		log:   logger.With("component", "llm"),
		m:     m,
		cache: newCache(cfg.CacheTTL, cacheMaxEntries),
		br:    newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown),
		chk:   newChecker(),
		now:   time.Now,
	}
	probe := c.request(nil)
	if openai.NewReasoningValidator().Validate(probe) != nil {
		c.maxCompletionTokens = true
		if err := openai.NewReasoningValidator().Validate(c.request(nil)); err != nil {
			return nil, fmt.Errorf("llm: model %q: %w", cfg.Model, err)
		}
	}
	return c, nil
}

func (c *Client) request(msgs []openai.ChatCompletionMessage) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{Model: c.cfg.Model, Messages: msgs}
	if c.maxCompletionTokens {
		r.MaxCompletionTokens = c.cfg.MaxTokens
	} else {
		// max_tokens is deprecated by OpenAI but is what most compatible
		// servers (local model servers) understand.
		//lint:ignore SA1019 see above
		r.MaxTokens = c.cfg.MaxTokens
		r.Temperature = c.cfg.Temperature
	}
	return r
}

// Rephrase returns the model's text when it passes every check, else the
// template unchanged and ok=false. It never returns an error and never
// blocks longer than Config.Timeout.
func (c *Client) Rephrase(ctx context.Context, req RephraseRequest) (text string, ok bool) {
	const op = "rephrase"
	if strings.TrimSpace(req.Template) == "" {
		c.fallback(op, reasonEmptyInput, "")
		return req.Template, false
	}
	lang := langCode(req.Language)
	if lang == "" {
		lang = langCode(req.Context.Language)
	}
	maxChars := req.MaxChars
	if maxChars <= 0 {
		maxChars = defaultMaxChars
	}

	key := rephraseKey(req, lang, maxChars)
	if cached, hit := c.cache.get(key, c.now()); hit {
		c.m.cacheHits.Inc()
		return cached, true
	}

	keep := c.chk.extract(req.Template)
	reply, reason := c.complete(ctx, op, rephraseMessages(req, lang, maxChars, keep))
	if reason != "" {
		c.fallback(op, reason, "")
		return req.Template, false
	}
	reply = unquote(reply, req.Template)

	if reason, detail := c.checkRephrase(req, reply, lang, maxChars, keep); reason != "" {
		c.fallback(op, reason, detail)
		return req.Template, false
	}
	c.cache.put(key, reply, c.now())
	return reply, true
}

func (c *Client) checkRephrase(req RephraseRequest, reply, lang string, maxChars int, keep facts) (reason, detail string) {
	if n := utf8.RuneCountInString(reply); n > maxChars {
		return reasonTooLong, strconv.Itoa(n)
	}
	if f, missing := c.chk.missingFact(keep, reply); missing {
		return reasonFactMissing, f
	}
	// Only the template and the profile are trusted sources; the
	// conversation is not, or "my coupon is FREE100" could be echoed back.
	allow := c.chk.allowedFrom(append(contextFacts(req.Context), req.Template)...)
	return c.chk.vet(allow, reply, lang, true)
}

// Answer returns a free answer on the allowed topics; ok=false means: use the
// fallback or a person (off-topic, model unsure, failure). It never returns an
// error and never blocks longer than Config.Timeout.
func (c *Client) Answer(ctx context.Context, req AnswerRequest) (text string, ok bool) {
	const op = "answer"
	if strings.TrimSpace(req.Question) == "" || len(req.Topics) == 0 {
		c.fallback(op, reasonEmptyInput, "")
		return "", false
	}
	lang := langCode(req.Language)
	if lang == "" {
		lang = langCode(req.Context.Language)
	}
	maxChars := req.MaxChars
	if maxChars <= 0 {
		maxChars = defaultMaxChars
	}

	reply, reason := c.complete(ctx, op, answerMessages(req, lang, maxChars))
	if reason != "" {
		c.fallback(op, reason, "")
		return "", false
	}
	reply = unquote(reply, "")
	if isUnsure(reply) {
		c.fallback(op, reasonUnsure, "")
		return "", false
	}
	if reason, detail := c.checkAnswer(req, reply, lang, maxChars); reason != "" {
		c.fallback(op, reason, detail)
		return "", false
	}
	return reply, true
}

func (c *Client) checkAnswer(req AnswerRequest, reply, lang string, maxChars int) (reason, detail string) {
	if n := utf8.RuneCountInString(reply); n > maxChars {
		return reasonTooLong, strconv.Itoa(n)
	}
	// Trusted sources: topics, profile and what the bot itself said from its
	// scripts. Not the customer's words (prompt injection could plant a code
	// there), nor an earlier model text (what it invented and got past the
	// checks once must not vouch for itself).
	sources := append(contextFacts(req.Context), req.Topics...)
	for _, t := range req.Turns {
		if !t.FromCustomer && !t.ByModel {
			sources = append(sources, t.Text)
		}
	}
	return c.chk.vet(c.chk.allowedFrom(sources...), reply, lang, false)
}

// isUnsure spots the sentinel even when the model decorates it
// ("UNSURE.", "Unsure", "UNSURE - not about shipping").
func isUnsure(reply string) bool {
	r := strings.ToUpper(strings.TrimSpace(reply))
	r = strings.TrimLeft(r, "\"'*`_ ")
	return strings.HasPrefix(r, unsureWord) || r == "" ||
		(utf8.RuneCountInString(reply) < 40 && strings.Contains(r, unsureWord))
}

// complete makes one guarded model call. reason is "" on success.
func (c *Client) complete(ctx context.Context, op string, msgs []openai.ChatCompletionMessage) (text, reason string) {
	if !c.br.allow(c.now()) {
		return "", reasonBreakerOpen
	}
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	start := time.Now()
	resp, err := c.api.CreateChatCompletion(callCtx, c.request(msgs))
	elapsed := time.Since(start)

	countsAsFailure := false
	if err != nil {
		reason, countsAsFailure = classify(ctx, err)
	} else {
		c.m.tokens.WithLabelValues("prompt").Add(float64(resp.Usage.PromptTokens))
		c.m.tokens.WithLabelValues("completion").Add(float64(resp.Usage.CompletionTokens))
		text, reason, countsAsFailure = pickChoice(resp)
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	c.m.latency.WithLabelValues(op, outcome).Observe(elapsed.Seconds())

	switch {
	case reason == reasonCanceled:
		c.br.release() // says nothing about the endpoint
	case countsAsFailure:
		if c.br.failure(c.now()) {
			c.log.Warn("llm circuit breaker opened; using scripted replies",
				"failures", c.cfg.BreakerFailures, "cooldown", c.cfg.BreakerCooldown, "last_reason", reason)
		}
	default:
		// A reply that fails our checks still proves the endpoint works.
		if c.br.success() {
			c.log.Info("llm circuit breaker closed; model calls resumed")
		}
	}
	if err != nil {
		c.log.Debug("llm call failed", "op", op, "reason", reason, "error", c.redact(err.Error()))
	}
	return text, reason
}

// classify maps a go-openai error to a fallback reason and whether it
// should count towards opening the breaker.
func classify(parent context.Context, err error) (reason string, failure bool) {
	if parent.Err() != nil {
		return reasonCanceled, false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return reasonTimeout, true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return reasonTimeout, true
	}
	status := 0
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	}
	switch {
	case status == http.StatusTooManyRequests:
		return reasonHTTP429, true
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return reasonTimeout, true
	case status >= 500:
		return reasonHTTP5xx, true
	case status >= 400:
		return reasonHTTP4xx, true
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return reasonNetwork, true
	}
	// A 200 whose body is not a completion.
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return reasonMalformed, true
	}
	return reasonNetwork, true
}

// pickChoice extracts the reply text from a successful HTTP exchange.
func pickChoice(resp openai.ChatCompletionResponse) (text, reason string, failure bool) {
	if len(resp.Choices) == 0 {
		return "", reasonMalformed, true
	}
	ch := resp.Choices[0]
	switch ch.FinishReason {
	case openai.FinishReasonContentFilter:
		return "", reasonContentFilter, false
	case openai.FinishReasonLength:
		return "", reasonTooLong, false // cut off mid-sentence
	}
	if ch.Message.Refusal != "" {
		return "", reasonContentFilter, false
	}
	text = strings.TrimSpace(ch.Message.Content)
	if text == "" {
		return "", reasonMalformed, true
	}
	return text, "", false
}

// unquote drops quotes the model wraps its reply in, unless the template
// itself is quoted.
func unquote(reply, template string) string {
	for _, q := range [][2]string{{`"`, `"`}, {"“", "”"}, {"'", "'"}} {
		if len(reply) >= 2 && strings.HasPrefix(reply, q[0]) && strings.HasSuffix(reply, q[1]) &&
			!strings.HasPrefix(strings.TrimSpace(template), q[0]) {
			return strings.TrimSpace(reply[len(q[0]) : len(reply)-len(q[1])])
		}
	}
	return reply
}

func (c *Client) fallback(op, reason, detail string) {
	c.m.fallbacks.WithLabelValues(op, reason).Inc()
	if detail != "" {
		c.log.Debug("llm reply rejected", "op", op, "reason", reason, "detail", c.redact(detail))
	}
}

// redact keeps the API key out of logs even if an error echoes it back.
func (c *Client) redact(s string) string {
	if c.cfg.APIKey != "" {
		s = strings.ReplaceAll(s, c.cfg.APIKey, "[redacted]")
	}
	const max = 300 // error bodies from proxies can be whole HTML pages
	return truncateRunes(s, max)
}

// rephraseKey identifies a rephrase result: everything the model saw,
// the conversation included, so one customer's words can never reach another
// customer through the cache.
func rephraseKey(req RephraseRequest, lang string, maxChars int) string {
	h := sha256.New()
	for _, s := range []string{
		req.Template, req.Style, lang, strconv.Itoa(maxChars),
		req.Context.FirstName, req.Context.Language, req.Context.Stage,
		strings.Join(req.Context.Products, "\x1f"), strconv.Itoa(req.Context.Points),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, t := range req.Turns {
		if t.FromCustomer {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{2})
		}
		h.Write([]byte(t.Text))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
