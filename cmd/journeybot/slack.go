package main

import (
	"context"
	"errors"
	"net/http"

	"journeybot/channels"
)

// setupSlack builds the Slack staff desk when slack.bot_token is set.
func setupSlack(ctx context.Context, a *app, mux *http.ServeMux) (channels.Channel, error) {
	if !a.cfg.Slack.Enabled() {
		return nil, nil
	}
	return nil, errors.New("slack.bot_token is set, but the Slack desk is not built yet")
}
