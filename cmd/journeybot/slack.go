package main

import (
	"context"
	"fmt"
	"net/http"

	"journeybot/channels"
	"journeybot/config"
	"journeybot/insight"
	slackdesk "journeybot/staff/slack"
)

// setupSlack builds the Slack staff desk when slack.bot_token is set: cases
// go to slack.support_channel. With slack.app_token it uses Socket Mode;
// otherwise it serves /slack/events, /slack/interactions and /slack/commands
// on the HTTP server, verified with slack.signing_secret. The desk is
// returned as a channel so the runtime runs and stops it; it never sends to
// customers.
func setupSlack(ctx context.Context, a *app, mux *http.ServeMux) (channels.Channel, error) {
	c := a.cfg.Slack
	if !c.Enabled() {
		return nil, nil
	}
	o := slackdesk.Options{
		BotToken: c.BotToken, AppToken: c.AppToken, SigningSecret: c.SigningSecret, APIURL: c.APIURL,
		Channel: c.SupportChannel, TeamID: c.TeamID, StaffUserIDs: c.StaffUserIDs, StaffFromChannel: c.StaffFromChannel, ClaimTimeout: c.ClaimTimeout,
		TimeZone: a.cfg.Send.DefaultTimezone, Bot: a.bot, Stats: a.stats, Log: a.log, Limiter: a.limiter,
		Figures: insight.NewReader(a.rdb, insight.ReaderOptions{
			Prefix: a.cfg.RedisPrefix, Zone: a.cfg.Send.DefaultTimezone, Current: a.engine.Scripts,
			AbandonAfter: a.cfg.AbandonAfter, Now: a.bot.Now,
		}),
	}
	if a.cfg.Support.Hours != "" {
		h, err := config.ParseHours(a.cfg.Support.Hours)
		if err != nil {
			return nil, fmt.Errorf("support.hours: %w", err)
		}
		o.Hours = &h
	}
	desk, err := slackdesk.New(ctx, o)
	if err != nil {
		return nil, err
	}
	if c.AppToken == "" {
		desk.Mount(mux)
	}
	a.bot.SetStaff(desk)
	return desk, nil
}
