package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"journeybot/channels"
	"journeybot/channels/telegram"
	"journeybot/delivery"
	"journeybot/lease"
)

// setupTelegram builds the Telegram channel when telegram.token is set. In
// webhook mode it serves POST /telegram/webhook on mux and points Telegram at
// telegram.webhook_url; in polling mode the channel removes any webhook and
// long-polls when it runs. Its limits: telegram.rate for the whole bot, one
// message a second per chat.
func setupTelegram(ctx context.Context, a *app, mux *http.ServeMux) (channels.Channel, delivery.Limits, error) {
	tc := a.cfg.Telegram
	limits := delivery.Limits{PerSecond: float64(tc.Rate), PerChat: time.Second}
	if !tc.Enabled() {
		return nil, limits, nil
	}
	if tc.Mode == telegram.ModeWebhook && tc.WebhookURL == "" {
		return nil, limits, errors.New("telegram.webhook_url is required in webhook mode: the public https URL of /telegram/webhook on this server (environment: JOURNEYBOT_TELEGRAM_WEBHOOK_URL)")
	}
	ch, err := telegram.New(ctx, telegram.Options{
		Token: tc.Token, APIURL: tc.APIURL, Mode: tc.Mode, WebhookSecret: tc.WebhookSecret,
		AllowGroups: tc.AllowGroups, Log: a.log,
		// One poller among the processes; another takes over within ~10s.
		PollLease: lease.New(a.rdb, a.cfg.RedisPrefix+":tg:poller", 8*time.Second, a.log),
	})
	if err != nil {
		return nil, limits, err
	}
	if tc.BotUsername != "" && tc.BotUsername != ch.Username() {
		a.log.Warn("telegram.bot_username differs from the bot's username: deep links printed by `journeybot link` will point elsewhere",
			"configured", tc.BotUsername, "actual", ch.Username())
	}
	if tc.Mode == telegram.ModeWebhook {
		mux.Handle("POST /telegram/webhook", ch.WebhookHandler())
		if err := ch.SetWebhook(ctx, tc.WebhookURL); err != nil {
			return nil, limits, fmt.Errorf("%w (telegram.webhook_url %s)", err, tc.WebhookURL)
		}
		a.log.Info("telegram webhook set", "url", tc.WebhookURL)
	}
	return ch, limits, nil
}
