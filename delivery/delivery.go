// Package delivery sends what the journey commits put in the customers'
// outboxes. It sits between the runtime (which commits) and the channels
// (which talk to the platforms):
//
//	commit ─▶ outbox (Redis) ─▶ Sender: claim with a lease ─▶ rate limits ─▶ channel.Send ─▶ ack
//
// A Sender claims customers whose outbox is ready, sends their messages in
// order, and removes each one only after the channel took it. Temporary
// failures (429, 5xx, the network) are retried with backoff until the message
// is MaxAge old; permanent ones (the customer blocked the bot, the platform
// refuses the message) end at once. A sender that dies leaves its customers
// to another sender when the lease ends.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"journeybot/channels"
	"journeybot/journey"
)

// RateLimiter spaces sends under a name across processes (ratelimit.Limiter).
type RateLimiter interface {
	Wait(ctx context.Context, name string, perSecond float64) error
}

// Limits are a channel's sending limits.
type Limits struct {
	// PerSecond is the most messages per second to the channel overall,
	// shared by every process (0: no limit).
	PerSecond float64
	// PerChat is the least time between two messages to one chat.
	PerChat time.Duration
}

// Options build a Sender. Store is required.
type Options struct {
	Store *journey.Store
	Log   *slog.Logger
	Now   func() time.Time
	// Limiter enforces Limits.PerSecond; nil sends without an overall rate.
	Limiter RateLimiter
	// MaxAge is how long a message is retried before it is dropped (24h).
	MaxAge time.Duration
	// Lease is how long a claimed outbox is reserved (15s): a dead sender's
	// customers are sent by another within it. A sender works on one
	// customer for at most a third of it, and gives each call to the platform
	// a third, so a live sender never outlasts its lease.
	Lease time.Duration
	// Concurrency is how many customers one sender works on at once (128).
	Concurrency int
	// Poll is how often it looks for outboxes other processes filled or
	// that are due for a retry (100ms); work of its own process wakes it at once.
	Poll time.Duration
	// Prepare returns the text to send for m (a model's rephrase); nil sends m.Text.
	Prepare func(ctx context.Context, customer string, m journey.Outgoing) string
	// Sent hears of a message the channel took, and of the text sent (m.Text
	// or what Prepare returned).
	Sent func(ctx context.Context, customer string, m journey.Outgoing, text string)
	// Failed hears of a message that will never be sent, and why.
	Failed func(ctx context.Context, customer string, m journey.Outgoing, err error)
	// Registerer takes the sender's metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// Sender drains outboxes. Safe for concurrent use.
type Sender struct {
	o       Options
	mu      sync.RWMutex
	chans   map[string]channels.Sender
	limits  map[string]Limits
	wake    chan struct{}
	metrics metrics
	// run is the running Run's state, for the outboxes commits hand it.
	run struct {
		sync.Mutex
		ctx   context.Context // nil: not running
		slots chan struct{}
		wg    *sync.WaitGroup
	}
	// handed counts hand-overs whose commit's Notify has not come yet:
	// that Notify need not wake Run to claim what it already has.
	handed atomic.Int64
}

type metrics struct {
	sent, retries *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	lag           *prometheus.HistogramVec
}

// New returns a sender; nothing is sent until Run or Pump.
func New(o Options) *Sender {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 128
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	s := &Sender{o: o, chans: map[string]channels.Sender{}, limits: map[string]Limits{}, wake: make(chan struct{}, 1)}
	s.metrics = metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_outbox_sent_total",
			Help: "Outbox messages the channel took."}, []string{"channel"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_outbox_retries_total",
			Help: "Send attempts that failed for a while (429, 5xx, network) and are retried."}, []string{"channel"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_outbox_dropped_total",
			Help: "Outbox messages given up: unreachable (blocked the bot), rejected (400), max_age, no_channel."}, []string{"channel", "reason"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "journeybot_outbox_lag_seconds",
			Help: "Time from the commit of a message to the channel taking it.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}, []string{"channel"}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.metrics.sent, s.metrics.retries, s.metrics.dropped, s.metrics.lag)
	}
	return s
}

// AddChannel lets the sender deliver on c, within limits.
func (s *Sender) AddChannel(c channels.Sender, l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chans[c.Name()] = c
	s.limits[c.Name()] = l
}

func (s *Sender) channel(name string) (channels.Sender, Limits) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.chans[name], s.limits[name]
}

// Notify tells a running sender that an outbox of this process got messages.
func (s *Sender) Notify() {
	for {
		n := s.handed.Load()
		if n <= 0 {
			break
		}
		if s.handed.CompareAndSwap(n, n-1) {
			return // the commit handed its outbox over (Handoff)
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends. When it ends, the sends in flight finish (their
// call to the platform is not cut), and the leases of customers not worked on
// yet are given back, so another process or the next start sends them.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, s.o.Concurrency)
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	s.run.Lock()
	s.run.ctx, s.run.slots, s.run.wg = ctx, slots, &wg
	s.run.Unlock()
	s.o.Store.SetHandoff(s.take, s.o.Lease, s.o.Now)
	defer func() {
		s.o.Store.SetHandoff(nil, 0, nil)
		s.run.Lock()
		s.run.ctx = nil
		s.run.Unlock()
		wg.Wait()
	}()
	for ctx.Err() == nil {
		free := s.o.Concurrency - len(slots)
		if free > 0 {
			leases, err := s.o.Store.ClaimOutboxes(ctx, s.o.Now(), s.o.Lease, free)
			if err != nil && ctx.Err() == nil {
				s.o.Log.Warn("outbox: redis unavailable, retrying", "err", err)
			}
			for _, l := range leases {
				slots <- struct{}{}
				s.run.Lock()
				wg.Add(1)
				s.run.Unlock()
				go func() {
					defer func() { <-slots; wg.Done() }()
					s.work(ctx, l, nil)
				}()
			}
			if len(leases) == free {
				continue // more may be ready
			}
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
	}
}

// take is the Handoff of a running sender: it works on the outbox a commit
// leased to it, when it has a free slot.
func (s *Sender) take(l journey.Lease, msgs []journey.Pending, last map[string]int64) bool {
	s.run.Lock()
	defer s.run.Unlock()
	ctx := s.run.ctx
	if ctx == nil || ctx.Err() != nil {
		return false
	}
	select {
	case s.run.slots <- struct{}{}:
	default:
		return false // busy: a claim takes it
	}
	slots, wg := s.run.slots, s.run.wg
	wg.Add(1)
	s.handed.Add(1)
	go func() {
		defer func() { <-slots; wg.Done() }()
		s.work(ctx, l, &preload{msgs: msgs, last: last})
	}()
	return true
}

// preload is what a hand-over gave: the outbox (nil: read it) and when the
// chat was last sent to.
type preload struct {
	msgs []journey.Pending
	last map[string]int64
}

// Pump sends, in this goroutine, every message ready now, and returns the
// first error a message ended with for good (ErrUnreachable, ErrRejected).
// It is how a process without a running sender delivers (the terminal chat,
// script tests); temporary failures stay in the outbox.
func (s *Sender) Pump(ctx context.Context) error {
	var first error
	for {
		leases, err := s.o.Store.ClaimOutboxes(ctx, s.o.Now(), s.o.Lease, 100)
		if err != nil {
			return err
		}
		for _, l := range leases {
			if err := s.work(ctx, l, nil); err != nil && first == nil {
				first = err
			}
		}
		// Claim again until nothing is ready: a message committed while
		// this call held its customer's lease made the customer ready again
		// at the release, and the committer's own call found it leased.
		if len(leases) == 0 {
			return first
		}
	}
}

// work sends a claimed customer's messages in order, then gives the lease
// back with the time the outbox should be looked at again.
func (s *Sender) work(ctx context.Context, l journey.Lease, pre *preload) error {
	// The calls in flight finish even when ctx ends: a message the platform
	// took must be acknowledged here, or it would be sent twice.
	wctx := context.WithoutCancel(ctx)
	start := s.o.Now()
	next, released, failed := s.drain(ctx, wctx, l, start, pre)
	if released {
		return failed
	}
	if err := s.o.Store.ReleaseOutbox(wctx, l, next); err != nil {
		s.o.Log.Warn("outbox: release failed; the lease runs out instead", "customer", l.ID, "err", err)
	}
	return failed
}

// drain returns when the outbox of l is empty (zero time), or when to try
// again: a retry's backoff, the chat's next slot, or now after its turn.
// released says the lease was already given back with the last message.
func (s *Sender) drain(ctx, wctx context.Context, l journey.Lease, start time.Time, pre *preload) (next time.Time, released bool, failed error) {
	turn := s.o.Lease / 3
	// Contexts need the real clock: s.o.Now may be a simulated one.
	turnEnds := time.Now().Add(turn)
	const batch = 16
	// A chat that turned out unreachable (blocked the bot) gets nothing
	// more in this turn: its other messages are dropped without a try.
	blocked := map[string]error{}
	var last map[string]int64
	if pre != nil {
		last = pre.last
	}
	for {
		var msgs []journey.Pending
		var err error
		if pre != nil && pre.msgs != nil && len(pre.msgs) < batch {
			msgs = pre.msgs // the commit's own, all the outbox held
		} else {
			var l2 map[string]int64
			msgs, l2, err = s.o.Store.Outbox(wctx, l.ID, batch)
			if err == nil {
				last = l2
			}
		}
		pre = nil
		if err != nil {
			s.o.Log.Warn("outbox: read failed", "customer", l.ID, "err", err)
			return s.o.Now().Add(time.Second), false, nil
		}
		if len(msgs) == 0 {
			return time.Time{}, false, failed
		}
		for i, p := range msgs {
			// The last message of a short read empties the outbox as far as
			// this sender knows: its ack and the release go in one round
			// trip (work committed since the claim marked the outbox, and the
			// release keeps that).
			final := len(msgs) < batch && i == len(msgs)-1
			now := s.o.Now()
			if ctx.Err() != nil || now.Sub(start) > turn {
				return now, released, failed
			}
			if err := blocked[p.Channel+"\x00"+p.Address]; err != nil {
				if !s.drop(wctx, l.ID, p, "unreachable", err, false) {
					return now.Add(time.Second), released, failed
				}
				continue
			}
			ch, lim := s.channel(p.Channel)
			if ch == nil {
				if p.Channel != "" && time.Duration(now.UnixMilli()-p.At)*time.Millisecond < s.o.MaxAge {
					// A channel another process has and this one not (yet).
					return now.Add(5 * time.Second), released, failed
				}
				if !s.drop(wctx, l.ID, p, "no_channel", errors.New("no such channel: "+p.Channel), true) {
					return now.Add(time.Second), released, failed
				}
				continue
			}
			if age := time.Duration(now.UnixMilli()-p.At) * time.Millisecond; age > s.o.MaxAge {
				if !s.drop(wctx, l.ID, p, "max_age", errors.New("not sent within send.max_age"), true) {
					return now.Add(time.Second), released, failed
				}
				continue
			}
			if lim.PerChat > 0 {
				// +1ms: the last send is kept in whole milliseconds.
				if wait := time.UnixMilli(last[p.Channel] + 1).Add(lim.PerChat).Sub(now); wait > 0 {
					if wait > 2*time.Second {
						return now.Add(wait), released, failed
					}
					if !sleep(ctx, wait) {
						return s.o.Now(), released, failed
					}
				}
			}
			if s.o.Limiter != nil && lim.PerSecond > 0 {
				// The wait for the shared rate is bounded by this turn, so the
				// lease never runs out while the customer is held: another
				// sender would send the same message.
				lctx, cancel := context.WithDeadline(ctx, turnEnds)
				err := s.o.Limiter.Wait(lctx, p.Channel, lim.PerSecond)
				cancel()
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
						return s.o.Now(), released, failed // busy: let others have the turn
					}
					s.o.Log.Warn("outbox: rate limiter unavailable", "err", err)
					return s.o.Now().Add(time.Second), released, failed
				}
			}
			// The model's rephrase gets what is left of the turn, and the call
			// to the platform goes only while a whole call fits in the lease:
			// past it, another sender may already have this message.
			pctx, cancel := context.WithDeadline(wctx, turnEnds)
			text := s.text(pctx, l.ID, p)
			cancel()
			if time.UnixMilli(l.Until).Sub(s.o.Now()) < s.o.Lease/3+s.o.Lease/10 {
				return s.o.Now(), released, failed
			}
			err := s.send(wctx, ch, p, text)
			now = s.o.Now()
			switch {
			case err == nil:
				var ok bool
				var aerr error
				if final {
					ok, aerr = s.o.Store.AckAndRelease(wctx, l, p, now)
				} else {
					ok, aerr = s.o.Store.Ack(wctx, l.ID, p, true, now)
				}
				if final && aerr == nil {
					released = true
				}
				if aerr != nil || !ok {
					// Sent but not acknowledged: it may go out again (the
					// window the README documents). If the lease went back
					// with it, queue the outbox again so what is left is
					// not stranded.
					s.o.Log.Warn("outbox: sent message not acknowledged", "customer", l.ID, "message", p.ID, "err", aerr)
					if released {
						if err := s.o.Store.MarkOutbox(wctx, l.ID, now.Add(time.Second)); err != nil {
							s.o.Log.Warn("outbox: could not queue again; the customer's next message will", "customer", l.ID, "err", err)
						}
					}
					return now.Add(time.Second), released, failed
				}
				s.metrics.sent.WithLabelValues(p.Channel).Inc()
				if s.o.Sent != nil {
					s.o.Sent(wctx, l.ID, p.Outgoing, text)
				}
				s.metrics.lag.WithLabelValues(p.Channel).Observe(float64(now.UnixMilli()-p.At) / 1000)
				last[p.Channel] = now.UnixMilli()
				if released {
					return time.Time{}, true, failed
				}
			case errors.Is(err, channels.ErrUnreachable):
				blocked[p.Channel+"\x00"+p.Address] = err
				if failed == nil {
					failed = err
				}
				if !s.drop(wctx, l.ID, p, "unreachable", err, true) {
					return now.Add(time.Second), released, failed
				}
			case errors.Is(err, channels.ErrRejected):
				if failed == nil {
					failed = err
				}
				if !s.drop(wctx, l.ID, p, "rejected", err, true) {
					return now.Add(time.Second), released, failed
				}
			default:
				s.metrics.retries.WithLabelValues(p.Channel).Inc()
				wait := backoff(time.Duration(now.UnixMilli()-p.At) * time.Millisecond)
				var re *channels.RetryError
				if errors.As(err, &re) && re.After > wait {
					wait = re.After
				}
				s.o.Log.Warn("send failed; retrying", "customer", l.ID, "channel", p.Channel, "in", wait, "err", err)
				return now.Add(wait), released, failed
			}
		}
	}
}

// text is what to send for p: the model's, when Prepare is set and answers in time.
func (s *Sender) text(ctx context.Context, customer string, p journey.Pending) string {
	if s.o.Prepare == nil {
		return p.Text
	}
	return s.o.Prepare(ctx, customer, p.Outgoing)
}

func (s *Sender) send(ctx context.Context, ch channels.Sender, p journey.Pending, text string) error {
	out := channels.Outbound{Channel: p.Channel, Address: p.Address, Text: text, Proactive: p.Proactive, Language: p.Lang}
	if t := p.Template; t != nil {
		out.Template = &channels.Template{Name: t.Name, Language: t.Language, Params: t.Params}
	}
	for _, b := range p.Buttons {
		out.Buttons = append(out.Buttons, channels.Button{Label: b.Label, Data: b.Data})
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.Lease/3)
	defer cancel()
	return ch.Send(cctx, out)
}

// drop removes p from the outbox for good, counted under reason; notify
// tells Failed. It reports false when Redis did not take the removal, and the
// caller must stop: sending what comes after would leave p at the head.
func (s *Sender) drop(ctx context.Context, customer string, p journey.Pending, reason string, err error, notify bool) bool {
	if _, aerr := s.o.Store.Ack(ctx, customer, p, false, s.o.Now()); aerr != nil {
		s.o.Log.Warn("outbox: could not drop message", "customer", customer, "err", aerr)
		return false
	}
	s.metrics.dropped.WithLabelValues(p.Channel, reason).Inc()
	level := slog.LevelWarn
	if reason == "unreachable" {
		level = slog.LevelInfo
	}
	s.o.Log.Log(ctx, level, "message dropped", "customer", customer, "channel", p.Channel, "reason", reason, "err", err)
	if notify && s.o.Failed != nil {
		s.o.Failed(ctx, customer, p.Outgoing, err)
	}
	return true
}

// backoff grows with the time a message has waited: quick retries for a
// blip, a few minutes apart through a long outage (with jitter, so a queue
// of customers does not retry in one burst).
func backoff(age time.Duration) time.Duration {
	d := min(max(age/4, 500*time.Millisecond), 5*time.Minute)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
