package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"journeybot/events"
)

// The events tests run the real binary on a Redis of their own (the binary
// uses the default key prefix).

func eventScripts(t *testing.T) string {
	d, err := filepath.Abs("../../events/testdata/scripts")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func postEvent(t *testing.T, url, secret, body string) (int, events.Answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if secret != "" {
		events.SignRequest(req, secret, time.Now(), []byte(body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a events.Answer
	json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

const e2eOrder = `{"id":"e2e-1","type":"order.created","occurred_at":"2026-01-05T10:00:00-03:00",
 "customer":{"id":"cust-e2e","name":"Ana"},"order":{"id":"4242","total":10,"currency":"BRL"}}`

func TestRunServesSignedEvents(t *testing.T) {
	m := miniredis.RunT(t)
	addr := freeAddr(t)
	const secret = "3c9e1b5d7f0a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e"
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + eventScripts(t), "JOURNEYBOT_REDIS_URL=redis://" + m.Addr(),
		"JOURNEYBOT_EVENTS_SECRET=" + secret, "JOURNEYBOT_TELEGRAM_BOT_USERNAME=shop_bot",
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	url := "http://" + addr + "/events"
	code, a := postEvent(t, url, secret, e2eOrder)
	if code != http.StatusOK || !a.OK || !strings.HasPrefix(a.TelegramLink, "https://t.me/shop_bot?start=o") {
		t.Fatalf("signed event: %d %+v, want 200 with a deep link", code, a)
	}
	if code, a := postEvent(t, url, secret, e2eOrder); code != http.StatusOK || !a.Duplicate {
		t.Fatalf("repeated event: %d %+v, want 200 duplicate", code, a)
	}
	if code, _ := postEvent(t, url, "", e2eOrder); code != http.StatusUnauthorized {
		t.Fatalf("unsigned event: HTTP %d, want 401", code)
	}
	if code, a := postEvent(t, url, secret, `{"id":"x","type":"order.created"}`); code != http.StatusBadRequest || a.Field != "customer" {
		t.Fatalf("bad event: %d %+v, want 400 naming customer", code, a)
	}
	if !m.Exists("jb:{c:cust-e2e}") {
		t.Fatal("the event did not reach the journey in Redis")
	}
	p.stderr.waitFor(t, "commerce events API enabled")
	if strings.Contains(p.stderr.String(), secret) {
		t.Fatal("the secret appears in the log")
	}
}

func TestRunWithoutSecretHasNoEventsEndpoint(t *testing.T) {
	m := miniredis.RunT(t)
	addr := freeAddr(t)
	p := start(t, []string{"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + eventScripts(t), "JOURNEYBOT_REDIS_URL=redis://" + m.Addr()}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	if code, _ := postEvent(t, "http://"+addr+"/events", "anything", e2eOrder); code != http.StatusNotFound {
		t.Fatalf("POST /events without events.secret: HTTP %d, want 404", code)
	}
	p.stderr.waitFor(t, "commerce events API disabled")
}

func TestEventsImportCommand(t *testing.T) {
	m := miniredis.RunT(t)
	file := filepath.Join(t.TempDir(), "history.jsonl")
	lines := e2eOrderLine("h1", "c1") + "\n" + e2eOrderLine("h2", "c2") + "\n" + "{oops\n" + e2eOrderLine("h1", "c1") + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "events", "import", file)
	cmd.Env = append(os.Environ(), "JOURNEYBOT_REDIS_URL=redis://"+m.Addr(), "JOURNEYBOT_SCRIPTS_DIR="+eventScripts(t))
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want code 1 for an invalid line; stderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "4 read, 2 applied, 1 duplicates, 1 invalid") || !strings.Contains(out, "line 3: ") {
		t.Fatalf("summary:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "importing events") {
		t.Fatalf("no progress bar on stderr:\n%s", stderr.String())
	}
	if !m.Exists("jb:{c:c1}") || !m.Exists("jb:{c:c2}") {
		t.Fatal("imported customers are not in Redis")
	}
}

func e2eOrderLine(id, customer string) string {
	return `{"id":"` + id + `","type":"order.paid","occurred_at":"2026-01-05T10:00:00-03:00","customer":{"id":"` + customer + `"},"order":{"id":"` + id + `-o"}}`
}
