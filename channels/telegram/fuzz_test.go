package telegram_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"journeybot/channels"
	"journeybot/channels/telegram"
	"journeybot/internal/telegramtest"
)

// FuzzWebhookUpdate posts arbitrary bodies, with the right secret, to the
// webhook handler: the answer is 200 (stored or ignored), 400 (not an
// update) or 413 (too large), never a panic; what reaches the bot is a
// Telegram message of a chat, whose text splits within Telegram's limit.
func FuzzWebhookUpdate(f *testing.F) {
	srv := telegramtest.New(f)
	ch, err := telegram.New(context.Background(), telegram.Options{Token: srv.Token, APIURL: srv.URL, Mode: telegram.ModeWebhook, WebhookSecret: "fz"})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	got := make(chan channels.Inbound, 1)
	go ch.Run(ctx, channels.HandlerFunc(func(ctx context.Context, in channels.Inbound) error {
		select {
		case got <- in:
		default:
		}
		return nil
	}))
	h := ch.WebhookHandler()
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "fz")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for deadline := time.Now().Add(10 * time.Second); post(`{"update_id":1}`) == http.StatusServiceUnavailable; {
		if time.Now().After(deadline) {
			f.Fatal("the webhook never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.Add(`{"update_id":5,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"first_name":"A"},"text":"oi"}}`)
	f.Add(`{"update_id":6,"callback_query":{"id":"q","from":{"id":7,"first_name":"A"},"message":{"message_id":2,"date":1,"chat":{"id":7,"type":"private"}},"data":"menu"}}`)
	f.Add(`{"update_id":7,"message":{"message_id":3,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7},"text":"/start o.abc.def","entities":[{"type":"bot_command","offset":0,"length":6}]}}`)
	f.Add(`{"update_id":8,"message":{"message_id":4,"date":1,"chat":{"id":-100,"type":"supergroup"},"from":{"id":7},"text":"oi"}}`)
	f.Add(`{"update_id":9,"edited_message":{"message_id":4,"date":1,"chat":{"id":7,"type":"private"},"text":"x"}}`)
	f.Add(`[]`)
	f.Add(`{"update_id":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		switch code := post(body); code {
		case http.StatusOK:
			select {
			case in := <-got:
				if in.Channel != "telegram" || in.Address == "" {
					t.Fatalf("inbound without its chat: %+v", in)
				}
				for _, p := range channels.SplitText(in.Text, 4096) {
					if channels.Units(p) > 4096 {
						t.Fatalf("a part of %d units", channels.Units(p))
					}
				}
			default:
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q", code, body)
		}
	})
}
