// Package keys holds the keys derived from events.secret. The configured
// secret is never used as a key itself: the events API's signatures and
// the Telegram deep links each get their own key, so a signature of one kind
// is never valid as the other. events.secret may be a list, newest first,
// so it can be rotated without downtime: the first secret signs, every
// secret verifies.
package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
)

// Labels of the derived keys. A store computes the events key as
// HMAC-SHA256(events.secret, EventsLabel).
const (
	EventsLabel = "journeybot events v1"
	LinksLabel  = "journeybot deep links v1"
)

// Set is the derived keys of every configured secret, newest first.
type Set struct {
	events, links [][]byte
	// legacy is the raw secrets, for the body-only events signature of
	// stores that cannot change yet (events.legacy_signature).
	legacy [][]byte
}

// New derives the keys of secrets (newest first; empty entries are skipped).
func New(secrets ...string) Set {
	var s Set
	for _, sec := range secrets {
		if sec = strings.TrimSpace(sec); sec == "" {
			continue
		}
		s.events = append(s.events, Derive(sec, EventsLabel))
		s.links = append(s.links, Derive(sec, LinksLabel))
		s.legacy = append(s.legacy, []byte(sec))
	}
	return s
}

// Derive returns HMAC-SHA256(secret, label).
func Derive(secret, label string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Empty reports whether no secret is configured.
func (s Set) Empty() bool { return len(s.events) == 0 }

// Events returns the events keys, newest first.
func (s Set) Events() [][]byte { return s.events }

// Links returns the deep-link keys, newest first.
func (s Set) Links() [][]byte { return s.links }

// Legacy returns the raw secrets, newest first: the keys of the body-only
// events signature.
func (s Set) Legacy() [][]byte { return s.legacy }

// ErrWeak is the configuration's error for a secret that can be guessed.
var ErrWeak = errors.New("too weak: use at least 32 random bytes, e.g. the output of `openssl rand -hex 32` (64 hex digits) or `openssl rand -base64 32`")

// Strong reports whether secret plausibly holds 32 random bytes: 64 hex
// digits, or 43 characters of anything else (base64 of 32 bytes), with no
// character making up more than a quarter of it. Length is what stops an
// offline search; the variety check only catches "aaaa…"-like fillers.
func Strong(secret string) bool {
	if len(secret) < 43 {
		return false
	}
	if strings.Trim(strings.ToLower(secret), "0123456789abcdef") == "" && len(secret) < 64 {
		return false
	}
	count := map[rune]int{}
	n := 0
	for _, r := range secret {
		count[r]++
		n++
	}
	for _, c := range count {
		if c*4 > n {
			return false
		}
	}
	return len(count) >= 8
}
