// Package config loads journeybot's configuration: a YAML file plus
// JOURNEYBOT_* environment overrides, validated before anything connects.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"journeybot/internal/suggest"
	"journeybot/keys"
)

// EnvPrefix is the prefix of environment overrides: redis.url is JOURNEYBOT_REDIS_URL.
const EnvPrefix = "JOURNEYBOT"

// DefaultFile is read when --config is not given and the file exists.
const DefaultFile = "journeybot.yaml"

// defaults lists every key the bot knows, with its default. A key not in
// this table is a typo and refused.
var defaults = map[string]any{
	"redis.url":                  "",
	"redis.prefix":               "jb",
	"http.addr":                  "127.0.0.1:8080",
	"http.max_connections":       1024,
	"http.ip_rate":               50,
	"http.ip_burst":              100,
	"metrics.addr":               "127.0.0.1:9464",
	"metrics.token":              "",
	"log.level":                  "info",
	"log.format":                 "text",
	"scripts.dir":                "scripts",
	"state.history_cap":          50,
	"state.retention":            "730d",
	"insight.abandon_after":      "3d",
	"state.journey_cache":        50000,
	"state.address_cache":        50000,
	"state.address_ttl":          "1m",
	"telegram.token":             "",
	"telegram.api_url":           "https://api.telegram.org",
	"telegram.mode":              "polling",
	"telegram.webhook_secret":    "",
	"telegram.webhook_url":       "",
	"telegram.bot_username":      "",
	"telegram.allow_groups":      false,
	"telegram.rate":              30,
	"whatsapp.access_token":      "",
	"whatsapp.phone_number_id":   "",
	"whatsapp.app_secret":        "",
	"whatsapp.verify_token":      "",
	"whatsapp.api_url":           "https://graph.facebook.com/v23.0",
	"whatsapp.rate":              80,
	"slack.bot_token":            "",
	"slack.app_token":            "",
	"slack.signing_secret":       "",
	"slack.api_url":              "https://slack.com/api/",
	"slack.support_channel":      "",
	"slack.claim_timeout":        "10m",
	"slack.team_id":              "",
	"slack.staff_user_ids":       []string{},
	"slack.staff_from_channel":   false,
	"support.hours":              "",
	"llm.api_key":                "",
	"llm.base_url":               "",
	"llm.model":                  "gpt-4o-mini",
	"llm.timeout":                "4s",
	"llm.max_tokens":             300,
	"llm.temperature":            0.7,
	"llm.cache_ttl":              "24h",
	"events.secret":              []string{},
	"events.legacy_signature":    false,
	"events.customer_per_minute": 60,
	"events.customer_burst":      20,
	"orders.lookup_url":          "",
	"orders.lookup_timeout":      "3s",
	"orders.cache_ttl":           "1m",
	"send.max_per_day":           2,
	"send.max_per_week":          5,
	"send.quiet_start":           "21:00",
	"send.quiet_end":             "09:00",
	"send.default_timezone":      "America/Sao_Paulo",
	"send.max_age":               "24h",
	"intake.per_minute":          60,
	"intake.burst":               20,
	"schedule.grace":             "12h",
	"schedule.interval":          "1s",
	"schedule.batch":             100,
}

// Config is the validated configuration. Secrets are plain strings here;
// never log a Config.
type Config struct {
	File string // the file read, or "" when none

	RedisURL string
	// RedisPrefix starts every key, so several bots (or tests) can share a database.
	RedisPrefix string
	HTTPAddr    string
	LogLevel    string
	LogFormat   string
	ScriptsDir  string
	HistoryCap  int
	// Retention: journeys with no activity for this long are erased (0: never).
	Retention time.Duration
	// AbandonAfter: a step that asked the customer something counts as
	// abandoned when no answer came for this long (insight.abandon_after).
	AbandonAfter time.Duration
	// JourneyCache and AddressCache bound the journeys and the chat address
	// lookups (and indexed usernames) a process keeps; AddressTTL is how
	// long it trusts a cached lookup.
	JourneyCache, AddressCache int
	AddressTTL                 time.Duration

	// MaxConns caps the HTTP server's open connections.
	MaxConns int
	// MetricsAddr is where /metrics listens ("" = not served); MetricsToken,
	// when set, is the bearer token it asks for.
	MetricsAddr, MetricsToken string
	// IPRate and IPBurst limit each client address on the public
	// endpoints (requests a second, bursts); IPRate 0 turns it off.
	IPRate  float64
	IPBurst int

	Telegram Telegram
	WhatsApp WhatsApp
	Slack    Slack
	Support  Support
	LLM      LLM
	Events   Events
	Orders   Orders
	Send     Send
	Schedule Schedule
	Intake   Intake
}

// Intake is the per-chat inbound limit: PerMinute messages, bursts of Burst.
type Intake struct{ PerMinute, Burst int }

type Telegram struct {
	Token, APIURL, Mode, WebhookSecret, WebhookURL, BotUsername string
	AllowGroups                                                 bool
	// Rate is the most messages per second to Telegram, for all processes together.
	Rate int
}

// Enabled reports whether the Telegram channel is configured.
func (t Telegram) Enabled() bool { return t.Token != "" }

type WhatsApp struct {
	AccessToken, PhoneNumberID, AppSecret, VerifyToken, APIURL string
	// Rate is the most messages per second from the phone number, for all
	// processes together (WhatsApp's default throughput is 80).
	Rate int
}

// Enabled reports whether the WhatsApp channel is configured.
func (w WhatsApp) Enabled() bool { return w.AccessToken != "" && w.PhoneNumberID != "" }

type Slack struct {
	BotToken, AppToken, SigningSecret, APIURL, SupportChannel, TeamID string
	ClaimTimeout                                                      time.Duration
	StaffUserIDs                                                      []string
	// StaffFromChannel makes every member of the support channel staff
	// (an explicit choice: with neither it nor StaffUserIDs the desk does
	// not start).
	StaffFromChannel bool
}

// Enabled reports whether the Slack channel is configured.
func (s Slack) Enabled() bool { return s.BotToken != "" }

type Support struct {
	Hours string // e.g. "mon-fri 09:00-18:00"; empty: always
}

type LLM struct {
	APIKey, BaseURL, Model string
	Timeout, CacheTTL      time.Duration
	MaxTokens              int
	Temperature            float64
}

// Enabled reports whether a model is configured.
func (l LLM) Enabled() bool { return l.APIKey != "" || l.BaseURL != "" }

// Events holds events.secret: a list, newest first, so it can be rotated
// (the first signs deep links; all verify events and links).
type Events struct {
	Secrets []string
	// LegacySignature accepts the body-only "sha256=" signature, without
	// a timestamp, for stores that cannot send X-Journeybot-Timestamp yet.
	LegacySignature bool
	// CustomerPerMinute and CustomerBurst limit POST /events per customer
	// (0 turns it off).
	CustomerPerMinute, CustomerBurst int
}

// Enabled reports whether a secret is set (POST /events, deep links).
func (e Events) Enabled() bool { return len(e.Secrets) > 0 }

type Orders struct {
	LookupURL               string
	LookupTimeout, CacheTTL time.Duration
}

type Send struct {
	MaxPerDay, MaxPerWeek            int
	QuietStart, QuietEnd             time.Duration // offsets from midnight
	DefaultTimezone                  *time.Location
	QuietStartText, QuietEndText, TZ string
	// MaxAge is how long a message is retried before it is dropped.
	MaxAge time.Duration
}

// maxScheduleBatch bounds schedule.batch: on one Redis node a batch's
// commits run as one MULTI/EXEC (about 30 µs each), so a thousand hold
// Redis for some 30 ms.
const maxScheduleBatch = 1000

type Schedule struct {
	Grace, Interval time.Duration
	// Batch is how many due customers the scheduler claims, reads and
	// commits together.
	Batch int
}

// Error is a configuration problem, naming the key and the file.
type Error struct {
	File, Key, Msg string
}

func (e *Error) Error() string {
	src := e.File
	if src == "" {
		src = "configuration"
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", src, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s (environment: %s)", src, e.Key, e.Msg, EnvName(e.Key))
}

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys returns every known key, sorted.
func Keys() []string {
	ks := make([]string, 0, len(defaults))
	for k := range defaults {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Load reads file (or DefaultFile when file is "" and it exists), applies the
// environment and validates. environ is os.Environ() in production.
func Load(file string, environ []string) (*Config, error) {
	// Every problem is reported at once: unknown keys, unknown variables, bad values.
	var problems []error
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	if file == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			file = DefaultFile
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, &Error{File: file, Msg: fmt.Sprintf("cannot read: %v", err)}
		}
		if err := checkUnknown(file, v); err != nil {
			problems = append(problems, err)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix+"_") || strings.HasPrefix(name, EnvPrefix+"_TEST_") {
			continue
		}
		key := ""
		for k := range defaults {
			if EnvName(k) == name {
				key = k
			}
		}
		if key == "" {
			hint := fmt.Sprintf("known: %s_<KEY>, e.g. %s", EnvPrefix, EnvName("redis.url"))
			var names []string
			for _, k := range Keys() {
				names = append(names, EnvName(k))
			}
			if s := suggest.Closest(name, names, 3); s != "" {
				hint = "did you mean " + s + "?"
			}
			problems = append(problems, &Error{File: "environment", Msg: fmt.Sprintf("unknown environment variable %s (%s)", name, hint)})
			continue
		}
		env[key] = val
	}
	for k, val := range env {
		if _, isList := defaults[k].([]string); isList {
			v.Set(k, splitList(val))
		} else {
			v.Set(k, val)
		}
	}
	envSet := map[string]bool{}
	for k := range env {
		envSet[k] = true
	}
	c, err := build(file, v, envSet)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return c, nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// checkUnknown refuses keys in the file that the bot does not know, so a
// typo is not silently ignored.
func checkUnknown(file string, v *viper.Viper) error {
	var unknown []string
	for _, k := range v.AllKeys() {
		if _, ok := defaults[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	var errs []error
	for _, k := range unknown {
		msg := "unknown key"
		if s := closestKey(k); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		errs = append(errs, &Error{File: file, Key: k, Msg: msg})
	}
	return errors.Join(errs...)
}

// closestKey returns the known key closest to k, if it is close.
func closestKey(k string) string { return suggest.Closest(k, Keys(), 3) }

// builder collects every problem, so an operator fixes them in one go.
type builder struct {
	file string
	v    *viper.Viper
	errs []error
}

func (b *builder) fail(key, format string, a ...any) {
	if b.failed(key) {
		return // one problem per key: the first says what is wrong
	}
	b.errs = append(b.errs, &Error{File: b.file, Key: key, Msg: fmt.Sprintf(format, a...)})
}

// failed reports whether key already has a problem.
func (b *builder) failed(key string) bool {
	for _, e := range b.errs {
		if e.(*Error).Key == key {
			return true
		}
	}
	return false
}

func (b *builder) str(key string) string { return strings.TrimSpace(b.v.GetString(key)) }

func (b *builder) dur(key string) time.Duration {
	s := b.str(key)
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		b.fail(key, "%q is not a duration (use 90s, 10m, 4h)", s)
	}
	return d
}

// days reads a duration that may be given in days ("730d").
func (b *builder) days(key string) time.Duration {
	s := b.str(key)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return time.Duration(d) * 24 * time.Hour
		}
	}
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		b.fail(key, "%q is not a duration (use 730d or 8760h; 0 for never)", s)
	}
	return d
}

func (b *builder) integer(key string, lo int) int {
	s := b.str(key)
	n, err := strconv.Atoi(s)
	if err != nil || n < lo {
		b.fail(key, "%q is not a whole number >= %d", s, lo)
	}
	return n
}

func (b *builder) boolean(key string) bool {
	s := b.str(key)
	t, err := strconv.ParseBool(s)
	if err != nil {
		b.fail(key, "%q is not true or false", s)
	}
	return t
}

func (b *builder) oneOf(key string, allowed ...string) string {
	s := b.str(key)
	if !slices.Contains(allowed, s) {
		b.fail(key, "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
	return s
}

func (b *builder) clock(key string) time.Duration {
	s := b.str(key)
	t, err := time.Parse("15:04", s)
	if err != nil {
		b.fail(key, "%q is not a time of day (HH:MM)", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
}

func (b *builder) url(key string) string {
	s := b.str(key)
	if s != "" && !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		// Not quoted: URLs may carry credentials.
		b.fail(key, "is not an http(s) URL (it must start with http:// or https://)")
	}
	return s
}

// build validates; envSet names the keys the environment overrides.
func build(file string, v *viper.Viper, envSet map[string]bool) (*Config, error) {
	b := &builder{file: file, v: v}
	c := &Config{File: file}
	c.RedisURL = b.str("redis.url")
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		b.fail("redis.url", "must start with redis:// or rediss://")
	}
	c.RedisPrefix = b.str("redis.prefix")
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, " {}") {
		b.fail("redis.prefix", "%q must be a non-empty word without spaces or braces", c.RedisPrefix)
	}
	c.HTTPAddr = b.str("http.addr")
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		b.fail("http.addr", "%q is not host:port", c.HTTPAddr)
	}
	c.MaxConns = b.integer("http.max_connections", 1)
	c.MetricsAddr, c.MetricsToken = b.str("metrics.addr"), b.str("metrics.token")
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			b.fail("metrics.addr", "%q is not host:port (or empty to serve no metrics)", c.MetricsAddr)
		} else if c.MetricsAddr == c.HTTPAddr {
			b.fail("metrics.addr", "must differ from http.addr: /metrics is kept off the listener of the webhooks and /events")
		}
	}
	if r, err := strconv.ParseFloat(b.str("http.ip_rate"), 64); err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		b.fail("http.ip_rate", "%q is not a number >= 0 (requests a second; 0 turns the limit off)", b.str("http.ip_rate"))
	} else {
		c.IPRate = r
	}
	c.IPBurst = b.integer("http.ip_burst", 1)
	c.LogLevel = b.oneOf("log.level", "debug", "info", "warn", "error")
	c.LogFormat = b.oneOf("log.format", "text", "json")
	c.ScriptsDir = b.str("scripts.dir")
	if file != "" && v.InConfig("scripts.dir") && !envSet["scripts.dir"] && c.ScriptsDir != "" && !filepath.IsAbs(c.ScriptsDir) {
		// Written in the file, it means next to the file, wherever the bot starts.
		c.ScriptsDir = filepath.Join(filepath.Dir(file), c.ScriptsDir)
	}
	c.HistoryCap = b.integer("state.history_cap", 1)
	c.Retention = b.days("state.retention")
	c.JourneyCache = b.integer("state.journey_cache", 1)
	c.AddressCache = b.integer("state.address_cache", 1)
	c.AddressTTL = b.dur("state.address_ttl")
	if !b.failed("state.address_ttl") && c.AddressTTL <= 0 {
		b.fail("state.address_ttl", "%s: give a duration above 0 (1m)", c.AddressTTL)
	}
	if !b.failed("state.retention") && c.Retention != 0 && c.Retention < 24*time.Hour {
		b.fail("state.retention", "%s is too short: give days (730d) or 0 to keep journeys for ever", c.Retention)
	}
	c.AbandonAfter = b.days("insight.abandon_after")
	if !b.failed("insight.abandon_after") && c.AbandonAfter < time.Hour {
		b.fail("insight.abandon_after", "%s is too short: give hours or days (3d, 36h), at least 1h", c.AbandonAfter)
	}

	c.Telegram = Telegram{
		Token: b.str("telegram.token"), APIURL: b.url("telegram.api_url"),
		Mode: b.oneOf("telegram.mode", "polling", "webhook"), WebhookSecret: b.str("telegram.webhook_secret"),
		WebhookURL: b.url("telegram.webhook_url"), BotUsername: strings.TrimPrefix(b.str("telegram.bot_username"), "@"),
		AllowGroups: b.boolean("telegram.allow_groups"), Rate: b.integer("telegram.rate", 1),
	}
	if c.Telegram.Rate > 1000 {
		b.fail("telegram.rate", "%d is more than Telegram allows (30 for a bot, up to 1000 with paid broadcasts)", c.Telegram.Rate)
	}
	if c.Telegram.Enabled() && c.Telegram.Mode == "webhook" {
		if c.Telegram.WebhookURL == "" {
			b.fail("telegram.webhook_url", "is required when telegram.mode is webhook: the public https URL of /telegram/webhook on this server")
		} else if !httpsOrLoopback(c.Telegram.WebhookURL) {
			// Telegram delivers webhooks over HTTPS only; setWebhook would refuse it later.
			b.fail("telegram.webhook_url", "must be an https:// URL (Telegram sends webhooks over HTTPS only; http:// only to a loopback host, for a self-hosted Bot API server on this machine)")
		}
		if c.Telegram.WebhookSecret == "" {
			b.fail("telegram.webhook_secret", "is required when telegram.mode is webhook")
		} else if !validSecretToken(c.Telegram.WebhookSecret) {
			b.fail("telegram.webhook_secret", "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
		}
	}

	c.WhatsApp = WhatsApp{
		AccessToken: b.str("whatsapp.access_token"), PhoneNumberID: b.str("whatsapp.phone_number_id"),
		AppSecret: b.str("whatsapp.app_secret"), VerifyToken: b.str("whatsapp.verify_token"),
		APIURL: b.url("whatsapp.api_url"), Rate: b.integer("whatsapp.rate", 1),
	}
	if w := c.WhatsApp; w.AccessToken != "" || w.PhoneNumberID != "" {
		switch {
		case w.AccessToken == "":
			b.fail("whatsapp.access_token", "is required when whatsapp.phone_number_id is set: the token of the Meta app's system user")
		case w.PhoneNumberID == "":
			b.fail("whatsapp.phone_number_id", "is required when whatsapp.access_token is set: the id of the business phone number (WhatsApp Manager → API setup)")
		case strings.Trim(w.PhoneNumberID, "0123456789") != "":
			b.fail("whatsapp.phone_number_id", "is the number's id in the Graph API (digits), not the phone number itself")
		case w.AppSecret == "":
			b.fail("whatsapp.app_secret", "is required when WhatsApp is on: it checks the webhook's X-Hub-Signature-256")
		case w.VerifyToken == "":
			b.fail("whatsapp.verify_token", "is required when WhatsApp is on: the token you give Meta for the webhook's verification")
		case w.APIURL == "":
			b.fail("whatsapp.api_url", "is required (default https://graph.facebook.com/v23.0)")
		}
	}
	if c.WhatsApp.Rate > 1000 {
		b.fail("whatsapp.rate", "%d is more than the Cloud API allows (80 by default, up to 1000 on request)", c.WhatsApp.Rate)
	}

	c.Slack = Slack{
		BotToken: b.str("slack.bot_token"), AppToken: b.str("slack.app_token"), SigningSecret: b.str("slack.signing_secret"),
		APIURL: b.url("slack.api_url"), SupportChannel: b.str("slack.support_channel"), TeamID: b.str("slack.team_id"),
		ClaimTimeout: b.dur("slack.claim_timeout"), StaffUserIDs: v.GetStringSlice("slack.staff_user_ids"),
		StaffFromChannel: b.boolean("slack.staff_from_channel"),
	}
	if c.Slack.APIURL != "" && !strings.HasSuffix(c.Slack.APIURL, "/") {
		c.Slack.APIURL += "/" // slack-go joins by concatenation
	}
	if c.Slack.Enabled() {
		if c.Slack.SupportChannel == "" {
			b.fail("slack.support_channel", "is required when slack.bot_token is set")
		}
		if c.Slack.AppToken == "" && c.Slack.SigningSecret == "" {
			b.fail("slack.app_token", "set slack.app_token (Socket Mode) or slack.signing_secret (HTTP Events API)")
		}
		if len(c.Slack.StaffUserIDs) == 0 && !c.Slack.StaffFromChannel {
			b.fail("slack.staff_user_ids", "is required when slack.bot_token is set: the member ids (U…) who may take over customers and use /journey; or set slack.staff_from_channel: true to make every member of the support channel staff")
		}
		if c.Slack.StaffFromChannel && len(c.Slack.StaffUserIDs) == 0 && !isChannelID(c.Slack.SupportChannel) {
			b.fail("slack.support_channel", "must be the channel's id (C… or G…, in the channel's details) when slack.staff_from_channel is true: membership is asked by id")
		}
	}
	c.Support.Hours = b.str("support.hours")
	if c.Support.Hours != "" {
		if _, err := ParseHours(c.Support.Hours); err != nil {
			b.fail("support.hours", "%v", err)
		}
	}

	c.LLM = LLM{
		APIKey: b.str("llm.api_key"), BaseURL: b.url("llm.base_url"), Model: b.str("llm.model"),
		Timeout: b.dur("llm.timeout"), CacheTTL: b.dur("llm.cache_ttl"), MaxTokens: b.integer("llm.max_tokens", 1),
	}
	if t, err := strconv.ParseFloat(b.str("llm.temperature"), 64); err != nil || t < 0 || t > 2 {
		b.fail("llm.temperature", "%q is not a number between 0 and 2", b.str("llm.temperature"))
	} else {
		c.LLM.Temperature = t
	}
	if c.LLM.Enabled() && c.LLM.Model == "" {
		b.fail("llm.model", "is required when llm.api_key or llm.base_url is set")
	}

	for i, sec := range v.GetStringSlice("events.secret") {
		if sec = strings.TrimSpace(sec); sec == "" {
			continue
		}
		if !keys.Strong(sec) {
			// Never quoted: it is a secret.
			b.fail("events.secret", "secret number %d of the list is %v", i+1, keys.ErrWeak)
		}
		c.Events.Secrets = append(c.Events.Secrets, sec)
	}
	c.Events.LegacySignature = b.boolean("events.legacy_signature")
	c.Events.CustomerPerMinute, c.Events.CustomerBurst = b.integer("events.customer_per_minute", 0), b.integer("events.customer_burst", 1)
	c.Orders = Orders{LookupURL: b.url("orders.lookup_url"), LookupTimeout: b.dur("orders.lookup_timeout"), CacheTTL: b.dur("orders.cache_ttl")}
	c.Send = Send{
		MaxPerDay: b.integer("send.max_per_day", 0), MaxPerWeek: b.integer("send.max_per_week", 0),
		QuietStart: b.clock("send.quiet_start"), QuietEnd: b.clock("send.quiet_end"),
		QuietStartText: b.str("send.quiet_start"), QuietEndText: b.str("send.quiet_end"), TZ: b.str("send.default_timezone"),
		MaxAge: b.dur("send.max_age"),
	}
	if !b.failed("send.max_age") && c.Send.MaxAge < time.Second {
		b.fail("send.max_age", "%s is too short: a message needs at least a second to be sent", c.Send.MaxAge)
	}
	c.Intake = Intake{PerMinute: b.integer("intake.per_minute", 1), Burst: b.integer("intake.burst", 1)}
	if loc, err := time.LoadLocation(c.Send.TZ); err != nil {
		b.fail("send.default_timezone", "%q is not a time zone name (e.g. America/Sao_Paulo)", c.Send.TZ)
	} else {
		c.Send.DefaultTimezone = loc
	}
	c.Schedule = Schedule{Grace: b.dur("schedule.grace"), Interval: b.dur("schedule.interval"), Batch: b.integer("schedule.batch", 1)}
	if !b.failed("schedule.batch") && c.Schedule.Batch > maxScheduleBatch {
		b.fail("schedule.batch", "%d is too many: a batch is one transaction in Redis, which serves no one else while it runs; at most %d", c.Schedule.Batch, maxScheduleBatch)
	}
	if !b.failed("schedule.interval") && c.Schedule.Interval <= 0 {
		b.fail("schedule.interval", "must be more than 0")
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return c, nil
}

// httpsOrLoopback accepts https URLs, and http ones whose host is this
// machine's loopback (a self-hosted Bot API server next to the bot).
func httpsOrLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// isChannelID tells a Slack channel id (C0123ABCD) from a name.
func isChannelID(s string) bool {
	if len(s) < 2 || s[0] != 'C' && s[0] != 'G' {
		return false
	}
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}

func validSecretToken(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Hours is a weekly support schedule.
type Hours struct {
	Days       [7]bool // by time.Weekday
	Start, End time.Duration
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseHours reads "mon-fri 09:00-18:00" (days as a range or comma list).
func ParseHours(s string) (Hours, error) {
	var h Hours
	days, times, ok := strings.Cut(strings.TrimSpace(strings.ToLower(s)), " ")
	if !ok {
		return h, errors.New(`want "DAYS HH:MM-HH:MM", e.g. "mon-fri 09:00-18:00"`)
	}
	idx := func(d string) int { return slices.Index(dayNames, d) }
	for _, part := range strings.Split(days, ",") {
		a, z, isRange := strings.Cut(part, "-")
		if !isRange {
			z = a
		}
		ia, iz := idx(a), idx(z)
		if ia < 0 || iz < 0 {
			return h, fmt.Errorf("unknown day in %q (use sun, mon, tue, wed, thu, fri, sat)", part)
		}
		for i := ia; ; i = (i + 1) % 7 {
			h.Days[i] = true
			if i == iz {
				break
			}
		}
	}
	from, to, ok := strings.Cut(strings.TrimSpace(times), "-")
	t1, err1 := time.Parse("15:04", from)
	t2, err2 := time.Parse("15:04", to)
	if !ok || err1 != nil || err2 != nil || !t2.After(t1) {
		return h, fmt.Errorf("bad time range %q (want HH:MM-HH:MM, start before end)", times)
	}
	h.Start = time.Duration(t1.Hour())*time.Hour + time.Duration(t1.Minute())*time.Minute
	h.End = time.Duration(t2.Hour())*time.Hour + time.Duration(t2.Minute())*time.Minute
	return h, nil
}

// Open reports whether t (in the support team's zone) is within the hours.
func (h Hours) Open(t time.Time) bool {
	off := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	return h.Days[t.Weekday()] && off >= h.Start && off < h.End
}
