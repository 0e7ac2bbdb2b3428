package main

import (
	"context"
	"errors"
	"net/http"

	"journeybot/channels"
)

// setupTelegram builds the Telegram channel when telegram.token is set.
func setupTelegram(ctx context.Context, a *app, mux *http.ServeMux) (channels.Channel, error) {
	if !a.cfg.Telegram.Enabled() {
		return nil, nil
	}
	return nil, errors.New("telegram.token is set, but the Telegram channel is not built yet")
}
