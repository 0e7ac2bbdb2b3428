// Package bot is the runtime: it routes an inbound message to the
// conversation engine inside one atomic journey update, then sends the
// replies out through the customer's channel. It also fires scheduled
// nudges, applies commerce events, and carries support cases between the
// customer and staff.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/journey"
	"journeybot/llm"
)

// Staff is where support cases go (Slack). Optional.
type Staff interface {
	// OpenCase posts a new case and returns its reference (the thread).
	OpenCase(ctx context.Context, c Case) (ref string, err error)
	// Mirror copies a customer's message into the case's thread.
	Mirror(ctx context.Context, ref string, c Case, text string) error
}

// Case is what staff see of a customer's case.
type Case struct {
	Journey *journey.Journey
	Reason  string
	Channel string // the customer's channel
	History []journey.HistoryEntry
}

// Personalizer rephrases scripted texts and answers free questions (an LLM). Optional.
type Personalizer interface {
	Rephrase(ctx context.Context, req llm.RephraseRequest) (string, bool)
	Answer(ctx context.Context, req llm.AnswerRequest) (string, bool)
}

// OrderLookup finds an order the journey does not know yet. Optional.
type OrderLookup interface {
	Lookup(ctx context.Context, orderID string) (*journey.Order, error)
}

// Options build a Bot. Store and Engine are required.
type Options struct {
	Store   *journey.Store
	Engine  *conversations.Engine
	Log     *slog.Logger
	Now     func() time.Time // the clock; tests pass a simulated one
	Staff   Staff
	LLM     Personalizer
	Orders  OrderLookup
	Metrics *Metrics
	Router  IntentRouter // sorts texts no keyword matched into an intent (see understand.go)
	// Lease is how long a claimed due customer is reserved (default 1m).
	Lease time.Duration
}

// Bot is the runtime. Safe for concurrent use.
type Bot struct {
	store      *journey.Store
	engine     *conversations.Engine
	log        *slog.Logger
	now        func() time.Time
	staff      Staff
	llm        Personalizer
	orders     OrderLookup
	metrics    *Metrics
	router     IntentRouter
	lease      time.Duration
	mu         sync.RWMutex
	channels   map[string]channels.Channel
	order      []string // channel preference for proactive messages
	locks      keyedLocks
	linkSecret string
	usernames  sync.Map // "channel:username" already indexed by this process
}

// New returns a bot.
func New(o Options) *Bot {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	return &Bot{
		store: o.Store, engine: o.Engine, log: o.Log, now: o.Now, staff: o.Staff, llm: o.LLM,
		orders: o.Orders, metrics: o.Metrics, lease: o.Lease, channels: map[string]channels.Channel{}, router: o.Router,
	}
}

// AddChannel registers a channel for sending. Channels added first are
// preferred for proactive messages.
func (b *Bot) AddChannel(c channels.Channel) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.channels[c.Name()] = c
	b.order = append(b.order, c.Name())
}

// SetStaff sets where support cases go (the Slack channel is built after the bot).
func (b *Bot) SetStaff(s Staff) { b.mu.Lock(); b.staff = s; b.mu.Unlock() }

func (b *Bot) staffDesk() Staff { b.mu.RLock(); defer b.mu.RUnlock(); return b.staff }

// Store returns the journey store.
func (b *Bot) Store() *journey.Store { return b.store }

// Engine returns the conversation engine.
func (b *Bot) Engine() *conversations.Engine { return b.engine }

// Now returns the bot's clock.
func (b *Bot) Now() time.Time { return b.now() }

// lock serializes the handling of one customer in this process (the store's
// version check covers other processes). One lock per customer, so a slow
// send to one chat never holds up another customer.
func (b *Bot) lock(id string) func() { return b.locks.lock(id) }

type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	mu      sync.Mutex
	waiters int
}

func (k *keyedLocks) lock(id string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[id]
	if l == nil {
		l = &keyedLock{}
		k.m[id] = l
	}
	l.waiters++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(k.m, id)
		}
		k.mu.Unlock()
	}
}

// errSchedule marks a failure to update the due index after a commit: the
// caller still sends what the commit says, then reports the error so the
// input is redelivered, and the redelivery (a duplicate) schedules again.
var errSchedule = errors.New("scheduling after the commit failed")

// update commits a change to a journey and keeps the due index right: when
// the change brought a timer forward, the customer is scheduled for it.
func (b *Bot) update(ctx context.Context, id, msgID string, now time.Time, fn journey.Mutation) (*journey.Journey, error) {
	var before int64
	j, err := b.store.Update(ctx, id, msgID, now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		before = j.NextDue()
		return fn(j)
	})
	if errors.Is(err, journey.ErrDuplicate) {
		// A redelivery: the first delivery may have committed and then
		// failed to schedule; scheduling again is harmless (ZADD LT).
		if serr := b.store.Schedule(ctx, id, j.NextDue()); serr != nil {
			return j, serr
		}
		return j, err
	}
	if err != nil {
		return j, err
	}
	if err := b.reschedule(ctx, j, before); err != nil {
		b.metrics.errors.WithLabelValues("schedule").Inc()
		return j, fmt.Errorf("%w: %w", errSchedule, err)
	}
	return j, nil
}

// CustomerID returns the customer linked to a channel address; an address
// not linked to a store customer is a customer of its own ("telegram:42").
func (b *Bot) CustomerID(ctx context.Context, channel, address string) (string, error) {
	id, err := b.store.Resolve(ctx, channel, address)
	if err != nil || id != "" {
		return id, err
	}
	return channel + ":" + address, nil
}

// HandleInbound handles one customer message; see channels.Handler.
func (b *Bot) HandleInbound(ctx context.Context, in channels.Inbound) error {
	start := time.Now()
	id, err := b.CustomerID(ctx, in.Channel, in.Address)
	if err != nil {
		return err
	}
	if in.Kind == channels.KindCommand && in.Command == "start" && in.Args != "" {
		if linked, err := b.linkFromPayload(ctx, in, id); err != nil {
			return err
		} else if linked != "" {
			id = linked
		}
	}
	unlock := b.lock(id)
	defer unlock()
	now := b.now()
	input := toInput(in)
	if input.Kind == conversations.InText {
		input.Intent = b.routeIntent(ctx, in.Text)
	}
	if b.orders != nil && in.Kind == channels.KindText {
		input.Order = b.lookupMentionedOrder(ctx, id, in.Text)
	}
	var res *conversations.Result
	j, err := b.update(ctx, id, in.Channel+":"+in.ID, now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		fillProfile(j, in)
		res = b.engine.Handle(j, input, now)
		hist := []journey.HistoryEntry{{At: now.Unix(), From: "customer", Text: describe(in)}}
		return append(hist, res.History...), nil
	})
	if errors.Is(err, journey.ErrDuplicate) {
		b.metrics.duplicates.Inc()
		return nil
	}
	if err != nil && !errors.Is(err, errSchedule) {
		b.metrics.errors.WithLabelValues("store").Inc()
		return fmt.Errorf("handle %s message: %w", in.Channel, err)
	}
	b.linkUsername(ctx, in, id)
	b.metrics.inbound.WithLabelValues(in.Channel).Inc()
	b.metrics.stats.Add("inbound", 1)
	b.after(ctx, j, res, in.Channel, &in)
	b.metrics.handleSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("handle %s message: %w", in.Channel, err)
	}
	return nil
}

func toInput(in channels.Inbound) conversations.Input {
	switch in.Kind {
	case channels.KindButton:
		return conversations.Input{Kind: conversations.InButton, Data: in.Data}
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

// fillProfile takes what the channel knows into an empty profile.
func fillProfile(j *journey.Journey, in channels.Inbound) {
	p := &j.Profile
	if p.Addresses == nil {
		p.Addresses = map[string]string{}
	}
	p.Addresses[in.Channel] = in.Address
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

// after does what a committed update asks: open a case, mirror to staff,
// personalize and send the messages.
// in is the customer's message being answered, nil for bot-initiated work.
func (b *Bot) after(ctx context.Context, j *journey.Journey, res *conversations.Result, channel string, in *channels.Inbound) {
	for _, n := range res.Notes {
		b.metrics.note(n)
	}
	if res.Escalated != "" {
		b.openCase(ctx, j, channel, res.Escalated)
	} else if res.Mirror && in != nil && j.Case != nil && j.Case.Ref != "" {
		// Every kind of message reaches staff; media as a notice ("[photo]").
		if s := b.staffDesk(); s != nil {
			if err := s.Mirror(ctx, j.Case.Ref, Case{Journey: j, Channel: channel}, describe(*in)); err != nil {
				b.log.Warn("mirror to staff failed", "customer", j.ID, "err", err)
			}
		}
	}
	if len(res.Messages) == 0 {
		return
	}
	msgs := res.Messages
	if res.Unmatched && in != nil && in.Kind == channels.KindText {
		if answer, ok := b.freeAnswer(ctx, j, in.Text); ok {
			msgs = []conversations.Message{{Text: answer}}
			b.metrics.note("llm.free_answer")
		}
	}
	b.send(ctx, j, channel, msgs, res.Proactive)
}

// send delivers messages on the customer's channel ("" picks one for a
// proactive message). Failures are logged and counted here; the error is
// returned for callers that report delivery (staff replies).
func (b *Bot) send(ctx context.Context, j *journey.Journey, channel string, msgs []conversations.Message, proactive bool) error {
	ch, addr := b.route(j, channel)
	if ch == nil {
		b.metrics.note("send.no_channel")
		b.log.Info("no channel to reach customer", "customer", j.ID)
		return fmt.Errorf("customer %s has no channel to reach", j.ID)
	}
	for _, m := range msgs {
		text := m.Text
		if m.Personalize && b.llm != nil {
			text = b.rephrase(ctx, j, m)
		}
		out := channels.Outbound{Channel: ch.Name(), Address: addr, Text: text, Buttons: m.Buttons, Proactive: proactive}
		err := ch.Send(ctx, out)
		switch {
		case errors.Is(err, channels.ErrUnreachable):
			b.metrics.note("send.unreachable")
			b.markUnreachable(ctx, j.ID)
			return err
		case err != nil:
			b.metrics.errors.WithLabelValues("send").Inc()
			b.log.Warn("send failed", "customer", j.ID, "channel", ch.Name(), "err", err)
			return err
		}
		b.metrics.outbound.WithLabelValues(ch.Name(), kindOf(proactive)).Inc()
		b.metrics.stats.Add("outbound", 1)
	}
	return nil
}

func kindOf(proactive bool) string {
	if proactive {
		return "proactive"
	}
	return "reply"
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

// openCase brings a new case to staff and records its reference.
func (b *Bot) openCase(ctx context.Context, j *journey.Journey, channel, reason string) {
	b.metrics.casesOpened.Inc()
	s := b.staffDesk()
	if s == nil {
		b.log.Info("case opened but no staff channel is configured", "customer", j.ID, "reason", reason)
		return
	}
	hist, err := b.store.History(ctx, j.ID, 10)
	if err != nil {
		b.log.Warn("history for case", "customer", j.ID, "err", err)
	}
	ref, err := s.OpenCase(ctx, Case{Journey: j, Reason: reason, Channel: channel, History: hist})
	if err != nil {
		// The customer was told a person is coming: try again in a minute
		// (a timer in the journey, so a restart does not forget it).
		b.log.Error("open case failed; retrying in a minute", "customer", j.ID, "err", err)
		b.metrics.errors.WithLabelValues("open_case").Inc()
		retry := b.now().Add(time.Minute).Unix()
		_, err := b.update(ctx, j.ID, "", b.now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			if j.Case == nil || j.Case.Ref != "" {
				return nil, journey.ErrNoChange
			}
			j.SetTimer(journey.Timer{Key: conversations.CaseRetryKey, Due: retry})
			return nil, nil
		})
		if err != nil {
			b.log.Error("schedule case retry failed", "customer", j.ID, "err", err)
		}
		return
	}
	_, err = b.store.Update(ctx, j.ID, "", b.now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		if j.Case == nil {
			return nil, journey.ErrNoChange
		}
		j.Case.Ref = ref
		return nil, nil
	})
	if err != nil {
		b.log.Error("record case reference failed", "customer", j.ID, "err", err)
	}
	j.Case.Ref = ref
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

func (b *Bot) rephrase(ctx context.Context, j *journey.Journey, m conversations.Message) string {
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
	if b.llm == nil {
		return "", false
	}
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

// lookupMentionedOrder asks the lookup service about an order number the
// customer typed that the journey does not hold yet. The order is taken in
// only when its e-mail or phone is the customer's: typing someone else's
// order number shows nothing.
func (b *Bot) lookupMentionedOrder(ctx context.Context, id, text string) *journey.Order {
	m := orderNumber.FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	j, _, err := b.store.Get(ctx, id)
	if err != nil || j.Order(m[1]) != nil {
		return nil
	}
	o, err := b.orders.Lookup(ctx, m[1])
	if err != nil {
		b.log.Info("order lookup failed", "order", m[1], "err", err)
		return nil
	}
	if o == nil || !sameContact(j.Profile, o) {
		b.metrics.note("lookup.not_owner")
		return nil
	}
	return o
}

// sameContact reports whether the order's e-mail or phone is the profile's
// verified one (sent by the store, or proven with /pedido).
func sameContact(p journey.Profile, o *journey.Order) bool {
	return p.Email != "" && contactMatches(p.Email, o.Email, "") || p.Phone != "" && contactMatches(p.Phone, "", o.Phone)
}

var orderNumber = regexp.MustCompile(`#?\b([0-9]{4,12})\b`)

// linkUsername indexes the customer's @username on the channel once per
// process, so staff can look customers up by it (/journey customer @ana).
func (b *Bot) linkUsername(ctx context.Context, in channels.Inbound, id string) {
	if in.Username == "" {
		return
	}
	name := strings.ToLower(strings.TrimPrefix(in.Username, "@"))
	key := in.Channel + ":" + name + ":" + id
	if _, done := b.usernames.LoadOrStore(key, true); done {
		return
	}
	if err := b.store.Link(ctx, in.Channel+"_username", name, id); err != nil {
		b.usernames.Delete(key)
		b.log.Warn("index username failed", "err", err)
	}
}
