package main

import (
	"context"
	"net/http"

	"journeybot/channels"
	"journeybot/channels/telegram"
	"journeybot/channels/whatsapp"
	"journeybot/delivery"
)

// channelSetup builds one customer channel when its configuration enables
// it (nil when not), serves its webhooks on mux, and says its sending limits.
type channelSetup func(ctx context.Context, a *app, mux *http.ServeMux) (channels.Channel, delivery.Limits, error)

// customerChannel is one way customers reach the bot: how `run` sets it up,
// and what it can show, for `journeybot lint` (configured or not).
type customerChannel struct {
	name  string
	setup channelSetup
	caps  channels.Capabilities
}

// customerChannels are the customer channels the bot has. Adding one is its
// package, its config keys, its setup function beside these, and one line
// here.
var customerChannels = []customerChannel{
	{telegram.Name, setupTelegram, telegram.Capabilities()},
	{whatsapp.Name, setupWhatsApp, whatsapp.Capabilities()},
}

// channelCapabilities maps each customer channel to what it can show.
func channelCapabilities() map[string]channels.Capabilities {
	m := map[string]channels.Capabilities{}
	for _, c := range customerChannels {
		m[c.name] = c.caps
	}
	return m
}
