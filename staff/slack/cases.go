package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"journeybot/bot"
	"journeybot/journey"
)

// OpenCase posts the case message in the support channel and returns its
// ts, the thread everything else goes to. The bot calls it holding the
// customer's lock, so the after-hours notice to the customer (which goes
// through the bot) is sent from a goroutine.
func (d *Desk) OpenCase(ctx context.Context, c bot.Case) (string, error) {
	if c.Journey == nil || c.Journey.Case == nil {
		return "", errors.New("slack: open case without a journey case")
	}
	now := d.now()
	afterHours, opens := "", time.Time{}
	if d.o.Hours != nil && !d.o.Hours.Open(now.In(d.o.TimeZone)) {
		opens = nextOpening(now.In(d.o.TimeZone), *d.o.Hours)
		afterHours = openingText(now.In(d.o.TimeZone), opens, "en")
	}
	name := customerName(c.Journey)
	fallback := fmt.Sprintf("New case: %s (%s) — %s", name, customerChannel(c), c.Reason)
	ch, ts, err := d.post(ctx, d.o.Channel,
		slack.MsgOptionText(esc(fallback), false), slack.MsgOptionBlocks(caseBlocks(c, afterHours)...),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
	if err != nil {
		return "", fmt.Errorf("post case of %s to %s: %w", c.Journey.ID, d.o.Channel, err)
	}
	rec := caseRec{TS: ts, Channel: ch, Customer: c.Journey.ID, Opened: c.Journey.Case.Opened}
	if err := d.saveCase(ctx, rec, now.Add(d.o.ClaimTimeout)); err != nil {
		// The message is up but replies cannot be matched to the customer.
		d.notice(ctx, ch, ts, "⚠️ This case could not be recorded (Redis); replies here will not reach the customer.")
		return "", err
	}
	if afterHours != "" {
		d.tellAfterHours(c.Journey, ts, now, opens)
	}
	return ts, nil
}

// tellAfterHours runs the scripts' case.after_hours flow for the customer,
// with answers.event.opens saying when the team is back.
func (d *Desk) tellAfterHours(j *journey.Journey, ts string, now, opens time.Time) {
	ev := journey.Event{
		ID: "case.after_hours:" + ts, Type: "case.after_hours", At: now,
		Customer: journey.EventCustomer{ID: j.ID},
		Data: map[string]string{
			"opens":    openingText(now.In(d.o.TimeZone), opens, j.Language()),
			"opens_at": opens.Format(time.RFC3339),
		},
	}
	d.bg.Add(1)
	go func() { // the caller holds this customer's lock in the bot
		defer d.bg.Done()
		ctx, cancel := context.WithTimeout(d.work, 30*time.Second)
		defer cancel()
		if _, err := d.o.Bot.HandleEvent(ctx, ev); err != nil {
			d.log.Warn("after-hours notice failed", "customer", j.ID, "err", err)
		}
	}()
}

// Mirror copies a customer's message into the case thread.
func (d *Desk) Mirror(ctx context.Context, ref string, c bot.Case, text string) error {
	rec, ok, err := d.loadCase(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("mirror: thread %s is not a known case", ref)
	}
	msg := "*" + esc(customerName(c.Journey)) + ":* " + esc(text)
	// As a verbatim block: the customer's URLs and names stay text, and
	// links are not unfurled (Slack would fetch them).
	block := slack.NewSectionBlock(mrkdwn(clip(msg, 3000)), nil, nil)
	if _, _, err := d.post(ctx, rec.Channel, slack.MsgOptionText(clip(msg, 39000), false), slack.MsgOptionBlocks(block),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl(), slack.MsgOptionTS(ref)); err != nil {
		return fmt.Errorf("mirror to thread %s: %w", ref, err)
	}
	return nil
}

// Notice posts a line from the bot in the thread of the case ref (a staff
// reply that could not be delivered).
func (d *Desk) Notice(ctx context.Context, ref, text string) error {
	rec, ok, err := d.loadCase(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("notice: thread %s is not a known case", ref)
	}
	if _, _, err := d.post(ctx, rec.Channel, slack.MsgOptionText(text, false), slack.MsgOptionTS(ref)); err != nil {
		return fmt.Errorf("notice in thread %s: %w", ref, err)
	}
	return nil
}

// post posts a message within Slack's pace of one message a second per
// channel, shared by every process (Options.Limiter).
func (d *Desk) post(ctx context.Context, channel string, opts ...slack.MsgOption) (string, string, error) {
	if d.o.Limiter != nil {
		if err := d.o.Limiter.Wait(ctx, "slack:"+channel, 1); err != nil {
			return "", "", err
		}
	}
	return d.api.PostMessageContext(ctx, channel, opts...)
}

// notice posts a line in a case thread.
func (d *Desk) notice(ctx context.Context, channel, ts, text string) {
	if _, _, err := d.post(ctx, channel, slack.MsgOptionText(text, false), slack.MsgOptionTS(ts)); err != nil {
		d.log.Warn("thread notice failed", "ts", ts, "err", err)
	}
}

// whisper shows a message to one member only.
func (d *Desk) whisper(ctx context.Context, channel, user, threadTS, text string) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	if _, err := d.api.PostEphemeralContext(ctx, channel, user, opts...); err != nil {
		d.log.Warn("ephemeral message failed", "user", user, "err", err)
	}
}

// updateCard rewrites the case message's status line and buttons.
func (d *Desk) updateCard(ctx context.Context, r caseRec, status string, actions slack.Block) {
	msgs, _, _, err := d.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: r.Channel, Timestamp: r.TS, Limit: 1, Inclusive: true})
	if err != nil || len(msgs) == 0 || msgs[0].Timestamp != r.TS {
		d.log.Warn("read case message for update", "ts", r.TS, "err", err)
		return
	}
	blocks := withStatus(msgs[0].Blocks.BlockSet, status, actions)
	if _, _, _, err := d.api.UpdateMessageContext(ctx, r.Channel, r.TS,
		slack.MsgOptionText(msgs[0].Text, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		d.log.Warn("update case message", "ts", r.TS, "err", err)
	}
}

// takeOver claims the case for a member. Exactly one of several members
// pressing at once wins (the claim is one atomic journey update); the
// others are told who has it.
func (d *Desk) takeOver(ctx context.Context, r caseRec, user, handle string) error {
	if open, err := d.stillOpen(ctx, r, user); !open || err != nil {
		return err
	}
	name := d.staffName(ctx, user, handle)
	won, holder, err := d.o.Bot.Claim(ctx, r.Customer, user, name)
	if errors.Is(err, bot.ErrNoCase) {
		d.whisper(ctx, r.Channel, user, r.TS, "This case is already resolved.")
		return nil
	}
	if err != nil {
		d.whisper(ctx, r.Channel, user, r.TS, "Could not take over this case; try again.")
		return fmt.Errorf("claim case %s for %s: %w", r.TS, user, err)
	}
	if !won {
		if holder == name {
			d.whisper(ctx, r.Channel, user, r.TS, "You already have this case.")
		} else {
			d.whisper(ctx, r.Channel, user, r.TS, holder+" already has it.")
		}
		return nil
	}
	d.claimed(ctx, r.TS)
	wait := duration(d.now().Sub(time.Unix(r.Opened, 0)))
	d.notice(ctx, r.Channel, r.TS, fmt.Sprintf("🙋 *%s* took over after %s. The bot is quiet now; replies in this thread go to the customer. "+
		"Start a line with `//` or `note:` to keep it internal; write `resolve` (or press Resolve) when done.", esc(name), wait))
	d.updateCard(ctx, r, fmt.Sprintf("🙋 Taken over by *%s* after %s", esc(name), wait), actionsBlock(r.Customer, false))
	return nil
}

// stillOpen reports whether the case is open; when it is not, the member
// who acted is told and the case message is closed.
func (d *Desk) stillOpen(ctx context.Context, r caseRec, user string) (bool, error) {
	_, open, err := d.current(ctx, r)
	if err != nil {
		return false, err
	}
	if !open {
		d.whisper(ctx, r.Channel, user, r.TS, "This case is already resolved.")
		d.closed(ctx, r.TS)
	}
	return open, nil
}

// resolve closes the case: the bot resumes and runs the scripts'
// case.resolved flow (the CSAT survey); the thread records who and how long.
func (d *Desk) resolve(ctx context.Context, r caseRec, user, handle string) error {
	if open, err := d.stillOpen(ctx, r, user); !open || err != nil {
		return err
	}
	name := d.staffName(ctx, user, handle)
	took, err := d.o.Bot.Resolve(ctx, r.Customer, name)
	if errors.Is(err, bot.ErrNoCase) {
		d.whisper(ctx, r.Channel, user, r.TS, "This case is already resolved.")
		d.closed(ctx, r.TS)
		return nil
	}
	if err != nil {
		d.whisper(ctx, r.Channel, user, r.TS, "Could not resolve this case; try again.")
		return fmt.Errorf("resolve case %s: %w", r.TS, err)
	}
	d.closed(ctx, r.TS)
	d.notice(ctx, r.Channel, r.TS, fmt.Sprintf("✅ Resolved by *%s* after %s. The bot is back and the customer gets the satisfaction survey.", esc(name), duration(took)))
	d.updateCard(ctx, r, fmt.Sprintf("✅ Resolved by *%s* · open %s", esc(name), duration(took)), nil)
	return nil
}

// noteMarkers start a thread message that stays among staff.
var noteMarkers = []string{"//", "note:"}

func isNote(text string) bool {
	t := strings.ToLower(strings.TrimSpace(text))
	for _, m := range noteMarkers {
		if strings.HasPrefix(t, m) {
			return true
		}
	}
	return false
}

func isResolve(text string) bool {
	t := strings.ToLower(strings.Trim(strings.TrimSpace(text), ".!"))
	return t == "resolve" || t == "resolved"
}

// reply sends a member's thread message to the customer. A reply to an
// unclaimed case takes it over first, so the bot stops talking over staff.
func (d *Desk) reply(ctx context.Context, r caseRec, user, text string) error {
	j, open, err := d.current(ctx, r)
	if err != nil {
		return err
	}
	if !open {
		d.whisper(ctx, r.Channel, user, r.TS, "This case is resolved: your message was not sent to the customer.")
		return nil
	}
	if j.Case.Claimed == 0 {
		if err := d.takeOver(ctx, r, user, ""); err != nil {
			return err
		}
	}
	name := d.staffName(ctx, user, "")
	out := plainText(text, func(u string) string { return d.staffName(ctx, u, u) })
	if out == "" {
		return nil
	}
	if err := d.o.Bot.StaffReply(ctx, r.Customer, name, out); err != nil {
		msg := "⚠️ Not delivered to the customer (the bot's log says why). Try again in a moment."
		if errors.Is(err, bot.ErrOutsideWindow) {
			msg = "⚠️ Not delivered: the customer's channel takes messages only within 24 hours of their last message (WhatsApp's window). They need to write first."
		}
		d.notice(ctx, r.Channel, r.TS, msg)
		return fmt.Errorf("staff reply on case %s: %w", r.TS, err)
	}
	return nil
}
