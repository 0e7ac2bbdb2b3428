package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/insight"
	"journeybot/journey"
	"journeybot/llm"
)

// outgoing turns the messages of a result into outbox messages: routed to
// the customer's channel (channel first; "" picks one for a proactive
// message) and shaped to what that channel can show (its Capabilities):
// long texts split, more choices than it can offer sent as a typed answer,
// and, outside its service window, the step's approved template or nothing
// (counted nudge.skipped_window). in is the customer's message being
// answered, nil for bot-initiated work. It runs inside a commit, so it only
// decides; nothing is sent here.
func (b *Bot) outgoing(j *journey.Journey, channel string, res *conversations.Result, in *channels.Inbound) []journey.Outgoing {
	if res == nil || len(res.Messages) == 0 {
		return nil
	}
	ch, addr := b.route(j, channel)
	if ch == nil {
		b.metrics.note("send.no_channel")
		b.log.Info("no channel to reach customer", "customer", j.ID)
		return nil
	}
	caps := channels.CapabilitiesOf(ch)
	closed := !inWindow(j, ch.Name(), caps.Window, b.now())
	lang := j.Language()
	var out []journey.Outgoing
	skipped := false
	for i, m := range res.Messages {
		if closed {
			t, ok := m.Templates[ch.Name()]
			if !ok || !caps.Templates {
				skipped = true
				continue
			}
			out = append(out, journey.Outgoing{
				ID: journey.NewMessageID(), Channel: ch.Name(), Address: addr, Text: m.Text, Proactive: res.Proactive, Lang: lang,
				Template: &journey.Template{Name: t.Name, Language: t.Language, Params: t.Params},
			})
			res.Notes = append(res.Notes, "template."+ch.Name()+"."+m.Flow)
			continue
		}
		text, buttons := fitChoices(m.Text, m.Buttons, caps, lang)
		parts := splitFor(text, len(buttons) > 0, caps)
		for k, p := range parts {
			o := journey.Outgoing{
				ID: journey.NewMessageID(), Channel: ch.Name(), Address: addr, Text: p, Proactive: res.Proactive,
				Personalize: m.Personalize && len(parts) == 1, Style: m.Style, Lang: lang,
			}
			if k == len(parts)-1 {
				o.Buttons = buttons
			}
			if i == 0 && k == 0 && res.Unmatched && b.llm != nil && in != nil && in.Kind == channels.KindText {
				o.Question = in.Text
			}
			// A message the model may write links its history line, so the
			// line can show what the customer got (see sent).
			if b.llm != nil && (o.Personalize || o.Question != "") && len(res.History) == len(res.Messages) {
				res.History[i].Msg = o.ID
			}
			out = append(out, o)
		}
	}
	if skipped {
		// Once per commit: a nudge is a flow's messages together.
		res.Notes = append(res.Notes, "nudge.skipped_window")
		b.log.Info("outside the channel's service window and no template: not sent", "customer", j.ID, "channel", ch.Name())
	}
	return out
}

// windowMargin keeps messages committed at the very end of a service window
// from reaching the platform after it closed.
const windowMargin = time.Minute

// inWindow reports whether free-form messages may go to the customer on
// channel: always on a channel without a window, else within window of the
// customer's last message there.
func inWindow(j *journey.Journey, channel string, window time.Duration, now time.Time) bool {
	if window <= 0 {
		return true
	}
	last := j.Seen[channel]
	return last > 0 && now.Sub(time.Unix(last, 0)) < window-windowMargin
}

// fitChoices keeps the buttons a channel can offer; when there are more than
// it can show in any form (11 NPS scores on WhatsApp's 10-row lists), the
// choices go into the text and the customer types one, which the engine
// takes as the press.
func fitChoices(text string, bs []channels.Button, caps channels.Capabilities, lang string) (string, []journey.Button) {
	if n := caps.Choices(); n > 0 && len(bs) > n {
		return text + "\n\n" + typedChoices(bs, lang), nil
	}
	var out []journey.Button
	for _, b := range bs {
		out = append(out, journey.Button{Label: b.Label, Data: b.Data})
	}
	return text, out
}

// typedChoices asks for a typed answer: a range when the labels are
// consecutive numbers (survey scores), else the labels one per line.
func typedChoices(bs []channels.Button, lang string) string {
	first, err1 := strconv.Atoi(bs[0].Label)
	last, err2 := strconv.Atoi(bs[len(bs)-1].Label)
	numbers := err1 == nil && err2 == nil && last-first == len(bs)-1
	for i, b := range bs {
		if n, err := strconv.Atoi(b.Label); err != nil || n != first+i {
			numbers = false
		}
	}
	if numbers {
		if lang == "en" {
			return fmt.Sprintf("Reply with a number from %d to %d.", first, last)
		}
		return fmt.Sprintf("Responda com um número de %d a %d.", first, last)
	}
	var sb strings.Builder
	if lang == "en" {
		sb.WriteString("Reply with one of these:")
	} else {
		sb.WriteString("Responda com uma destas opções:")
	}
	for _, b := range bs {
		sb.WriteString("\n• " + b.Label)
	}
	return sb.String()
}

// splitFor cuts text into the messages the channel takes; with buttons, the
// last part (which carries them) also fits the channel's button text.
func splitFor(text string, buttons bool, caps channels.Capabilities) []string {
	parts := channels.SplitText(text, caps.MaxText)
	if buttons && caps.MaxButtonText > 0 && len(parts) > 0 && channels.Units(parts[len(parts)-1]) > caps.MaxButtonText {
		last := parts[len(parts)-1]
		parts = append(parts[:len(parts)-1], channels.SplitText(last, caps.MaxButtonText)...)
	}
	if len(parts) == 0 {
		parts = []string{""}
	}
	return parts
}

// reply is the outbox message of a staff member's text.
func (b *Bot) reply(j *journey.Journey, text string) []journey.Outgoing {
	res := &conversations.Result{Messages: []conversations.Message{{Text: text}}}
	out := b.outgoing(j, "", res, nil)
	for i := range out {
		out[i].Origin = "staff"
	}
	return out
}

// route picks the channel of a message: the one asked for, else the one the
// customer last wrote on, else the first registered with an address.
func (b *Bot) route(j *journey.Journey, channel string) (channels.Sender, string) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if channel != "" {
		if c := b.channels[channel]; c != nil && j.Profile.Addresses[channel] != "" {
			return c, j.Profile.Addresses[channel]
		}
	}
	best := ""
	for _, name := range b.order {
		if j.Profile.Addresses[name] != "" && (best == "" || j.Seen[name] > j.Seen[best]) {
			best = name
		}
	}
	if best == "" {
		return nil, ""
	}
	return b.channels[best], j.Profile.Addresses[best]
}

// capabilities are what the channel named can show.
func (b *Bot) capabilities(channel string) channels.Capabilities {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return channels.CapabilitiesOf(b.channels[channel])
}

// prepare is the text a sender sends for m: the model's answer to an
// unmatched question, or its rephrase of a scripted text, when a model is
// configured and its checks pass; else the scripted text.
func (b *Bot) prepare(ctx context.Context, customer string, m journey.Outgoing) string {
	if b.llm == nil || m.Template != nil || (m.Question == "" && !m.Personalize) {
		return m.Text
	}
	j, _, err := b.store.Get(ctx, customer)
	if err != nil {
		return m.Text
	}
	if m.Question != "" {
		if answer, ok := b.freeAnswer(ctx, j, m); ok {
			b.metrics.note("llm.free_answer")
			return answer
		}
		return m.Text
	}
	return b.rephrase(ctx, j, m)
}

// sent counts a message the channel took. When the model wrote its text, the
// history line of the message becomes that text, marked as the model's, so
// staff (the Slack case, /journey) and the next prompt see what the
// customer read.
func (b *Bot) sent(ctx context.Context, customer string, m journey.Outgoing, text string) {
	if text != m.Text && m.Template == nil {
		entry := journey.HistoryEntry{At: b.now().Unix(), From: "bot", Text: text, Msg: m.ID, Model: true}
		if err := b.store.ReviseHistory(ctx, customer, entry); errors.Is(err, journey.ErrNoHistoryLine) {
			b.log.Debug("history: the model's text has no line to replace (trimmed)", "customer", customer)
		} else if err != nil {
			b.log.Warn("history: could not record the model's text", "customer", customer, "err", err)
		}
	}
	kind := "reply"
	if m.Proactive {
		kind = "proactive"
	}
	b.metrics.outbound.WithLabelValues(m.Channel, kind).Inc()
	b.metrics.stats.Add("outbound", 1)
}

// failed hears of a message that will never be sent: a customer who blocked
// the bot is marked so (no more nudges), and staff hear that their reply did
// not arrive.
func (b *Bot) failed(ctx context.Context, customer string, m journey.Outgoing, err error) {
	if errors.Is(err, channels.ErrUnreachable) {
		b.metrics.note("send.unreachable")
		b.markUnreachable(ctx, customer)
	} else {
		b.metrics.errors.WithLabelValues("send").Inc()
	}
	b.mu.RLock()
	background := b.background
	b.mu.RUnlock()
	if m.Origin != "staff" || !background {
		return // without senders, the staff action itself reports it
	}
	j, _, gerr := b.store.Get(ctx, customer)
	if s := b.staffDesk(); gerr == nil && s != nil && j.Case != nil && j.Case.Ref != "" {
		if n, ok := s.(staffNotices); ok {
			if nerr := n.Notice(ctx, j.Case.Ref, "⚠️ Not delivered to the customer: "+err.Error()); nerr != nil {
				b.log.Warn("tell staff a reply was not delivered", "customer", customer, "err", nerr)
			}
		}
	}
}

// staffNotices is a staff desk that can post a line in a case's thread.
type staffNotices interface {
	Notice(ctx context.Context, ref, text string) error
}

func (b *Bot) markUnreachable(ctx context.Context, id string) {
	if _, found, err := b.store.Get(ctx, id); err == nil && !found {
		return // erased (its last message failed): nothing to mark, nothing to re-create
	}
	now := b.now()
	var counts []insight.Count
	_, err := b.store.Update(ctx, id, "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		if j.Profile.Unreachable != 0 {
			return nil, journey.ErrNoChange
		}
		j.Profile.Unreachable = now.Unix()
		counts = b.figures.Blocked(j, now)
		return []journey.HistoryEntry{{At: now.Unix(), From: "bot", Text: "[customer unreachable: blocked the bot]"}}, nil
	})
	if err != nil {
		b.log.Warn("mark unreachable failed", "customer", id, "err", err)
		return
	}
	b.metrics.stats.AddCounts(counts)
}

func (b *Bot) llmContext(j *journey.Journey) llm.CustomerContext {
	c := llm.CustomerContext{Language: j.Language(), Stage: j.Stage, Points: j.Profile.Points}
	c.FirstName = firstName(j.Profile.Name)
	for _, o := range j.Orders {
		for _, it := range o.Items {
			c.Products = append(c.Products, it.Name)
		}
	}
	return c
}

func firstName(s string) string {
	for i, r := range s {
		if r == ' ' {
			return s[:i]
		}
	}
	return s
}

// maxChars is the longest text the model may write for m on its channel
// (0: the model's default).
func (b *Bot) maxChars(m journey.Outgoing) int {
	caps := b.capabilities(m.Channel)
	if len(m.Buttons) > 0 && caps.MaxButtonText > 0 {
		return caps.MaxButtonText
	}
	return caps.MaxText
}

func (b *Bot) rephrase(ctx context.Context, j *journey.Journey, m journey.Outgoing) string {
	hist, _ := b.store.History(ctx, j.ID, 6)
	text, ok := b.llm.Rephrase(ctx, llm.RephraseRequest{
		Template: m.Text, Language: j.Language(), Style: m.Style, Context: b.llmContext(j), Turns: turns(hist), MaxChars: b.maxChars(m),
	})
	if !ok {
		return m.Text
	}
	return text
}

// freeAnswer asks the model about a message nothing in the scripts matched,
// when the stage allows free answers.
func (b *Bot) freeAnswer(ctx context.Context, j *journey.Journey, m journey.Outgoing) (string, bool) {
	question := m.Question
	st := b.engine.Scripts().Stage(j.Stage)
	if st == nil || len(st.Topics) == 0 {
		return "", false
	}
	hist, _ := b.store.History(ctx, j.ID, 6)
	return b.llm.Answer(ctx, llm.AnswerRequest{
		Question: question, Topics: st.Topics, Language: j.Language(), Context: b.llmContext(j), Turns: turns(hist), MaxChars: b.maxChars(m),
	})
}

func turns(h []journey.HistoryEntry) []llm.Turn {
	out := make([]llm.Turn, 0, len(h))
	for _, e := range h {
		out = append(out, llm.Turn{FromCustomer: e.From == "customer", ByModel: e.Model, Text: e.Text})
	}
	return out
}

// RecordStatus counts a delivery status a channel reported for a message the
// bot sent (WhatsApp's sent, delivered, read, failed): figures for
// marketers, in the journey events and the day's stats as
// delivery.CHANNEL.STATUS.
func (b *Bot) RecordStatus(ctx context.Context, channel, status string) {
	b.metrics.note("delivery." + channel + "." + status)
}
