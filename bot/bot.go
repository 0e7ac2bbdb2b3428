// Package bot is the runtime. Every input — a customer's message, a
// commerce event, a staff action, a due timer — becomes one atomic journey
// commit that also puts the replies in the customer's outbox; package
// delivery sends them from there. The files follow the data:
//
//	inbound.go    channel ─▶ inbox (ordered per chat) ─▶ handle ─▶ commit
//	events.go     POST /events ─▶ commit
//	scheduler.go  due timers ─▶ commit
//	staff.go      take over, reply, resolve ─▶ commit
//	outbound.go   what a commit sends: routing, splitting, the model's rephrase
//	cases.go      what a commit asks of staff: open a case, mirror a message
package bot

import (
	"context"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/delivery"
	"journeybot/insight"
	"journeybot/journey"
	"journeybot/keys"
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
	// Batch is how many due customers the scheduler claims, reads and
	// commits together (default 100).
	Batch int

	// Background: senders (RunSenders) deliver what commits queue, and calls
	// return once the commit is in Redis. Without it (the default: script
	// tests, the terminal chat) each call sends what it queued before it
	// returns, through the same outbox.
	Background bool
	// Limiter shares the channels' rate limits among processes (nil: none).
	Limiter delivery.RateLimiter
	// MaxAge is how long a message is retried before it is dropped (24h).
	MaxAge time.Duration
	// Intake limits what one chat may send: PerMinute messages with bursts
	// of Burst (default 60 and 20: more than a person types, far less than a
	// script); beyond it the customer is asked once to
	// slow down and the rest is not answered.
	Intake IntakeLimit
	// Hold is how long an update waits in its chat's inbox for earlier ones
	// that went to another process (default 100ms).
	Hold time.Duration
	// Retention: the scheduler erases journeys with no activity for this
	// long (0: never).
	Retention time.Duration
	// NameCache bounds the usernames this process remembers having indexed
	// (state.address_cache; default 50000). A forgotten one is indexed
	// again with its customer's next commit, at no extra round trip.
	NameCache int
	// Figures counts what the journeys do for the marketers' figures, into
	// Metrics' daily stats (default: days in the stats' zone, steps
	// abandoned after insight.DefaultAbandonAfter).
	Figures *insight.Recorder
	// Experiments counts the experiments' exposures and conversions that
	// commits report (insight.ExperimentCounter; nil: not counted).
	Experiments ExperimentRecorder
}

// ExperimentRecorder counts what the engine reports of experiments, after
// the commit that made it so.
type ExperimentRecorder interface {
	Record(conversations.ExperimentHit)
}

// IntakeLimit is the per-chat inbound limit.
type IntakeLimit struct {
	PerMinute, Burst int
}

// Bot is the runtime. Safe for concurrent use.
type Bot struct {
	store       *journey.Store
	engine      *conversations.Engine
	log         *slog.Logger
	now         func() time.Time
	staff       Staff
	llm         Personalizer
	orders      OrderLookup
	metrics     *Metrics
	router      IntentRouter
	lease       time.Duration
	batch       int
	mu          sync.RWMutex
	channels    map[string]channels.Sender
	order       []string // channel preference for proactive messages
	locks       keyedLocks
	linkKeys    keys.Set
	usernames   *lru.Cache[string, struct{}] // "channel:username:id" already indexed by this process
	failing     *lru.Cache[string, int]      // inbox updates that failed, and how often
	sender      *delivery.Sender
	background  bool
	intake      IntakeLimit
	hold        time.Duration
	intakeWake  chan struct{}
	retention   time.Duration
	experiments ExperimentRecorder
	figures     *insight.Recorder
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
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Intake.PerMinute <= 0 {
		o.Intake.PerMinute = 60
	}
	if o.Intake.Burst <= 0 {
		o.Intake.Burst = 20
	}
	if o.Hold <= 0 {
		o.Hold = 100 * time.Millisecond
	}
	if o.Figures == nil {
		zone := time.UTC
		if o.Metrics.stats != nil {
			zone = o.Metrics.stats.Zone()
		}
		o.Figures = insight.NewRecorder(zone, 0)
	}
	b := &Bot{
		store: o.Store, engine: o.Engine, log: o.Log, now: o.Now, staff: o.Staff, llm: o.LLM,
		orders: o.Orders, metrics: o.Metrics, lease: o.Lease, batch: o.Batch, channels: map[string]channels.Sender{}, router: o.Router,
		background: o.Background, intake: o.Intake, hold: o.Hold, intakeWake: make(chan struct{}, 1),
		retention: o.Retention, figures: o.Figures, experiments: o.Experiments,
	}
	if o.NameCache <= 0 {
		o.NameCache = 50000
	}
	b.usernames, _ = lru.New[string, struct{}](o.NameCache)
	b.failing, _ = lru.New[string, int](10000)
	b.sender = delivery.New(delivery.Options{
		Store: o.Store, Log: o.Log, Now: o.Now, Limiter: o.Limiter, MaxAge: o.MaxAge,
		Prepare: b.prepare, Sent: b.sent, Failed: b.failed, Registerer: o.Metrics.Registry,
	})
	return b
}

// AddChannel registers a channel for sending, within limits. Channels added
// first are preferred for proactive messages.
func (b *Bot) AddChannel(c channels.Sender, limits ...delivery.Limits) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.channels[c.Name()] = c
	b.order = append(b.order, c.Name())
	var l delivery.Limits
	if len(limits) > 0 {
		l = limits[0]
	}
	b.sender.AddChannel(c, l)
}

// SetBackground switches delivery to the senders (RunSenders) or back to
// sending in line (see Options.Background). Call it before the bot handles
// anything.
func (b *Bot) SetBackground(on bool) { b.mu.Lock(); b.background = on; b.mu.Unlock() }

// RunSenders delivers the outboxes until ctx ends (Options.Background).
func (b *Bot) RunSenders(ctx context.Context) { b.sender.Run(ctx) }

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
// version check covers other processes), so concurrent inputs of one
// customer do not spin on conflicting commits.
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

// CustomerID returns the customer linked to a channel address; an address
// not linked to a store customer is a customer of its own ("telegram:42").
func (b *Bot) CustomerID(ctx context.Context, channel, address string) (string, error) {
	id, err := b.store.ResolveChat(ctx, channel, address, b.now())
	if err != nil || id != "" {
		return id, err
	}
	return channel + ":" + address, nil
}

// deliver has what commits queued sent: by the senders (Background), or here
// and now. It returns the first message that failed for good when sending
// here (staff want to know their reply did not arrive).
func (b *Bot) deliver(ctx context.Context) error {
	b.mu.RLock()
	background := b.background
	b.mu.RUnlock()
	if background {
		b.sender.Notify()
		return nil
	}
	return b.sender.Pump(ctx)
}
