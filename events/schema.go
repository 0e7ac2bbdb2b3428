// Package events takes commerce events from the store: the JSON schema of an
// event, the signed POST /events endpoint, and the import of a JSON-lines
// history. Every path parses and validates the same way and then hands the
// event to bot.HandleEvent, which applies it once per event id.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	// Time zones must resolve on hosts without a zone database (slim
	// containers), or every event naming one would be refused.
	_ "time/tzdata"

	"journeybot/journey"
)

// MaxBody is the largest event accepted (the API answers 413 above it).
const MaxBody = 1 << 20

// Payload is an event as the store sends it. docs/events.md documents it.
type Payload struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt json.RawMessage `json:"occurred_at,omitempty"`
	At         json.RawMessage `json:"at,omitempty"` // an alias of occurred_at
	Customer   *Customer       `json:"customer"`
	Order      *Order          `json:"order,omitempty"`
	Points     *int            `json:"points,omitempty"`
	Coupon     string          `json:"coupon,omitempty"`
	// Data values may be strings, numbers or booleans; scripts see them as
	// event.KEY (text).
	Data map[string]json.RawMessage `json:"data,omitempty"`
}

// Customer is who the event is about.
type Customer struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Language string `json:"language,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	// Addresses are the customer's chats by channel: {"telegram": "123",
	// "whatsapp": "5511912345678"}. telegram_chat is the older spelling of
	// addresses.telegram.
	Addresses    map[string]string `json:"addresses,omitempty"`
	TelegramChat string            `json:"telegram_chat,omitempty"`
	// Consent: the customer agreed (again) to the store's terms; an event
	// for a customer erased at their request is refused without it.
	Consent bool `json:"consent,omitempty"`
}

// Order is an order as events and the lookup service describe it.
type Order struct {
	ID          string          `json:"id"`
	Status      string          `json:"status,omitempty"`
	Items       []Item          `json:"items,omitempty"`
	Total       float64         `json:"total,omitempty"`
	Currency    string          `json:"currency,omitempty"`
	TrackingURL string          `json:"tracking_url,omitempty"`
	Email       string          `json:"email,omitempty"`
	Phone       string          `json:"phone,omitempty"`
	CreatedAt   json.RawMessage `json:"created_at,omitempty"`
	UpdatedAt   json.RawMessage `json:"updated_at,omitempty"`
}

// Item is one line of an order.
type Item struct {
	Name  string  `json:"name"`
	SKU   string  `json:"sku,omitempty"`
	Qty   int     `json:"qty,omitempty"`
	Price float64 `json:"price,omitempty"`
}

// Error says what is wrong with an event, naming the field ("customer.id")
// so whoever wrote the adapter can fix it without reading our code.
type Error struct {
	Field string // dotted path; "" when the body as a whole is wrong
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, a ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Limits on identifiers: they end up in Redis keys and Telegram deep links.
const (
	maxIDLen   = 128
	maxTypeLen = 64
	maxText    = 500
	// An event's data is kept in the journey (event.KEY) and rewritten with
	// it on every later message: a few dozen short values, not a database.
	maxDataKeys  = 50
	maxDataBytes = 8 << 10
	// maxDepth is the deepest nesting of objects and lists in an event
	// (the schema needs 4: event, order, items, item).
	maxDepth = 8
	// maxFuture tolerates a store clock a little ahead of ours.
	maxFuture = 10 * time.Minute
)

var (
	typePattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
	dataKey     = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// orderTypes must carry an order: the scripts and order status depend on it.
var orderTypes = map[string]bool{
	"order.created": true, "order.paid": true, "order.shipped": true,
	"order.delivered": true, "order.cancelled": true, "order.refunded": true,
}

// ParseOptions tune Parse.
type ParseOptions struct {
	// Now is the receiving time: the default occurred_at, and the reference
	// for refusing events from the future.
	Now time.Time
	// RequireTime refuses events without occurred_at (an import of history
	// must not pass old events off as new ones).
	RequireTime bool
}

// Parse decodes and validates one event. A problem is returned as *Error.
func Parse(raw []byte, o ParseOptions) (journey.Event, error) {
	if !utf8.Valid(raw) {
		return journey.Event{}, &Error{Msg: fmt.Sprintf("the event is not valid UTF-8 (first bad byte at offset %d): send JSON in UTF-8", invalidUTF8(raw))}
	}
	if d := depth(raw); d > maxDepth {
		return journey.Event{}, &Error{Msg: fmt.Sprintf("the event nests objects and lists %d deep: at most %d", d, maxDepth)}
	}
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return journey.Event{}, decodeError(err, raw)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return journey.Event{}, &Error{Msg: "more than one JSON value: send one event per request, or one per line in an import"}
	}
	return p.Event(o)
}

// decodeError turns encoding/json's errors into messages naming the field.
func decodeError(err error, raw []byte) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &Error{Msg: "the event is empty: expected a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Msg: "the event is not valid JSON: it ends too early"}
	case errors.As(err, &syn):
		return &Error{Msg: fmt.Sprintf("the event is not valid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &Error{Msg: fmt.Sprintf("the event must be a JSON object, not %s", typ.Value)}
		}
		return fieldErr(typ.Field, "must be %s, not %s", kindName(typ.Type.Kind().String()), typ.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name, _ := strconv.Unquote(f)
		if path := unknownPath(raw); path != "" {
			name = path
		}
		return fieldErr(name, "unknown field (extra information goes in data)")
	}
	return &Error{Msg: "not a valid event: " + strings.TrimPrefix(msg, "json: ")}
}

// known lists the fields of each object of the schema, to name an unknown
// field with its full path (encoding/json gives only its name).
var known = map[string][]string{
	"":            {"id", "type", "occurred_at", "at", "customer", "order", "points", "coupon", "data"},
	"customer":    {"id", "name", "language", "time_zone", "email", "phone", "addresses", "telegram_chat", "consent"},
	"order":       {"id", "status", "items", "total", "currency", "tracking_url", "email", "phone", "created_at", "updated_at"},
	"order.items": {"name", "sku", "qty", "price"},
}

func unknownPath(raw []byte) string {
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	var walk func(obj map[string]any, schema, path string) string
	walk = func(obj map[string]any, schema, path string) string {
		for _, k := range sortedKeys(obj) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if !slices.Contains(known[schema], k) {
				return p
			}
			sub := strings.TrimPrefix(schema+"."+k, ".")
			switch v := obj[k].(type) {
			case map[string]any:
				if _, ok := known[sub]; ok {
					if f := walk(v, sub, p); f != "" {
						return f
					}
				}
			case []any:
				for i, el := range v {
					if m, ok := el.(map[string]any); ok {
						if f := walk(m, sub, fmt.Sprintf("%s[%d]", p, i)); f != "" {
							return f
						}
					}
				}
			}
		}
		return ""
	}
	return walk(doc, "", "")
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func kindName(k string) string {
	switch k {
	case "string":
		return "a string"
	case "float64", "float32":
		return "a number"
	case "int", "int64", "int32":
		return "a whole number"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a " + k
}

// Event validates the payload and returns the journey event.
func (p *Payload) Event(o ParseOptions) (journey.Event, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	ev := journey.Event{ID: strings.TrimSpace(p.ID), Type: strings.TrimSpace(p.Type), Coupon: strings.TrimSpace(p.Coupon)}
	if err := checkID("id", ev.ID); err != nil {
		return ev, err
	}
	switch {
	case ev.Type == "":
		return ev, fieldErr("type", "required (for example order.created)")
	case len(ev.Type) > maxTypeLen || !typePattern.MatchString(ev.Type):
		return ev, fieldErr("type", "%q is not an event type: use lower-case words separated by dots, like order.shipped", clip(ev.Type))
	case strings.HasPrefix(ev.Type, "case."):
		return ev, fieldErr("type", "case.* events are reserved for the bot's support desk")
	}
	raw, field := p.OccurredAt, "occurred_at"
	if len(raw) == 0 {
		raw, field = p.At, "at"
	} else if len(p.At) > 0 {
		return ev, fieldErr("at", "give occurred_at or at, not both")
	}
	if len(raw) == 0 || string(raw) == "null" {
		if o.RequireTime {
			return ev, fieldErr("occurred_at", "required here: an event without its time would be taken as happening now")
		}
		ev.At = o.Now
	} else {
		t, err := parseTime(field, raw)
		if err != nil {
			return ev, err
		}
		if t.Sub(o.Now) > maxFuture {
			return ev, fieldErr(field, "%s is in the future (check the store's clock and time zone)", t.Format(time.RFC3339))
		}
		ev.At = t
	}
	if p.Customer == nil {
		return ev, fieldErr("customer", "required: an object with at least the customer's id")
	}
	c, err := p.Customer.toJourney()
	if err != nil {
		return ev, err
	}
	ev.Customer = c
	if p.Order != nil {
		jo, err := p.Order.ToJourney("order")
		if err != nil {
			return ev, err
		}
		ev.Order = &jo
	} else if orderTypes[ev.Type] {
		return ev, fieldErr("order", "required for %s: an object with at least the order's id", ev.Type)
	}
	if p.Points != nil {
		if *p.Points < 0 {
			return ev, fieldErr("points", "must not be negative")
		}
		n := *p.Points
		ev.Points = &n
	}
	if len(ev.Coupon) > maxIDLen {
		return ev, fieldErr("coupon", "longer than %d characters", maxIDLen)
	}
	if ev.Type == "coupon.redeemed" && ev.Coupon == "" {
		return ev, fieldErr("coupon", "required for coupon.redeemed: the code that was used")
	}
	if len(p.Data) > maxDataKeys {
		return ev, fieldErr("data", "%d keys: at most %d (data is kept in the customer's journey)", len(p.Data), maxDataKeys)
	}
	size := 0
	for k, v := range p.Data {
		size += len(k) + len(v)
	}
	if size > maxDataBytes {
		return ev, fieldErr("data", "%d bytes: at most %d bytes (data is kept in the customer's journey)", size, maxDataBytes)
	}
	if len(p.Data) > 0 {
		ev.Data = make(map[string]string, len(p.Data))
		for k, v := range p.Data {
			if len(k) > maxTypeLen || !dataKey.MatchString(k) {
				return ev, fieldErr("data", "key %q: use lower-case letters, digits and _ (at most %d characters)", clip(k), maxTypeLen)
			}
			s, err := scalar(v)
			if err != nil {
				return ev, fieldErr("data."+k, "%s", err)
			}
			ev.Data[k] = s
		}
	}
	return ev, nil
}

func (c *Customer) toJourney() (journey.EventCustomer, error) {
	out := journey.EventCustomer{
		ID: strings.TrimSpace(c.ID), Name: strings.TrimSpace(c.Name), Language: strings.TrimSpace(c.Language),
		TimeZone: strings.TrimSpace(c.TimeZone), Email: strings.TrimSpace(c.Email), Phone: strings.TrimSpace(c.Phone),
		TelegramChat: strings.TrimSpace(c.TelegramChat), Consent: c.Consent,
	}
	if err := checkID("customer.id", out.ID); err != nil {
		return out, err
	}
	if err := checkText("customer.name", out.Name); err != nil {
		return out, err
	}
	if out.Language != "" && !langPattern.MatchString(out.Language) {
		return out, fieldErr("customer.language", "%q is not a language tag (pt-BR, en)", clip(out.Language))
	}
	if out.TimeZone != "" {
		if _, err := time.LoadLocation(out.TimeZone); err != nil || out.TimeZone == "Local" {
			return out, fieldErr("customer.time_zone", "%q is not an IANA time zone (for example America/Sao_Paulo)", clip(out.TimeZone))
		}
	}
	if err := checkEmail("customer.email", out.Email); err != nil {
		return out, err
	}
	if err := checkText("customer.phone", out.Phone); err != nil {
		return out, err
	}
	if out.TelegramChat != "" {
		if _, err := strconv.ParseInt(out.TelegramChat, 10, 64); err != nil {
			return out, fieldErr("customer.telegram_chat", "%q is not a Telegram chat id (a number)", clip(out.TelegramChat))
		}
	}
	for ch, a := range c.Addresses {
		field := "customer.addresses." + ch
		a = strings.TrimSpace(a)
		if !channelName.MatchString(ch) {
			return out, fieldErr("customer.addresses", "%q is not a channel name (telegram, whatsapp)", clip(ch))
		}
		if a == "" || len(a) > maxIDLen || strings.ContainsAny(a, " \t\n") {
			return out, fieldErr(field, "must be the customer's address on %s (at most %d characters, no spaces)", ch, maxIDLen)
		}
		switch ch {
		case "telegram":
			if _, err := strconv.ParseInt(a, 10, 64); err != nil {
				return out, fieldErr(field, "%q is not a Telegram chat id (a number)", clip(a))
			}
		case "whatsapp":
			a = strings.TrimPrefix(a, "+")
			if len(a) < 8 || len(a) > 15 || strings.Trim(a, "0123456789") != "" {
				return out, fieldErr(field, "%q is not a phone number in international digits (5511912345678)", clip(a))
			}
		}
		if out.Addresses == nil {
			out.Addresses = map[string]string{}
		}
		out.Addresses[ch] = a
	}
	if t := out.Addresses["telegram"]; t != "" && out.TelegramChat != "" && t != out.TelegramChat {
		return out, fieldErr("customer.telegram_chat", "differs from customer.addresses.telegram: give one")
	}
	return out, nil
}

var channelName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

var langPattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// ToJourney validates an order; field is its path in the document ("order").
func (o *Order) ToJourney(field string) (journey.Order, error) {
	out := journey.Order{
		ID: strings.TrimPrefix(strings.TrimSpace(o.ID), "#"), Status: strings.TrimSpace(o.Status), Total: o.Total,
		Currency: strings.ToUpper(strings.TrimSpace(o.Currency)), TrackingURL: strings.TrimSpace(o.TrackingURL),
		Email: strings.TrimSpace(o.Email), Phone: strings.TrimSpace(o.Phone),
	}
	if err := checkID(field+".id", out.ID); err != nil {
		return out, err
	}
	if out.Status != "" && (len(out.Status) > maxTypeLen || !typePattern.MatchString(out.Status)) {
		return out, fieldErr(field+".status", "%q is not a status: use lower-case words like shipped", clip(out.Status))
	}
	if out.Total < 0 || math.IsInf(out.Total, 0) {
		return out, fieldErr(field+".total", "must not be negative")
	}
	if out.Currency != "" && !currencyPattern.MatchString(out.Currency) {
		return out, fieldErr(field+".currency", "%q is not an ISO 4217 code (BRL, USD)", clip(out.Currency))
	}
	if out.TrackingURL != "" {
		u, err := url.Parse(out.TrackingURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return out, fieldErr(field+".tracking_url", "is not an http(s) URL")
		}
	}
	if err := checkEmail(field+".email", out.Email); err != nil {
		return out, err
	}
	if err := checkText(field+".phone", out.Phone); err != nil {
		return out, err
	}
	for i, it := range o.Items {
		path := fmt.Sprintf("%s.items[%d]", field, i)
		name := strings.TrimSpace(it.Name)
		if name == "" {
			return out, fieldErr(path+".name", "required")
		}
		if err := checkText(path+".name", name); err != nil {
			return out, err
		}
		if it.Qty < 0 {
			return out, fieldErr(path+".qty", "must not be negative")
		}
		if it.Price < 0 {
			return out, fieldErr(path+".price", "must not be negative")
		}
		out.Items = append(out.Items, journey.Item{Name: name, SKU: strings.TrimSpace(it.SKU), Qty: it.Qty, Price: it.Price})
	}
	for _, ts := range []struct {
		raw  json.RawMessage
		name string
		dst  *int64
	}{{o.CreatedAt, "created_at", &out.Created}, {o.UpdatedAt, "updated_at", &out.Updated}} {
		if len(ts.raw) == 0 || string(ts.raw) == "null" {
			continue
		}
		t, err := parseTime(field+"."+ts.name, ts.raw)
		if err != nil {
			return out, err
		}
		*ts.dst = t.Unix()
	}
	return out, nil
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// parseTime reads an RFC 3339 string or Unix seconds.
func parseTime(field string, raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		if err != nil {
			return time.Time{}, fieldErr(field, "%q is not an RFC 3339 time (2026-03-02T10:00:00-03:00)", clip(s))
		}
		return t, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if sec, err := n.Int64(); err == nil && sec > 0 && sec < 1e11 {
			return time.Unix(sec, 0), nil
		}
		return time.Time{}, fieldErr(field, "%s is not Unix seconds", clip(n.String()))
	}
	return time.Time{}, fieldErr(field, "must be an RFC 3339 time string or Unix seconds")
}

func checkID(field, id string) error {
	switch {
	case id == "":
		return fieldErr(field, "required")
	case len(id) > maxIDLen:
		return fieldErr(field, "longer than %d characters", maxIDLen)
	case strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fieldErr(field, "must not contain spaces or control characters")
	case !utf8.ValidString(id):
		return fieldErr(field, "is not valid UTF-8")
	}
	return nil
}

func checkText(field, s string) error {
	if len(s) > maxText {
		return fieldErr(field, "longer than %d characters", maxText)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fieldErr(field, "must not contain control characters")
	}
	return nil
}

func checkEmail(field, s string) error {
	if s == "" {
		return nil
	}
	if err := checkText(field, s); err != nil {
		return err
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " <>") {
		return fieldErr(field, "%q is not an e-mail address", clip(s))
	}
	return nil
}

// scalar renders a data value as text.
func scalar(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		if len(x) > maxText {
			return "", fmt.Errorf("longer than %d characters", maxText)
		}
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", nil
	}
	return "", errors.New("must be a string, a number or true/false (not an object or a list)")
}

// invalidUTF8 is the offset of the first byte of raw that is not UTF-8.
func invalidUTF8(raw []byte) int {
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(raw)
}

// depth is the deepest nesting of objects and lists in raw (JSON or not),
// counted without decoding, so a 100,000-deep body costs one pass.
func depth(raw []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	i := 60
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
