package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
)

// A Redis that answers with a refusal is named with its answer, in one line,
// not as a Redis that "does not answer".
func TestRedisRefusalIsOneLineWithItsAnswer(t *testing.T) {
	srv := redistest.StartServer(t)
	cases := []struct {
		name, url string
		want      []string
	}{
		{"wrong password", "redis://bob:s3cretpw@" + srv.Addr + "/0", []string{"answered: WRONGPASS", "user and password"}},
		{"no such database", "redis://" + srv.Addr + "/99", []string{"answered: ERR DB index is out of range", "databases"}},
		{"nobody there", "redis://127.0.0.1:1/0", []string{"does not answer", "connection refused"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), "run")
			cmd.Env = append(os.Environ(), "JOURNEYBOT_REDIS_URL="+c.url, "JOURNEYBOT_SCRIPTS_DIR="+runtimeScripts(t))
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exited 0:\n%s", out)
			}
			text := strings.TrimSpace(string(out))
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			// Script warnings may come first; about Redis, one line.
			n := 0
			for _, l := range strings.Split(text, "\n") {
				if strings.Contains(strings.ToLower(l), "redis") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d lines about Redis, want 1:\n%s", n, text)
			}
			if strings.Contains(text, "s3cretpw") {
				t.Errorf("the password leaked:\n%s", text)
			}
		})
	}
}

// Redis lost and back while running: one line each way.
func TestRedisBackIsLogged(t *testing.T) {
	srv := redistest.StartServer(t)
	addr := freeAddr(t)
	p := start(t, []string{"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + srv.URL}, "run")
	waitStatus(t, "http://"+addr+"/readyz", 200)
	srv.Kill()
	p.stderr.waitFor(t, "redis lost")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	p.stderr.waitFor(t, "redis is back")
	if n := strings.Count(p.stderr.String(), "redis lost"); n != 1 {
		t.Errorf("redis lost logged %d times, want once:\n%s", n, p.stderr.String())
	}
}

// `run` with no channel, its input at an end and no terminal (a service
// manager's /dev/null): the HTTP side keeps serving until SIGTERM.
func TestRunWithoutChannelOrTerminalKeepsServing(t *testing.T) {
	r := redistest.New(t)
	addr := freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL,
		"JOURNEYBOT_REDIS_PREFIX=" + r.Prefix, "JOURNEYBOT_EVENTS_SECRET=" + eventsSecret,
	}, "run")
	p.stdin.Close()
	p.stderr.waitFor(t, "HTTP keeps serving")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	if body := waitStatus(t, "http://"+addr+"/metrics", 200); !strings.Contains(body, "journeybot_") {
		t.Errorf("metrics:\n%s", body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
}

// Every answer of /events is JSON: a wrong method, and the API switched off.
func TestEventsAnswersAreJSON(t *testing.T) {
	for _, c := range []struct {
		name, secret string
		method       string
		code         int
		want         string
	}{
		{"GET", eventsSecret, http.MethodGet, http.StatusMethodNotAllowed, "send events with POST"},
		{"PUT", eventsSecret, http.MethodPut, http.StatusMethodNotAllowed, "send events with POST"},
		{"off", "", http.MethodPost, http.StatusNotFound, "set events.secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := redistest.New(t)
			addr := freeAddr(t)
			p := start(t, []string{
				"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + runtimeScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL,
				"JOURNEYBOT_REDIS_PREFIX=" + r.Prefix, "JOURNEYBOT_EVENTS_SECRET=" + c.secret,
			}, "run")
			defer p.stdin.Close()
			waitStatus(t, "http://"+addr+"/healthz", 200)
			req, _ := http.NewRequest(c.method, "http://"+addr+"/events", strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var ans struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
				t.Fatalf("%s /events: not JSON: %v", c.method, err)
			}
			if resp.StatusCode != c.code || ans.OK || !strings.Contains(ans.Error, c.want) {
				t.Errorf("%s /events = %d %+v, want %d with %q", c.method, resp.StatusCode, ans, c.code, c.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// A deep link needs the bot's username: without it, an error, not a
// link with a placeholder.
func TestLinkWithoutBotUsernameIsAnError(t *testing.T) {
	cmd := exec.Command(binary(t), "link", "1001")
	cmd.Env = append(os.Environ(), "JOURNEYBOT_EVENTS_SECRET="+eventsSecret, "JOURNEYBOT_TELEGRAM_BOT_USERNAME=")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "telegram.bot_username") || strings.Contains(string(out), "<your_bot>") {
		t.Errorf("link without telegram.bot_username: %v\n%s", err, out)
	}
	cmd = exec.Command(binary(t), "link", "1001")
	cmd.Env = append(os.Environ(), "JOURNEYBOT_EVENTS_SECRET="+eventsSecret, "JOURNEYBOT_TELEGRAM_BOT_USERNAME=loja_bot")
	cmd.Dir = t.TempDir()
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "t.me/loja_bot?start=") {
		t.Errorf("link with telegram.bot_username: %v\n%s", err, out)
	}
}

// Telegram without Slack: a warning at start, and a customer asking for a
// person is told nobody answers here instead of being promised a reply.
func TestTelegramWithoutSlackIsHonest(t *testing.T) {
	r := redistest.New(t)
	srv := telegramtest.New(t)
	ana := telegramCustomer(t, r)
	scripts, _ := filepath.Abs("../../scripts")
	addr := freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + srv.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + srv.URL,
	}, "run")
	p.stderr.waitFor(t, "without a staff desk")
	if !strings.Contains(p.stderr.String(), "level=WARN") {
		t.Errorf("not a warning:\n%s", p.stderr.String())
	}
	chat := telegramtest.Private(ana)
	srv.SendText(chat, ana, "quero falar com um atendente")
	got := srv.WaitMessages(chat.ID, 1)[0].Text
	if !strings.Contains(got, "não vou prometer uma resposta") || strings.Contains(got, "A equipe já recebeu") {
		t.Errorf("answer without staff: %q", got)
	}
	stopBinary(t, p, srv.Token)
}

// Every configuration problem in one run, each naming its key, before
// anything connects.
func TestConfigProblemsAllAtOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bot.yaml")
	os.WriteFile(file, []byte("redis:\n  ulr: redis://x\ntelegram:\n  token: \"1:secret-token\"\n  mode: webhook\n  webhook_secret: s3cret\n  webhook_url: http://bot.example/telegram/webhook\nsend:\n  max_per_day: lots\n"), 0o600)
	cmd := exec.Command(binary(t), "run", "--config", file)
	cmd.Env = append(os.Environ(), "JOURNEYBOT_LLM_TIMEOUT=soon")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("exited 0:\n%s", out)
	}
	for _, w := range []string{"redis.ulr", "telegram.webhook_url: must be an https:// URL", "send.max_per_day", "llm.timeout"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(string(out), "secret-token") {
		t.Errorf("a secret leaked:\n%s", out)
	}
}
