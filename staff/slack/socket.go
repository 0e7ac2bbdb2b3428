package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// runSocket holds the Socket Mode connection (the library reconnects) and
// acknowledges each envelope at once; the work is queued. An event that
// cannot be queued is not acknowledged, so Slack delivers it again.
func (d *Desk) runSocket(ctx context.Context) error {
	sm := socketmode.New(d.api)
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack socket mode (check slack.app_token): %w", err)
		case ev := <-sm.Events:
			d.onSocketEvent(ctx, sm, ev)
		}
	}
}

func (d *Desk) onSocketEvent(ctx context.Context, sm *socketmode.Client, ev socketmode.Event) {
	ack := func(payload ...any) {
		if ev.Request == nil {
			return
		}
		if err := sm.AckCtx(ctx, ev.Request.EnvelopeID, first(payload)); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Warn("socket mode ack failed", "err", err)
		}
	}
	switch ev.Type {
	case socketmode.EventTypeConnected:
		d.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeErrorBadMessage:
		d.log.Warn("slack socket mode trouble", "event", string(ev.Type))
	case socketmode.EventTypeEventsAPI:
		e, ok := ev.Data.(slackevents.EventsAPIEvent)
		if !ok {
			ack()
			return
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := d.onEvent(actx, e)
		cancel()
		if err != nil {
			d.log.Warn("slack event not accepted; Slack will redeliver", "err", err)
			return
		}
		ack()
	case socketmode.EventTypeInteractive:
		cb, ok := ev.Data.(slack.InteractionCallback)
		if ok {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := d.onInteraction(actx, cb)
			cancel()
			if err != nil {
				d.log.Warn("slack interaction not accepted", "err", err)
			}
		}
		ack()
	case socketmode.EventTypeSlashCommand:
		c, ok := ev.Data.(slack.SlashCommand)
		if !ok {
			ack()
			return
		}
		actx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
		text := d.command(actx, c)
		cancel()
		ack(commandReply(text))
	}
}

func first(p []any) any {
	if len(p) == 0 {
		return nil
	}
	return p[0]
}
