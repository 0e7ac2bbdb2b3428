package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/journey"
)

// Intake is the handler channels give their updates to when the bot runs
// with senders (Options.Background): it stores each update in its chat's
// inbox and returns, so the platform gets its acknowledgement as soon as the
// update is durable in Redis. RunIntake handles the inboxes, each chat's
// updates in the channel's order.
type Intake struct{ b *Bot }

// Intake returns the bot's intake.
func (b *Bot) Intake() *Intake { return &Intake{b} }

// HandleInbound stores in in its chat's inbox; see channels.Handler.
func (i *Intake) HandleInbound(ctx context.Context, in channels.Inbound) error {
	if in.Seq == 0 {
		in.Seq = time.Now().UnixMicro()
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("intake: encode %s update: %w", in.Channel, err)
	}
	if err := i.b.store.Accept(ctx, journey.InboxOwner(in.Channel, in.Address), in.Seq, payload, time.Now(), i.b.hold); err != nil {
		i.b.metrics.errors.WithLabelValues("intake").Inc()
		return err
	}
	select {
	case i.b.intakeWake <- struct{}{}:
	default:
	}
	return nil
}

// RunIntake handles the chats' inboxes until ctx ends: it claims chats with
// waiting updates (a lease, so one process handles a chat at a time), handles
// their updates in order, and removes each once its commit is in Redis.
func (b *Bot) RunIntake(ctx context.Context) {
	const workers = 64
	var wg sync.WaitGroup
	slots := make(chan struct{}, workers)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for ctx.Err() == nil {
		if free := workers - len(slots); free > 0 {
			leases, err := b.store.ClaimInboxes(ctx, time.Now(), 15*time.Second, free)
			if err != nil && ctx.Err() == nil {
				b.log.Warn("intake: redis unavailable, retrying", "err", err)
			}
			for _, l := range leases {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-slots; wg.Done() }()
					b.handleInbox(ctx, l)
				}()
			}
			if len(leases) == free {
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-b.intakeWake:
		case <-t.C:
		}
	}
	wg.Wait()
}

// handleInbox handles a claimed chat's updates in sequence order, for at most
// five seconds (then other chats get their turn; the lease is 15), and gives
// the lease back. Handled updates leave the inbox together, with the release
// or before the next read: one round trip, not one per update.
func (b *Bot) handleInbox(ctx context.Context, l journey.Lease) {
	// An update being handled is finished even when ctx ends: its commit
	// should land, and the update leave the inbox with it.
	wctx := context.WithoutCancel(ctx)
	start := time.Now()
	next := time.Time{}
	var done []journey.InboxItem
	const batch = 50
loop:
	for {
		if len(done) > 0 {
			if err := b.store.Done(wctx, l.ID, done...); err != nil {
				b.log.Warn("intake: handled updates not removed (they will be skipped as duplicates)", "chat", l.ID, "err", err)
				next = time.Now().Add(time.Second)
				break
			}
			done = done[:0]
		}
		items, err := b.store.Inbox(wctx, l.ID, batch)
		if err != nil {
			b.log.Warn("intake: read inbox failed", "chat", l.ID, "err", err)
			next = time.Now().Add(time.Second)
			break
		}
		for _, it := range items {
			if ctx.Err() != nil || time.Since(start) > 5*time.Second {
				next = time.Now()
				break loop
			}
			// An update that came while this chat was being handled still
			// gets its hold: an earlier one may be on its way to another
			// process.
			if ready := it.Accepted.Add(b.hold); time.Now().Before(ready) {
				next = ready
				break loop
			}
			var in channels.Inbound
			if err := json.Unmarshal(it.Payload, &in); err != nil {
				b.deadLetter(wctx, l.ID, it, "unreadable", err)
				continue
			} else if err := b.handle(wctx, in); err != nil {
				if b.failedAgain(wctx, l.ID, it) {
					b.deadLetter(wctx, l.ID, it, "failed", err)
					continue
				}
				b.log.Warn("intake: update not handled, retrying", "chat", l.ID, "update", in.ID, "err", err)
				next = time.Now().Add(time.Second)
				break loop
			}
			b.failing.Remove(l.ID + "\x00" + it.Raw)
			done = append(done, it)
		}
		if len(items) < batch {
			break // a short read: what came since marked the inbox
		}
	}
	if err := b.store.DoneAndRelease(wctx, l, done, next); err != nil {
		b.log.Warn("intake: finishing the chat's turn failed; its lease runs out and handled updates are skipped as duplicates", "chat", l.ID, "err", err)
	}
}

// maxFailures is how often an update may fail, with Redis answering, before
// it is moved to the dead letters so the chat behind it goes on.
const maxFailures = 10

// failedAgain counts a failure of it and reports whether it failed too often.
// Failures while Redis does not answer do not count: then every update
// fails, and all of them wait for Redis.
func (b *Bot) failedAgain(ctx context.Context, owner string, it journey.InboxItem) bool {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if b.store.Ping(pctx) != nil {
		return false
	}
	key := owner + "\x00" + it.Raw
	n, _ := b.failing.Get(key)
	b.failing.Add(key, n+1)
	return n+1 >= maxFailures
}

func (b *Bot) deadLetter(ctx context.Context, owner string, it journey.InboxItem, reason string, cause error) {
	b.failing.Remove(owner + "\x00" + it.Raw)
	b.metrics.errors.WithLabelValues("dead_letter").Inc()
	if err := b.store.DeadLetter(ctx, owner, it, reason); err != nil {
		b.log.Error("intake: could not move an update to the dead letters", "chat", owner, "err", err)
		return
	}
	b.log.Error("intake: update moved to the dead letters (prefix:dead)", "chat", owner, "reason", reason, "err", cause)
}

// HandleInbound handles one customer message now: it returns once the
// message's commit (with its replies in the outbox) is in Redis. Channels
// that run in a process with senders go through Intake instead.
func (b *Bot) HandleInbound(ctx context.Context, in channels.Inbound) error {
	return b.handle(ctx, in)
}

func (b *Bot) handle(ctx context.Context, in channels.Inbound) error {
	start := time.Now()
	in = customerInput(ctx, in)
	if isIdentify(in) {
		var err error
		if in, err = b.identifyCommand(ctx, in); err != nil {
			return err
		}
	}
	id, err := b.CustomerID(ctx, in.Channel, in.Address)
	if err != nil {
		return err
	}
	own := journey.OwnID(in.Channel, in.Address)
	// verified: the chat's customer was read from Redis in this turn, not
	// from a cache another process's link may have outdated.
	verified := id == own
	if in.Kind == channels.KindCommand && in.Command == "start" && in.Args != "" {
		if linked, err := b.linkFromPayload(ctx, in, id); err != nil {
			return err
		} else if linked != "" {
			id, verified = linked, true
		}
	}
	unlock := b.lock(id)
	defer func() { unlock() }()
	now := b.now()
	input := toInput(in)
	if input.Kind == conversations.InText {
		input.Intent = b.routeIntent(ctx, in.Text)
	}
	if b.orders != nil && in.Kind == channels.KindText {
		input.Order = b.lookupMentionedOrder(ctx, id, in.Text)
	}
	var res *handled
	limited := false
	commit := func(j *journey.Journey) (journey.Change, error) {
		if a := j.Profile.Addresses[in.Channel]; !verified && a != "" && a != in.Address {
			return journey.Change{}, errAddressMoved
		}
		fillProfile(j, in, now)
		// The limit counts when the customer sent, so a backlog handled after
		// an outage is not mistaken for a flood.
		sent := now
		if !in.At.IsZero() && in.At.Before(now) {
			sent = in.At
		}
		if limited = !b.allowIntake(j, sent); limited {
			return b.slowDown(j, in.Channel, now), nil
		}
		res = b.handleWith(j, input, now)
		hist := []journey.HistoryEntry{{At: now.Unix(), From: "customer", Text: describe(in)}}
		out := b.outgoing(j, in.Channel, res.Result, &in) // before the history is copied: it links lines to messages
		return journey.Change{History: append(hist, res.History...), Outbox: out, Names: b.usernameFor(in, j.ID)}, nil
	}
	j, err := b.store.Commit(ctx, id, in.Channel+":"+in.ID, now, commit)
	for errors.Is(err, errAddressMoved) {
		// The customer this process had cached for the chat has another
		// address on the channel now: ask Redis whose the chat is.
		fresh, ferr := b.store.ResolveFresh(ctx, in.Channel, in.Address)
		if ferr != nil {
			return ferr
		}
		verified = true // another written form of the customer's address, when fresh == id
		if fresh == "" {
			fresh = own
		}
		if fresh != id {
			unlock()
			id = fresh
			unlock = b.lock(id)
		}
		j, err = b.store.Commit(ctx, id, in.Channel+":"+in.ID, now, commit)
	}
	if errors.Is(err, journey.ErrDuplicate) {
		// Its replies were queued by the first delivery; they may still wait.
		b.metrics.duplicates.Inc()
		b.deliver(ctx)
		return nil
	}
	if err != nil {
		b.metrics.errors.WithLabelValues("store").Inc()
		return fmt.Errorf("handle %s message: %w", in.Channel, err)
	}
	b.indexedUsername(in, j.ID)
	if limited {
		b.metrics.intakeLimited.WithLabelValues(in.Channel).Inc()
		b.deliver(ctx)
		return nil
	}
	b.metrics.inbound.WithLabelValues(in.Channel).Inc()
	b.metrics.stats.Add("inbound", 1)
	b.after(ctx, j, res, in.Channel, &in)
	if res.Erase {
		// Confirmed with the button: what this turn queued (the last
		// message) is sent; everything else goes now.
		unlock()
		unlock = func() {}
		if _, err := b.erase(ctx, j.ID, "customer", journey.EraseOptions{KeepOutbox: true}); err != nil {
			return err
		}
	}
	b.deliver(ctx)
	b.metrics.handleSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// errAddressMoved: the journey a chat was resolved to has another address
// on the chat's channel (a link made elsewhere moved it).
var errAddressMoved = errors.New("the chat is no longer the customer's address")

// allowIntake applies the per-chat inbound limit (GCRA: PerMinute messages,
// bursts of Burst) to j, whose state it updates.
func (b *Bot) allowIntake(j *journey.Journey, now time.Time) bool {
	interval := int64(60000 / b.intake.PerMinute)
	tolerance := interval * int64(b.intake.Burst-1)
	t := now.UnixMilli()
	if t < j.Intake-tolerance {
		return false
	}
	if t >= j.Intake {
		j.Flooded = false // the limit has fully recovered
	}
	j.Intake = max(j.Intake, t) + interval
	return true
}

// slowDown answers the first message over the intake limit with a request
// to slow down, and the others with nothing.
func (b *Bot) slowDown(j *journey.Journey, channel string, now time.Time) journey.Change {
	if j.Flooded {
		return journey.Change{}
	}
	j.Flooded = true
	text := "Recebi muitas mensagens seguidas e não consigo acompanhar. Espere um minuto e me escreva de novo, por favor."
	if j.Language() == "en" {
		text = "I got many messages in a row and cannot keep up. Please wait a minute and write to me again."
	}
	res := &conversations.Result{Messages: []conversations.Message{{Text: text}}}
	return journey.Change{
		History: []journey.HistoryEntry{{At: now.Unix(), From: "bot", Text: "[asked to slow down]"}},
		Outbox:  b.outgoing(j, channel, res, nil),
	}
}

func toInput(in channels.Inbound) conversations.Input {
	switch in.Kind {
	case channels.KindButton:
		return conversations.Input{Kind: conversations.InButton, Data: in.Data, Text: in.Text}
	case channels.KindCommand:
		return conversations.Input{Kind: conversations.InCommand, Command: in.Command, Args: in.Args}
	case channels.KindMedia:
		return conversations.Input{Kind: conversations.InMedia, Text: in.Media}
	}
	return conversations.Input{Kind: conversations.InText, Text: in.Text}
}

// maxHistoryText bounds what one history line keeps of a customer's text:
// history is context for staff and the model, not an archive.
const maxHistoryText = 1000

func describe(in channels.Inbound) string {
	switch in.Kind {
	case channels.KindButton:
		if in.Text != "" {
			return "[button] " + in.Text
		}
		return "[button]"
	case channels.KindCommand:
		return "/" + in.Command
	case channels.KindMedia:
		return "[" + in.Media + "]"
	}
	if r := []rune(in.Text); len(r) > maxHistoryText {
		return string(r[:maxHistoryText]) + "…"
	}
	return in.Text
}

// fillProfile takes what the channel knows into an empty profile, and
// records when the customer wrote on the channel.
func fillProfile(j *journey.Journey, in channels.Inbound, now time.Time) {
	p := &j.Profile
	if p.Addresses == nil {
		p.Addresses = map[string]string{}
	}
	p.Addresses[in.Channel] = in.Address
	if j.Seen == nil {
		j.Seen = map[string]int64{}
	}
	// The platform's time of the message, when it said: a service window
	// counts from when the customer wrote, not from when the bot read it.
	seen := now.Unix()
	if !in.At.IsZero() {
		seen = in.At.Unix()
	}
	j.Seen[in.Channel] = max(j.Seen[in.Channel], seen)
	if p.Phone == "" && in.Phone != "" {
		p.Phone = in.Phone // the platform verified it
	}
	if p.Name == "" && in.FirstName != "" {
		p.Name = in.FirstName
	}
	if p.Username == "" && in.Username != "" {
		p.Username = in.Username
	}
	if p.Language == "" && in.LanguageCode != "" {
		if len(in.LanguageCode) >= 2 && in.LanguageCode[:2] == "en" {
			p.Language = "en"
		} else if len(in.LanguageCode) >= 2 && in.LanguageCode[:2] == "pt" {
			p.Language = "pt-BR"
		}
	}
}

// usernameFor is the customer's @username on the channel to index with
// the commit, so staff can look customers up by it (/journey customer
// @ana): once per process (its usernames cache), not on every message.
func (b *Bot) usernameFor(in channels.Inbound, id string) []journey.Name {
	if in.Username == "" {
		return nil
	}
	name := strings.ToLower(strings.TrimPrefix(in.Username, "@"))
	if b.usernames.Contains(in.Channel + ":" + name + ":" + id) {
		return nil
	}
	return []journey.Name{{Kind: in.Channel + "_username", Value: name}}
}

// indexedUsername notes that the commit indexed the customer's username.
func (b *Bot) indexedUsername(in channels.Inbound, id string) {
	if in.Username != "" {
		b.usernames.Add(in.Channel+":"+strings.ToLower(strings.TrimPrefix(in.Username, "@"))+":"+id, struct{}{})
	}
}
