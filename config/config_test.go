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
			if strings.Contains(msg, "secret-token") {
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
	if c.Telegram.Mode != "polling" || c.LLM.Timeout != 4*time.Second || c.Send.QuietStart != 21*time.Hour {
		t.Errorf("defaults not applied: %+v %+v", c.Telegram, c.LLM)
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
