package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/internal/telegramtest"
)

// telegramCustomer is a customer with a chat id of this run only: the binary
// keeps its keys under the default prefix, which a shared CI Redis sees from
// other runs too.
func telegramCustomer(t *testing.T, r *redistest.Redis) telegramtest.User {
	id := 1_000_000_000 + time.Now().UnixNano()%100_000_000
	if r.Real {
		t.Cleanup(func() {
			ctx := context.Background()
			iter := r.Client.Scan(ctx, 0, "jb:*"+strconv.FormatInt(id, 10)+"*", 1000).Iterator()
			for iter.Next(ctx) {
				r.Client.Del(ctx, iter.Val())
			}
		})
	}
	return telegramtest.User{ID: id, FirstName: "Ana", Username: "ana_" + strconv.FormatInt(id, 10), LanguageCode: "pt-br"}
}

func buttonLabels(m telegramtest.Message) []string {
	var out []string
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				out = append(out, b.Text)
			}
		}
	}
	return out
}

// converse holds a short conversation: "oi" gets the menu with an inline
// keyboard; a tap is answered, its keyboard removed, and replied to; /stop
// and /start are confirmed.
func converse(t *testing.T, srv *telegramtest.Server, ana telegramtest.User) {
	t.Helper()
	chat := telegramtest.Private(ana)
	srv.SendText(chat, ana, "oi")
	menu := srv.WaitMessages(chat.ID, 1)[0]
	labels := buttonLabels(menu)
	if !strings.Contains(menu.Text, "Ana") || len(labels) < 2 {
		t.Fatalf("menu = %q with buttons %v", menu.Text, labels)
	}
	srv.Press(chat, ana, labels[1])
	srv.WaitMessages(chat.ID, 2)
	answers := srv.WaitCalls("answerCallbackQuery", 1)
	if !srv.Answered(answers[0].Params.Get("callback_query_id")) {
		t.Fatalf("the button press was not answered")
	}
	srv.WaitCalls("editMessageReplyMarkup", 1)
	msgs := srv.Messages(chat.ID)
	if msgs[0].ReplyMarkup != nil {
		t.Fatalf("the pressed menu keeps its keyboard")
	}
	if msgs[1].Text == "" || msgs[1].Text == menu.Text {
		t.Fatalf("reply to %q = %q", labels[1], msgs[1].Text)
	}
	srv.SendText(chat, ana, "/stop")
	srv.WaitMessages(chat.ID, 3)
	srv.SendText(chat, ana, "/start")
	if again := srv.WaitMessages(chat.ID, 4)[3]; again.Text != menu.Text {
		t.Fatalf("/start after /stop = %q, want the menu", again.Text)
	}
}

func stopBinary(t *testing.T, p *proc, token string) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if strings.Contains(p.stderr.String()+p.stdout.String(), token) {
		t.Errorf("the Telegram token is in the output:\n%s", p.stderr.String())
	}
}

// On a single node and on a Redis Cluster.
func TestRunTelegramPolling(t *testing.T) { redistest.Each(t, testRunTelegramPolling) }

func testRunTelegramPolling(t *testing.T, r *redistest.Redis) {
	srv := telegramtest.New(t)
	ana := telegramCustomer(t, r)
	scripts, _ := filepath.Abs("../../scripts")
	addr, maddr := freeAddr(t), freeAddr(t)
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + srv.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + srv.URL, "JOURNEYBOT_METRICS_ADDR=" + maddr,
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	converse(t, srv, ana)
	if srv.WaitCalls("deleteWebhook", 1); len(srv.Calls("getMe")) == 0 {
		t.Errorf("the bot never called getMe")
	}
	body := waitStatus(t, "http://"+maddr+"/metrics", 200)
	if !strings.Contains(body, `journeybot_inbound_messages_total{channel="telegram"} 4`) {
		t.Errorf("metrics do not count the four Telegram messages")
	}
	stopBinary(t, p, srv.Token)
}

// On a single node and on a Redis Cluster.
func TestRunTelegramWebhook(t *testing.T) { redistest.Each(t, testRunTelegramWebhook) }

func testRunTelegramWebhook(t *testing.T, r *redistest.Redis) {
	srv := telegramtest.New(t)
	ana := telegramCustomer(t, r)
	scripts, _ := filepath.Abs("../../scripts")
	addr := freeAddr(t)
	hook := "http://" + addr + "/telegram/webhook"
	const secret = "e2e-Webhook_secret"
	p := start(t, []string{
		"JOURNEYBOT_HTTP_ADDR=" + addr, "JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix,
		"JOURNEYBOT_TELEGRAM_TOKEN=" + srv.Token, "JOURNEYBOT_TELEGRAM_API_URL=" + srv.URL,
		"JOURNEYBOT_TELEGRAM_MODE=webhook", "JOURNEYBOT_TELEGRAM_WEBHOOK_SECRET=" + secret,
		"JOURNEYBOT_TELEGRAM_WEBHOOK_URL=" + hook,
	}, "run")
	waitStatus(t, "http://"+addr+"/healthz", 200)
	srv.WaitCalls("setWebhook", 1)
	if url, got := srv.Webhook(); url != hook || got != secret {
		t.Fatalf("setWebhook: url %q, secret given: %v", url, got == secret)
	}
	converse(t, srv, ana)

	for _, s := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(`{"update_id":1}`))
		if s != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", s)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("webhook with secret %q: %d, want 401", s, resp.StatusCode)
		}
	}
	if strings.Contains(p.stderr.String(), secret) {
		t.Errorf("the webhook secret is in the log")
	}
	stopBinary(t, p, srv.Token)
}
