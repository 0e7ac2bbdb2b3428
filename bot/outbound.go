package bot

import (
	"context"
	"errors"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/journey"
	"journeybot/llm"
)

// outgoing turns the messages of a result into outbox messages: routed to
// the customer's channel (channel first; "" picks one for a proactive
// message), split where the channel's text limit asks. in is the customer's
// message being answered, nil for bot-initiated work. It runs inside a
// commit, so it only decides; nothing is sent here.
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
	var out []journey.Outgoing
	for i, m := range res.Messages {
		parts := []string{m.Text}
		if sp, ok := ch.(channels.Splitter); ok {
			if parts = sp.Split(m.Text); len(parts) == 0 {
				parts = []string{""}
			}
		}
		for k, p := range parts {
			o := journey.Outgoing{
				ID: journey.NewMessageID(), Channel: ch.Name(), Address: addr, Text: p, Proactive: res.Proactive,
				Personalize: m.Personalize && len(parts) == 1, Style: m.Style,
			}
			if k == len(parts)-1 {
				for _, btn := range m.Buttons {
					o.Buttons = append(o.Buttons, journey.Button{Label: btn.Label, Data: btn.Data})
				}
			}
			if i == 0 && k == 0 && res.Unmatched && b.llm != nil && in != nil && in.Kind == channels.KindText {
				o.Question = in.Text
			}
			out = append(out, o)
		}
	}
	return out
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

func (b *Bot) route(j *journey.Journey, channel string) (channels.Channel, string) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if channel != "" {
		if c := b.channels[channel]; c != nil && j.Profile.Addresses[channel] != "" {
			return c, j.Profile.Addresses[channel]
		}
	}
	for _, name := range b.order {
		if addr := j.Profile.Addresses[name]; addr != "" {
			return b.channels[name], addr
		}
	}
	return nil, ""
}

// prepare is the text a sender sends for m: the model's answer to an
// unmatched question, or its rephrase of a scripted text, when a model is
// configured and its checks pass; else the scripted text.
func (b *Bot) prepare(ctx context.Context, customer string, m journey.Outgoing) string {
	if b.llm == nil || (m.Question == "" && !m.Personalize) {
		return m.Text
	}
	j, _, err := b.store.Get(ctx, customer)
	if err != nil {
		return m.Text
	}
	if m.Question != "" {
		if answer, ok := b.freeAnswer(ctx, j, m.Question); ok {
			b.metrics.note("llm.free_answer")
			return answer
		}
		return m.Text
	}
	return b.rephrase(ctx, j, m)
}

// sent counts a message the channel took.
func (b *Bot) sent(customer string, m journey.Outgoing) {
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
	if m.Origin != "staff" || !b.background {
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
	now := b.now()
	_, err := b.store.Update(ctx, id, "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		if j.Profile.Unreachable != 0 {
			return nil, journey.ErrNoChange
		}
		j.Profile.Unreachable = now.Unix()
		return []journey.HistoryEntry{{At: now.Unix(), From: "bot", Text: "[customer unreachable: blocked the bot]"}}, nil
	})
	if err != nil {
		b.log.Warn("mark unreachable failed", "customer", id, "err", err)
	}
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

func (b *Bot) rephrase(ctx context.Context, j *journey.Journey, m journey.Outgoing) string {
	hist, _ := b.store.History(ctx, j.ID, 6)
	text, ok := b.llm.Rephrase(ctx, llm.RephraseRequest{
		Template: m.Text, Language: j.Language(), Style: m.Style, Context: b.llmContext(j), Turns: turns(hist), MaxChars: 4096,
	})
	if !ok {
		return m.Text
	}
	return text
}

// freeAnswer asks the model about a message nothing in the scripts matched,
// when the stage allows free answers.
func (b *Bot) freeAnswer(ctx context.Context, j *journey.Journey, question string) (string, bool) {
	st := b.engine.Scripts().Stage(j.Stage)
	if st == nil || len(st.Topics) == 0 {
		return "", false
	}
	hist, _ := b.store.History(ctx, j.ID, 6)
	return b.llm.Answer(ctx, llm.AnswerRequest{
		Question: question, Topics: st.Topics, Language: j.Language(), Context: b.llmContext(j), Turns: turns(hist), MaxChars: 4096,
	})
}

func turns(h []journey.HistoryEntry) []llm.Turn {
	out := make([]llm.Turn, 0, len(h))
	for _, e := range h {
		out = append(out, llm.Turn{FromCustomer: e.From == "customer", Text: e.Text})
	}
	return out
}
