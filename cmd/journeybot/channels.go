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

// customerChannels are the customer channels `run` wires. Adding one is its
// package, its config keys, its setup function beside these, and one line
// here.
var customerChannels = []channelSetup{
	setupTelegram,
	setupWhatsApp,
}

// channelCapabilities are what each customer channel can show, for
// `journeybot lint` (whether or not the channel is configured).
var channelCapabilities = map[string]channels.Capabilities{
	telegram.Name: telegram.Capabilities(),
	whatsapp.Name: whatsapp.Capabilities(),
}
