package main

import (
	"context"
	"net/http"

	"journeybot/channels"
	"journeybot/channels/whatsapp"
	"journeybot/delivery"
)

// setupWhatsApp builds the WhatsApp channel when whatsapp.access_token and
// whatsapp.phone_number_id are set: it checks them with the Graph API and
// serves the webhook (GET verification, signed POSTs) at /whatsapp/webhook.
// Its limit: whatsapp.rate for the number (WhatsApp paces one customer
// itself, answering 131056, which the senders retry).
func setupWhatsApp(ctx context.Context, a *app, mux *http.ServeMux) (channels.Channel, delivery.Limits, error) {
	wc := a.cfg.WhatsApp
	limits := delivery.Limits{PerSecond: float64(wc.Rate)}
	if !wc.Enabled() {
		return nil, limits, nil
	}
	ch, err := whatsapp.New(whatsapp.Options{
		AccessToken: wc.AccessToken, PhoneNumberID: wc.PhoneNumberID, AppSecret: wc.AppSecret,
		VerifyToken: wc.VerifyToken, APIURL: wc.APIURL, Log: a.log, Statuses: a.bot,
	})
	if err != nil {
		return nil, limits, err
	}
	display, err := ch.Check(ctx)
	if err != nil {
		return nil, limits, err
	}
	mux.Handle(whatsapp.WebhookPath, ch.WebhookHandler())
	a.log.Info("whatsapp ready", "number", display, "webhook", whatsapp.WebhookPath)
	return ch, limits, nil
}
