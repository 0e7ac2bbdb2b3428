package slack

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// eventTTL is how long handled event ids are remembered: Slack retries a
// few times within the hour.
const eventTTL = time.Hour

// onEvent accepts one Events API callback (either transport): it picks the
// thread messages of cases, drops Slack's retries of an event already
// accepted, and queues the work. An error means "not accepted, retry".
func (d *Desk) onEvent(ctx context.Context, ev slackevents.EventsAPIEvent) error {
	if ev.Type != slackevents.CallbackEvent {
		return nil
	}
	cb, _ := ev.Data.(*slackevents.EventsAPICallbackEvent)
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || cb == nil {
		return nil
	}
	threadTS := msg.ThreadTimeStamp
	if msg.SubType == "message_changed" && msg.Message != nil {
		threadTS = msg.Message.ThreadTimestamp
	}
	if threadTS == "" {
		return nil // not in a thread: chatter in the channel
	}
	if msg.SubType == "" && d.own(msg.User, msg.BotID) {
		return nil // the bot sees its own thread posts
	}
	r, ok, err := d.loadCase(ctx, threadTS)
	if err != nil {
		return err
	}
	if !ok || r.Channel != msg.Channel {
		return nil
	}
	if cb.EventID != "" {
		first, err := d.rdb.SetNX(ctx, d.store.Key("slack", "event", cb.EventID), 1, eventTTL).Result()
		if err != nil {
			return fmt.Errorf("remember event %s: %w", cb.EventID, err)
		}
		if !first {
			return nil // a retry of an event already accepted
		}
	}
	team := ev.TeamID
	if msg.UserTeam != "" {
		team = msg.UserTeam
	}
	err = d.enqueue(r.TS, "thread message", func(ctx context.Context) error { return d.threadMessage(ctx, r, team, msg) })
	if err != nil && cb.EventID != "" { // let Slack's retry in
		d.rdb.Del(context.WithoutCancel(ctx), d.store.Key("slack", "event", cb.EventID))
	}
	return err
}

// own reports whether a message was posted by this app.
func (d *Desk) own(user, botID string) bool {
	return botID != "" && botID == d.botID || user != "" && user == d.botUser
}

// threadMessage acts on a message in a case thread: a note stays, resolve
// resolves, anything else goes to the customer. Edits are not sent again
// and files are not forwarded; the thread says so.
func (d *Desk) threadMessage(ctx context.Context, r caseRec, team string, msg *slackevents.MessageEvent) error {
	switch msg.SubType {
	case "", "thread_broadcast", "file_share":
	case "message_changed":
		m := msg.Message
		if m == nil || m.Edited == nil || m.Timestamp == r.TS || d.own(m.User, m.BotID) || m.BotID != "" {
			return nil // our own card updates, unfurls, other apps
		}
		if !d.allowed(ctx, m.User, team) || isNote(m.Text) || msg.PreviousMessage != nil && isNote(msg.PreviousMessage.Text) {
			return nil
		}
		d.notice(ctx, r.Channel, r.TS, fmt.Sprintf("✏️ <@%s> edits are not sent: the customer keeps the original message. Send a new message to correct it.", m.User))
		return nil
	default:
		return nil // deletions, joins, bot_message and the like
	}
	if d.own(msg.User, msg.BotID) || msg.BotID != "" || msg.User == "" {
		return nil // our own posts (mirrors, notices) and other apps
	}
	if !d.allowed(ctx, msg.User, team) {
		d.whisper(ctx, r.Channel, msg.User, r.TS, "Only support staff can answer customers: your message was not sent.")
		return nil
	}
	if isNote(msg.Text) {
		return nil
	}
	if isResolve(msg.Text) {
		return d.resolve(ctx, r, msg.User, "")
	}
	text := msg.Text
	if msg.Message != nil && len(msg.Message.Files) > 0 {
		d.notice(ctx, r.Channel, r.TS, "📎 Files are not forwarded to the customer, only text. Describe it or paste a link instead.")
	}
	if text == "" {
		return nil
	}
	return d.reply(ctx, r, msg.User, text)
}

// onInteraction accepts a button press on a case message.
func (d *Desk) onInteraction(ctx context.Context, cb slack.InteractionCallback) error {
	if cb.Type != slack.InteractionTypeBlockActions {
		return nil
	}
	ts := cb.Container.MessageTs
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != actionTake && a.ActionID != actionResolve {
			continue
		}
		user, handle, action := cb.User.ID, cb.User.Name, a.ActionID
		if !d.allowed(ctx, user, cb.Team.ID, cb.User.TeamID) {
			return d.enqueue(ts, "refuse", func(ctx context.Context) error {
				d.whisper(ctx, channel, user, "", "Only support staff can take or resolve cases.")
				return nil
			})
		}
		return d.enqueue(ts, action, func(ctx context.Context) error {
			r, ok, err := d.loadCase(ctx, ts)
			if err != nil || !ok || r.Channel != channel {
				return err
			}
			if action == actionTake {
				return d.takeOver(ctx, r, user, handle)
			}
			return d.resolve(ctx, r, user, handle)
		})
	}
	return nil
}
