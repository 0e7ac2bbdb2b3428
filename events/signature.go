package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"journeybot/keys"
)

// TimestampHeader carries when the store signed the request (Unix seconds).
const TimestampHeader = "X-Journeybot-Timestamp"

// SignatureWindow is how far a request's timestamp may be from the bot's
// clock: a captured request replays only within it, and the event ids the
// bot remembers (journey.SeenTTL) cover it many times over.
const SignatureWindow = 5 * time.Minute

// Sign returns the signature of body made at ts under the events key
// derived from secret: HMAC-SHA256(HMAC-SHA256(secret, "journeybot events
// v1"), "<ts>.<body>").
func Sign(secret string, ts int64, body []byte) []byte {
	return signWith(keys.Derive(secret, keys.EventsLabel), ts, body)
}

func signWith(key []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return m.Sum(nil)
}

// SignatureValue is the X-Journeybot-Signature value for body signed at ts: "v1=<hex>".
func SignatureValue(secret string, ts int64, body []byte) string {
	return "v1=" + hex.EncodeToString(Sign(secret, ts, body))
}

// SignRequest sets both headers on r for body, signed now.
func SignRequest(r *http.Request, secret string, now time.Time, body []byte) {
	ts := now.Unix()
	r.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	r.Header.Set(SignatureHeader, SignatureValue(secret, ts, body))
}

// LegacySignatureValue is the body-only form "sha256=<hex HMAC-SHA256 of
// the body under events.secret>", accepted only with events.legacy_signature.
func LegacySignatureValue(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// LegacyMaxAge is how old a body-only signed event may be: the bot
// remembers event ids for 48 hours (journey.Options.SeenTTL), and those
// bytes, with no timestamp, would apply again once their id is forgotten.
const LegacyMaxAge = 47 * time.Hour

// checkSignature says what is wrong with a request's signature, or "" when
// it holds under one of the keys (every secret of the rotation list), and
// whether it was the body-only form.
func checkSignature(h http.Header, body []byte, k keys.Set, allowLegacy bool, now time.Time) (legacy bool, problem string) {
	v := strings.TrimSpace(h.Get(SignatureHeader))
	if hexSig, ok := strings.CutPrefix(v, "sha256="); ok {
		return true, checkLegacy(hexSig, body, k, allowLegacy)
	}
	return false, checkV1(v, h, body, k, now)
}

func checkLegacy(hexSig string, body []byte, k keys.Set, allowed bool) string {
	if !allowed {
		return "the body-only sha256= signature is off: sign \"<timestamp>.<body>\" and send " + TimestampHeader + " (see docs/events.md), or set events.legacy_signature: true"
	}
	sig, ok := decodeHex(hexSig)
	if !ok {
		return "malformed " + SignatureHeader + " header: expected sha256=<64 hex digits>"
	}
	for _, key := range k.Legacy() {
		m := hmac.New(sha256.New, key)
		m.Write(body)
		if hmac.Equal(sig, m.Sum(nil)) {
			return ""
		}
	}
	return "signature does not match the body (HMAC-SHA256 of the exact bytes sent, under events.secret)"
}

func checkV1(v string, h http.Header, body []byte, k keys.Set, now time.Time) string {
	hexSig, ok := strings.CutPrefix(v, "v1=")
	sig, okHex := decodeHex(hexSig)
	if !ok || !okHex {
		return "missing or malformed " + SignatureHeader + " header: expected v1=<hex HMAC-SHA256 of \"<timestamp>.<body>\">, with " + TimestampHeader
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(h.Get(TimestampHeader)), 10, 64)
	if err != nil {
		return "missing or malformed " + TimestampHeader + " header: expected the Unix time in seconds when the request was signed"
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureWindow || d < -SignatureWindow {
		return fmt.Sprintf("%s is %s from the bot's clock; a request must be signed within %s of being sent (check the store's clock)", TimestampHeader, d.Abs().Round(time.Second), SignatureWindow)
	}
	for _, key := range k.Events() {
		if hmac.Equal(sig, signWith(key, ts, body)) {
			return ""
		}
	}
	return "signature does not match (HMAC-SHA256 of \"<timestamp>.<body>\", the exact bytes sent, under the events key derived from events.secret)"
}

func decodeHex(s string) ([]byte, bool) {
	if len(s) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}
