package config

import (
	"strings"
	"testing"
	"time"
)

// FuzzSupportHours: a schedule that parses opens only on its days, between
// its start and its end.
func FuzzSupportHours(f *testing.F) {
	for _, s := range []string{"mon-fri 09:00-18:00", "sat,sun 10:00-14:00", "fri-mon 00:00-23:59", "weekdays 9-5", "mon 18:00-09:00", "", " - "} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, at int64) {
		h, err := ParseHours(s)
		if err != nil {
			return
		}
		if h.Start >= h.End || h.End > 24*time.Hour {
			t.Fatalf("%q: start %v, end %v", s, h.Start, h.End)
		}
		tm := time.Unix(at%(1<<34), 0).UTC()
		if h.Open(tm) && !h.Days[tm.Weekday()] {
			t.Fatalf("%q open at %v, not one of its days", s, tm)
		}
	})
}

// fuzzKeys are the keys whose values FuzzConfigValue sets: durations,
// whole numbers, clocks, URLs, choices and the support hours.
var fuzzKeys = []string{
	"slack.claim_timeout", "llm.timeout", "send.max_age", "schedule.grace", "schedule.interval", "schedule.batch", "orders.lookup_timeout",
	"send.max_per_day", "intake.per_minute", "http.ip_rate", "events.customer_burst", "telegram.rate",
	"send.quiet_start", "support.hours", "telegram.api_url", "redis.url", "log.level", "llm.temperature", "http.addr",
}

// FuzzConfigValue sets one key to an arbitrary value from the environment:
// Load either succeeds or fails naming the key (or its variable), and never
// quotes a secret set beside it.
func FuzzConfigValue(f *testing.F) {
	for i, v := range []string{"10m", "-1s", "1e9h", "5", "-3", "99999999999999999999", "25:00", "mon-fri 09:00-18:00", "http://x", "redis://:pw@h:1/0", "debug", "NaN", "[::1]:80"} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		if strings.ContainsRune(value, 0) {
			return // not an environment value
		}
		key := fuzzKeys[int(which)%len(fuzzKeys)]
		env := []string{envName(key) + "=" + value, "JOURNEYBOT_TELEGRAM_TOKEN=1:SECRETtoken"}
		_, err := Load("", env)
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.Contains(msg, key) && !strings.Contains(msg, envName(key)) {
			t.Fatalf("%s=%q: error does not name the key: %s", key, value, msg)
		}
		if strings.Contains(msg, "SECRETtoken") {
			t.Fatalf("error quotes the token: %s", msg)
		}
	})
}

func envName(key string) string {
	return "JOURNEYBOT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
