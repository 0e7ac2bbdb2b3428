package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/internal/slacktest"
)

func repoScripts(t *testing.T) string {
	d, err := filepath.Abs("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The real binary with the Slack desk over HTTP: signed requests are
// answered, unsigned ones refused, and SIGTERM stops it cleanly.
// On a single node and on a Redis Cluster.
func TestRunSlackOverHTTP(t *testing.T) { redistest.Each(t, testRunSlackOverHTTP) }

func testRunSlackOverHTTP(t *testing.T, r *redistest.Redis) {
	sl := slacktest.New(t)
	support := sl.AddChannel("support")
	addr := freeAddr(t)
	const secret = "e2e-signing-secret"
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + repoScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_SLACK_BOT_TOKEN=" + sl.BotToken, "JOURNEYBOT_SLACK_SIGNING_SECRET=" + secret,
		"JOURNEYBOT_SLACK_API_URL=" + sl.URL, "JOURNEYBOT_SLACK_SUPPORT_CHANNEL=#support", "JOURNEYBOT_SLACK_STAFF_USER_IDS=U1",
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	base := "http://" + addr
	post := func(path, secret, ctype string, body []byte) (int, string) {
		req, err := slacktest.SignedRequest(context.Background(), base+path, secret, time.Now(), ctype, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/slack/events", secret, "application/json", []byte(`{"type":"url_verification","challenge":"c-42"}`)); code != 200 || body != "c-42" {
		t.Errorf("url_verification = %d %q", code, body)
	}
	if code, _ := post("/slack/events", "wrong", "application/json", []byte(`{"type":"url_verification","challenge":"c-42"}`)); code != 401 {
		t.Errorf("forged request = %d, want 401", code)
	}
	command := func(user, channel, text string) (int, string) {
		form := url.Values{}
		for k, v := range sl.SlashCommand(slacktest.User{ID: user}, channel, "/journey", text) {
			form.Set(k, v)
		}
		code, body := post("/slack/commands", secret, "application/x-www-form-urlencoded", []byte(form.Encode()))
		var reply struct{ Text string }
		json.Unmarshal([]byte(body), &reply)
		return code, reply.Text
	}
	if code, text := command("U1", support, "stats"); code != 200 || !strings.Contains(text, "Today") {
		t.Errorf("/journey stats = %d %s", code, text)
	}
	// Only staff, and only in the support channel.
	if _, text := command("U7", support, "stats"); !strings.Contains(text, "only for the support team") {
		t.Errorf("/journey stats by a member not on the staff list: %s", text)
	}
	if _, text := command("U1", "D0DM", "stats"); !strings.Contains(text, "only in the support channel") {
		t.Errorf("/journey stats in a DM: %s", text)
	}
	if strings.Contains(p.stderr.String(), sl.BotToken) || strings.Contains(p.stderr.String(), secret) {
		t.Errorf("a secret is in the log:\n%s", p.stderr.String())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
}

// The real binary with the Slack desk over Socket Mode.
func TestRunSlackSocketMode(t *testing.T) {
	r := redistest.New(t)
	sl := slacktest.New(t)
	support := sl.AddChannel("support")
	addr := freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + repoScripts(t), "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_SLACK_BOT_TOKEN=" + sl.BotToken, "JOURNEYBOT_SLACK_APP_TOKEN=" + sl.AppToken,
		"JOURNEYBOT_SLACK_API_URL=" + sl.URL, "JOURNEYBOT_SLACK_SUPPORT_CHANNEL=" + support, "JOURNEYBOT_SLACK_STAFF_FROM_CHANNEL=true",
	}, "run")
	sl.AddUser(slacktest.User{ID: "U1", Name: "bia"})
	sl.AddMember(support, "U1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ack, err := sl.Deliver(ctx, "slash_commands", sl.SlashCommand(slacktest.User{ID: "U1"}, support, "/journey", "help"))
	if err != nil {
		t.Fatalf("%v\n%s", err, p.stderr.String())
	}
	var reply struct{ Text string }
	json.Unmarshal(ack, &reply)
	if !strings.Contains(reply.Text, "/journey customer") {
		t.Errorf("ack = %s", ack)
	}
	// Without the HTTP transport its endpoints are not served.
	if code, _ := get(t, "http://"+addr+"/slack/events"); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("/slack/events served in socket mode: %d", code)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
}

// With Slack on and no staff defined the bot does not start: every member
// of the workspace would be staff.
func TestRunSlackWithoutStaffRefusesToStart(t *testing.T) {
	sl := slacktest.New(t)
	sl.AddChannel("support")
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + freeAddr(t), "JOURNEYBOT_SCRIPTS_DIR=" + repoScripts(t),
		"JOURNEYBOT_SLACK_BOT_TOKEN=" + sl.BotToken, "JOURNEYBOT_SLACK_APP_TOKEN=" + sl.AppToken,
		"JOURNEYBOT_SLACK_API_URL=" + sl.URL, "JOURNEYBOT_SLACK_SUPPORT_CHANNEL=#support",
	}, "run")
	err := p.wait(t)
	if err == nil {
		t.Fatal("started with Slack and no staff")
	}
	if out := p.stderr.String(); !strings.Contains(out, "slack.staff_user_ids") || !strings.Contains(out, "slack.staff_from_channel") {
		t.Fatalf("the error does not say how to define staff:\n%s", out)
	}
	if sl.Calls("auth.test") != 0 {
		t.Fatal("the bot connected to Slack before refusing its configuration")
	}
}
