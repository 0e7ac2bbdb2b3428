package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bot.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const strongSecret = "5f0c1e9a7b3d4c2e8f6a1b0d9c7e5a3f2b4d6c8e0a1f3b5d7c9e2a4b6d8f0c1e"

func TestEventsSecretsAndStaff(t *testing.T) {
	c, err := Load(writeFile(t, "slack:\n  bot_token: xoxb-1\n  app_token: xapp-1\n  support_channel: C0123ABCD\n  staff_from_channel: true\n"),
		[]string{"JOURNEYBOT_EVENTS_SECRET=" + strongSecret + ",q3Vx9ZrT1mKpL0sYwE7uHbN2cJ5fGdA8iOeR4tQyU6w"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events.Secrets) != 2 || c.Events.Secrets[0] != strongSecret || !c.Events.Enabled() || c.Events.LegacySignature {
		t.Fatalf("events = %d secrets, legacy %v", len(c.Events.Secrets), c.Events.LegacySignature)
	}
	if !c.Slack.StaffFromChannel || c.MetricsAddr != "127.0.0.1:9464" || c.MaxConns != 1024 {
		t.Fatalf("slack staff from channel %v, metrics %q, max conns %d", c.Slack.StaffFromChannel, c.MetricsAddr, c.MaxConns)
	}
	// Nothing configured still loads: the console and an embedded Redis.
	if c, err := Load("", nil); err != nil || c.Events.Enabled() {
		t.Fatalf("empty configuration: %v", err)
	} else if c.AbandonAfter != 72*time.Hour {
		t.Fatalf("insight.abandon_after defaults to %s, want 3d", c.AbandonAfter)
	}
}

func TestLoadErrorsNameKeyAndFile(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		want       []string
	}{
		{"unknown key", "redis:\n  ulr: redis://x\n", nil, []string{"redis.ulr", "unknown key", "did you mean redis.url"}},
		{"bad duration", "slack:\n  claim_timeout: ten minutes\n", nil, []string{"slack.claim_timeout", "not a duration"}},
		{"webhook without secret", "telegram:\n  token: \"1:abc\"\n  mode: webhook\n  webhook_url: https://bot.example/telegram/webhook\n", nil, []string{"telegram.webhook_secret", "required"}},
		{"webhook without url", "telegram:\n  token: \"1:abc\"\n  mode: webhook\n  webhook_secret: s3cret\n", nil, []string{"telegram.webhook_url", "required"}},
		{"bad mode", "telegram:\n  mode: push\n", nil, []string{"telegram.mode", `"push"`}},
		{"bad env value", "", []string{"JOURNEYBOT_SEND_MAX_PER_DAY=lots"}, []string{"send.max_per_day", "JOURNEYBOT_SEND_MAX_PER_DAY"}},
		{"unknown env var", "", []string{"JOURNEYBOT_REDIS_ULR=x"}, []string{"JOURNEYBOT_REDIS_ULR", "unknown environment variable", "did you mean JOURNEYBOT_REDIS_URL"}},
		{"bad time zone", "send:\n  default_timezone: Mars/Olympus\n", nil, []string{"send.default_timezone"}},
		{"slack without channel", "slack:\n  bot_token: xoxb-secret-token\n  app_token: xapp-1\n", nil, []string{"slack.support_channel"}},
		{"bad hours", "support:\n  hours: weekdays 9-5\n", nil, []string{"support.hours"}},
		{"bad client rate", "http:\n  ip_rate: lots\n", nil, []string{"http.ip_rate", "not a number"}},
		{"short abandon", "insight:\n  abandon_after: 10m\n", nil, []string{"insight.abandon_after", "too short"}},
		{"bad abandon", "", []string{"JOURNEYBOT_INSIGHT_ABANDON_AFTER=soon"}, []string{"insight.abandon_after", "not a duration"}},
		{"http webhook", "telegram:\n  token: \"1:abc\"\n  mode: webhook\n  webhook_secret: s3cret\n  webhook_url: http://bot.example/telegram/webhook\n", nil, []string{"telegram.webhook_url", "https://"}},
		{"slack without staff", "slack:\n  bot_token: xoxb-secret-token\n  app_token: xapp-1\n  support_channel: '#support'\n", nil, []string{"slack.staff_user_ids", "slack.staff_from_channel"}},
		{"staff from a channel by name", "slack:\n  bot_token: xoxb-secret-token\n  app_token: xapp-1\n  support_channel: '#support'\n  staff_from_channel: true\n", nil, []string{"slack.support_channel", "id"}},
		{"weak events secret", "events:\n  secret: shop-secret-token\n", nil, []string{"events.secret", "openssl rand -hex 32"}},
		{"weak second secret", "", []string{"JOURNEYBOT_EVENTS_SECRET=" + strongSecret + ",old-secret-token"}, []string{"events.secret", "secret number 2", "JOURNEYBOT_EVENTS_SECRET"}},
		{"scheduler batch too big", "schedule:\n  batch: 5000\n", nil, []string{"schedule.batch", "at most 1000"}},
		{"scheduler batch of none", "schedule:\n  batch: 0\n", nil, []string{"schedule.batch", ">= 1"}},
		{"no journey cache", "state:\n  journey_cache: 0\n", nil, []string{"state.journey_cache", "whole number >= 1"}},
		{"address trusted for no time", "", []string{"JOURNEYBOT_STATE_ADDRESS_TTL=0s"}, []string{"state.address_ttl", "above 0", "JOURNEYBOT_STATE_ADDRESS_TTL"}},
		{"metrics on the webhooks' port", "http:\n  addr: 127.0.0.1:8080\nmetrics:\n  addr: 127.0.0.1:8080\n", nil, []string{"metrics.addr", "differ from http.addr"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := writeFile(t, c.file+"\n")
			_, err := Load(file, c.env)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			want := c.want
			if !strings.HasPrefix(c.name, "unknown env") {
				want = append(want, file)
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "secret-token") || strings.Contains(msg, strongSecret) {
				t.Errorf("error leaks a secret: %q", msg)
			}
		})
	}
}

func TestLoadDefaultsFileAndEnvironment(t *testing.T) {
	file := writeFile(t, "redis:\n  url: redis://127.0.0.1:6379/2\nslack:\n  claim_timeout: 5m\n  api_url: http://127.0.0.1:1/api\n")
	c, err := Load(file, []string{"JOURNEYBOT_HTTP_ADDR=127.0.0.1:9999", "JOURNEYBOT_SLACK_STAFF_USER_IDS=U1,U2", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisURL != "redis://127.0.0.1:6379/2" || c.HTTPAddr != "127.0.0.1:9999" {
		t.Errorf("redis %q http %q", c.RedisURL, c.HTTPAddr)
	}
	if c.Slack.ClaimTimeout != 5*time.Minute || c.Slack.APIURL != "http://127.0.0.1:1/api/" {
		t.Errorf("slack = %+v", c.Slack)
	}
	if len(c.Slack.StaffUserIDs) != 2 || c.Slack.StaffUserIDs[1] != "U2" {
		t.Errorf("staff ids = %v", c.Slack.StaffUserIDs)
	}
	if c.JourneyCache != 50000 || c.AddressCache != 50000 || c.AddressTTL != time.Minute {
		t.Errorf("cache defaults: journeys %d addresses %d for %s", c.JourneyCache, c.AddressCache, c.AddressTTL)
	}
	if c.Telegram.Mode != "polling" || c.LLM.Timeout != 4*time.Second || c.Send.QuietStart != 21*time.Hour {
		t.Errorf("defaults not applied: %+v %+v", c.Telegram, c.LLM)
	}
}

// Every problem at once: an operator fixes them in one round, not one per start.
func TestLoadReportsEveryProblem(t *testing.T) {
	file := writeFile(t, "redis:\n  ulr: redis://x\ntelegram:\n  mode: push\n  tokn: x\nsend:\n  max_per_day: lots\n  default_timezone: Mars/Olympus\nslack:\n  claim_timeout: soon\n")
	_, err := Load(file, []string{"JOURNEYBOT_LLM_TIMEOUT=never", "JOURNEYBOT_REDIS_ULR=x"})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	msg := err.Error()
	for _, w := range []string{"redis.ulr", "telegram.tokn", "telegram.mode", "send.max_per_day", "send.default_timezone", "slack.claim_timeout", "llm.timeout", "JOURNEYBOT_REDIS_ULR"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %s:\n%s", w, msg)
		}
	}
	if n := strings.Count(msg, "\n") + 1; n != 8 {
		t.Errorf("%d lines, want one per problem (8):\n%s", n, msg)
	}
}

func TestWebhookURLOnLoopbackMayBeHTTP(t *testing.T) {
	for _, u := range []string{"https://bot.example/telegram/webhook", "http://127.0.0.1:8080/telegram/webhook", "http://localhost/telegram/webhook"} {
		file := writeFile(t, "telegram:\n  token: \"1:abc\"\n  mode: webhook\n  webhook_secret: s3cret\n  webhook_url: "+u+"\n")
		if _, err := Load(file, nil); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// A relative scripts.dir in a file means next to the file; from the
// environment or by default, the working directory.
func TestRelativeScriptsDirFollowsTheFile(t *testing.T) {
	file := writeFile(t, "scripts:\n  dir: my-scripts\n")
	c, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(file), "my-scripts"); c.ScriptsDir != want {
		t.Errorf("scripts.dir = %q, want %q", c.ScriptsDir, want)
	}
	c, err = Load(file, []string{"JOURNEYBOT_SCRIPTS_DIR=other"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ScriptsDir != "other" {
		t.Errorf("from the environment: scripts.dir = %q, want other", c.ScriptsDir)
	}
	c, err = Load(writeFile(t, "log:\n  level: warn\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ScriptsDir != "scripts" {
		t.Errorf("default: scripts.dir = %q, want scripts", c.ScriptsDir)
	}
}

func TestExampleFileLoads(t *testing.T) {
	if _, err := Load("../journeybot.example.yaml", nil); err != nil {
		t.Fatalf("the shipped example does not load: %v", err)
	}
}

func TestHours(t *testing.T) {
	h, err := ParseHours("mon-fri 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	if !h.Open(time.Date(2026, 11, 25, 10, 0, 0, 0, sp)) { // Wednesday
		t.Error("Wednesday 10:00 should be open")
	}
	if h.Open(time.Date(2026, 11, 28, 10, 0, 0, 0, sp)) { // Saturday
		t.Error("Saturday should be closed")
	}
	if h.Open(time.Date(2026, 11, 25, 18, 30, 0, 0, sp)) {
		t.Error("18:30 should be closed")
	}
}
