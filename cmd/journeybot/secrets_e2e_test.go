package main

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"journeybot/events"
	"journeybot/internal/slacktest"
	"journeybot/internal/telegramtest"
	"journeybot/internal/whatsapptest"
)

// Every secret is set, the bot runs at debug level and is driven into the
// error paths that handle them (the model and the order service down, bad
// signatures, a bad metrics token, Redis, Slack and Telegram refusing at
// start, malformed URLs); no secret may appear in anything it printed.
func TestSecretsNeverInOutput(t *testing.T) {
	const (
		redisPW       = "REDISpw-7f3a9c"
		eventsSecret  = "7e3b9d1f5a2c4e6b8d0f2a4c6e8b0d1f3a5c7e9b1d3f5a7c9e0b2d4f6a8c0e2d"
		oldEvents     = "Q3vX9zRt1MkPl0SyWe7UhBn2Cj5FgDa8IoEr4TqYu6W"
		llmKey        = "sk-LLMkey-4b8e2d"
		llmPathKey    = "LLMpathKEY-9c1e"
		llmPass       = "LLMuserPW-3d7f"
		orderToken    = "ORDERtoken-5a2c"
		orderPass     = "ORDERpw-8e1b"
		metricsToken  = "METRICStoken-2f6d"
		webhookSecret = "TGwebhookSECRET-1a9e"
		signing       = "SLACKsigning-6c3a"
	)
	m := miniredis.NewMiniRedis()
	m.RequireAuth(redisPW)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tg := telegramtest.New(t)
	sl := slacktest.New(t)
	support := sl.AddChannel("support")
	wa := whatsapptest.New(t)
	scripts, _ := filepath.Abs("../../scripts")
	addr, maddr := freeAddr(t), freeAddr(t)
	secrets := []string{redisPW, eventsSecret, oldEvents, llmKey, llmPathKey, llmPass, orderToken, orderPass, metricsToken,
		webhookSecret, signing, tg.Token, sl.BotToken, sl.AppToken, whatsapptest.Token, whatsapptest.AppSecret, whatsapptest.VerifyToken}
	env := []string{
		"JOURNEYBOT_LOG_LEVEL=debug", "JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_METRICS_ADDR=" + maddr, "JOURNEYBOT_METRICS_TOKEN=" + metricsToken,
		"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=redis://:" + redisPW + "@" + m.Addr() + "/0",
		"JOURNEYBOT_EVENTS_SECRET=" + eventsSecret + "," + oldEvents,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + tg.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + tg.URL, "JOURNEYBOT_TELEGRAM_WEBHOOK_SECRET=" + webhookSecret,
		"JOURNEYBOT_WHATSAPP_ACCESS_TOKEN=" + whatsapptest.Token, "JOURNEYBOT_WHATSAPP_PHONE_NUMBER_ID=" + whatsapptest.PhoneNumberID,
		"JOURNEYBOT_WHATSAPP_APP_SECRET=" + whatsapptest.AppSecret, "JOURNEYBOT_WHATSAPP_VERIFY_TOKEN=" + whatsapptest.VerifyToken,
		"JOURNEYBOT_WHATSAPP_API_URL=" + wa.APIURL(),
		"JOURNEYBOT_SLACK_BOT_TOKEN=" + sl.BotToken, "JOURNEYBOT_SLACK_APP_TOKEN=" + sl.AppToken, "JOURNEYBOT_SLACK_SIGNING_SECRET=" + signing,
		"JOURNEYBOT_SLACK_API_URL=" + sl.URL, "JOURNEYBOT_SLACK_SUPPORT_CHANNEL=" + support, "JOURNEYBOT_SLACK_STAFF_USER_IDS=U1",
		// The model and the order service are down: their errors are logged.
		"JOURNEYBOT_LLM_API_KEY=" + llmKey, "JOURNEYBOT_LLM_BASE_URL=http://bot:" + llmPass + "@127.0.0.1:1/proxy/" + llmPathKey + "/v1",
		"JOURNEYBOT_LLM_TIMEOUT=300ms",
		"JOURNEYBOT_ORDERS_LOOKUP_URL=http://shop:" + orderPass + "@127.0.0.1:1/api/orders?token=" + orderToken, "JOURNEYBOT_ORDERS_LOOKUP_TIMEOUT=300ms",
	}
	p := start(t, env, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	var out bytes.Buffer
	collect := func(p *proc) { out.WriteString(p.stdout.String() + p.stderr.String()) }

	// Customers: text no keyword knows (the model is asked), an order
	// number (the lookup service is asked), /pedido (asked too).
	ana := telegramtest.User{ID: 4242001, FirstName: "Ana", LanguageCode: "pt-br"}
	chat := telegramtest.Private(ana)
	for i, text := range []string{"oi", "xyzzy plugh frobozz", "cadê o pedido 12345?", "/pedido 12345 ana@example.com"} {
		tg.SendText(chat, ana, text)
		tg.WaitMessages(chat.ID, i+1)
	}
	// Requests with wrong credentials.
	body := []byte(`{"id":"e1","type":"order.created","occurred_at":"2026-03-02T10:00:00Z","customer":{"id":"c1"},"order":{"id":"55501"}}`)
	for _, sig := range []string{"v1=" + strings.Repeat("ab", 32), events.LegacySignatureValue(eventsSecret, body)} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/events", bytes.NewReader(body))
		req.Header.Set(events.TimestampHeader, fmt.Sprint(time.Now().Unix()))
		req.Header.Set(events.SignatureHeader, sig)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a badly signed event: HTTP %d, want 401", resp.StatusCode)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/events", bytes.NewReader(body))
	events.SignRequest(req, oldEvents, time.Now(), body)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("an event signed with the older secret of the list: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, _ := get(t, "http://"+maddr+"/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: HTTP %d", code)
	}
	wreq, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/whatsapp/webhook", strings.NewReader(`{"object":"whatsapp_business_account","entry":[]}`))
	wreq.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	if resp, err := http.DefaultClient.Do(wreq); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a WhatsApp notification with a bad signature: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	get(t, "http://"+addr+"/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
	p.stderr.waitFor(t, "llm call failed")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	collect(p)
	if !strings.Contains(out.String(), "order lookup") {
		t.Errorf("the order lookup's failure was not logged (the test did not reach its error path):\n%s", out.String())
	}

	// Start-up failures, each naming what is wrong.
	base := []string{"JOURNEYBOT_LOG_LEVEL=debug", "JOURNEYBOT_HTTP_ADDR=" + freeAddr(t), "JOURNEYBOT_SCRIPTS_DIR=" + scripts}
	type failure struct {
		name string
		env  []string
	}
	var names []string
	var procs []*proc
	for _, c := range []failure{
		{"redis url with a password query", []string{"JOURNEYBOT_REDIS_URL=redis://127.0.0.1:1/notanumber?password=" + redisPW}},
		{"redis url with a lone token", []string{"JOURNEYBOT_REDIS_URL=redis://" + redisPW + "@127.0.0.1:1/0"}},
		{"redis url with a bad escape", []string{"JOURNEYBOT_REDIS_URL=redis://:" + redisPW + "%zz@127.0.0.1:1/0"}},
		{"redis refuses the password", []string{"JOURNEYBOT_REDIS_URL=redis://:wrong-" + redisPW + "@" + m.Addr() + "/0"}},
		{"slack refuses the token", []string{"JOURNEYBOT_SLACK_BOT_TOKEN=xoxb-" + signing, "JOURNEYBOT_SLACK_APP_TOKEN=" + sl.AppToken,
			"JOURNEYBOT_SLACK_API_URL=" + sl.URL, "JOURNEYBOT_SLACK_SUPPORT_CHANNEL=" + support, "JOURNEYBOT_SLACK_STAFF_USER_IDS=U1"}},
		{"telegram is down", []string{"JOURNEYBOT_TELEGRAM_TOKEN=" + tg.Token, "JOURNEYBOT_TELEGRAM_API_URL=http://127.0.0.1:1"}},
		{"weak events secret", []string{"JOURNEYBOT_EVENTS_SECRET=" + llmKey}},
		{"bad llm url", []string{"JOURNEYBOT_LLM_BASE_URL=ftp://x:" + llmPass + "@h/" + llmPathKey}},
	} {
		// All at once: several wait on a dead address before they give up.
		procs = append(procs, start(t, append(slices.Clone(base), c.env...), "run"))
		names = append(names, c.name)
	}
	for i, q := range procs {
		if err := q.wait(t); err == nil {
			t.Errorf("%s: the bot started", names[i])
		}
		collect(q)
	}
	all := out.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			i := strings.Index(all, s)
			t.Errorf("secret %.6s… appears in the output: …%s…", s, all[max(0, i-200):min(len(all), i+len(s)+50)])
		}
	}
}
