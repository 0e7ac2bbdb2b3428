// Package journey holds the customer journey model and its Redis store.
//
// A Journey is everything the bot knows about one customer: stage, profile,
// orders, the position in the conversation, pending timers, counters and
// answers. It is stored as one small JSON document per customer, and every
// change goes through Store.Update, which is atomic per customer.
package journey

import (
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Journey is one customer's state. Times are Unix seconds to keep the
// stored document small (the README gives the measured size).
type Journey struct {
	ID      string  `json:"id"`
	Stage   string  `json:"st,omitempty"`
	Profile Profile `json:"p"`
	Orders  []Order `json:"o,omitempty"`
	Conv    Conv    `json:"c"`
	Timers  []Timer `json:"t,omitempty"`
	// Answers holds captured answers and survey scores by name (nps, csat, ...).
	Answers  map[string]string `json:"a,omitempty"`
	Counters Counters          `json:"n"`
	Case     *Case             `json:"k,omitempty"`
	// Fired remembers idempotency keys of proactive sends (nudges, offers) so
	// the same nudge never goes out twice; capped by the store.
	Fired []string `json:"f,omitempty"`
	// Created, LastInbound, LastProactive and LastPurchase are Unix seconds.
	Created       int64 `json:"cr,omitempty"`
	LastInbound   int64 `json:"li,omitempty"`
	LastProactive int64 `json:"lp,omitempty"`
	LastPurchase  int64 `json:"lb,omitempty"`
	StageSince    int64 `json:"ss,omitempty"`
	// LastEvent is the time of the newest commerce event applied; older
	// ones arriving later move nothing.
	LastEvent int64 `json:"le,omitempty"`
	// Intake is the per-chat inbound limit's state (GCRA): the theoretical
	// arrival time of the next message, Unix ms; Flooded is set once the
	// customer was asked to slow down, until the limit has fully recovered.
	Intake  int64 `json:"it,omitempty"`
	Flooded bool  `json:"fl,omitempty"`
	// Seen is when the customer last wrote on each channel (Unix seconds):
	// a channel's service window (WhatsApp's 24 hours) counts from it.
	Seen map[string]int64 `json:"sn,omitempty"`
	// Merged are the journeys merged into this one (a chat's own journey
	// before the chat was linked): their ids now forward here, and go when
	// this customer is erased.
	Merged []string `json:"mg,omitempty"`
	// Figures is what the marketers' figures remember of this customer
	// (package insight); nil until something counted needs it.
	Figures *Figures `json:"fg,omitempty"`
	// Experiments holds the customer's assignment in each experiment they
	// reached, by experiment id: sticky, and the time conversions count from.
	Experiments map[string]Assignment `json:"x,omitempty"`
}

// Figures is per-customer state the figures need to count each thing once:
// the last nudge (for replies and opt-outs after it) and purchases (for
// repeat purchase, cohorts and CLV). Times are Unix seconds.
type Figures struct {
	NudgeFlow string `json:"nf,omitempty"` // flow of the last proactive message
	Replied   bool   `json:"nr,omitempty"` // the customer answered it (counted once)
	FirstBuy  int64  `json:"fb,omitempty"`
	Buys      int    `json:"nb,omitempty"`
	// BuyDay is the day of the last purchase (days since 1970 in the
	// business's zone), BuyMonth its month (year*12+month-1): a customer
	// counts once per day as a buyer, once per month as retained.
	BuyDay   int32 `json:"bd,omitempty"`
	BuyMonth int32 `json:"bm,omitempty"`
	// Spent is the customer's order total in cents, for CLV by stage.
	Spent int64 `json:"sv,omitempty"`
	// Unstage are the stages of journeys merged into this one that the
	// figures still count (MergeJourney): taken out at the next update.
	Unstage []string `json:"us,omitempty"`
}

// Assignment is a customer's variant in one experiment.
type Assignment struct {
	Variant string `json:"v"`           // a variant's name, or "holdout"
	At      int64  `json:"t"`           // first exposure, Unix seconds
	Won     int64  `json:"c,omitempty"` // when the goal was reached (converted), Unix seconds
}

// Profile is what we know about the person.
type Profile struct {
	Name     string `json:"nm,omitempty"`
	Language string `json:"lg,omitempty"`
	TimeZone string `json:"tz,omitempty"`
	Email    string `json:"em,omitempty"`
	Phone    string `json:"ph,omitempty"`
	// Addresses maps a channel name to this customer's address on it
	// (telegram -> chat id).
	Addresses map[string]string `json:"ad,omitempty"`
	Username  string            `json:"un,omitempty"`
	Points    int               `json:"pt,omitempty"`
	// Fields holds answers captured by ask steps (birthday, size, ...).
	Fields map[string]string `json:"fd,omitempty"`
	// Variant is the A/B group, assigned once.
	Variant     string `json:"ab,omitempty"`
	OptedOut    int64  `json:"oo,omitempty"`
	Unreachable int64  `json:"ur,omitempty"`
	// Paused is set by staff (/journey pause): the bot stays silent.
	Paused bool `json:"ps,omitempty"`
}

// Order is a purchase as the store reported it.
type Order struct {
	ID          string  `json:"id"`
	Status      string  `json:"s,omitempty"`
	Items       []Item  `json:"i,omitempty"`
	Total       float64 `json:"t,omitempty"`
	Currency    string  `json:"cu,omitempty"`
	TrackingURL string  `json:"tr,omitempty"`
	Email       string  `json:"em,omitempty"`
	Phone       string  `json:"ph,omitempty"`
	Created     int64   `json:"cr,omitempty"`
	Updated     int64   `json:"up,omitempty"`
}

// Item is one line of an order.
type Item struct {
	Name  string  `json:"n"`
	SKU   string  `json:"k,omitempty"`
	Qty   int     `json:"q,omitempty"`
	Price float64 `json:"p,omitempty"`
}

// Conv is the position in the conversation in progress.
type Conv struct {
	Flow string `json:"f,omitempty"`
	Step string `json:"s,omitempty"`
	// Waiting is true when the step asked something and waits for the answer.
	Waiting bool `json:"w,omitempty"`
	// Retries counts bad answers to the current question.
	Retries int `json:"r,omitempty"`
	// Misses counts consecutive messages the bot did not understand.
	Misses int `json:"m,omitempty"`
	// Since is when the step began waiting (Unix seconds): an answer later
	// than insight.abandon_after counts the step as abandoned.
	Since int64 `json:"ws,omitempty"`
}

// Timer is a scheduled continuation: a wait step, a time trigger, an offer expiry.
type Timer struct {
	// Key identifies the timer; it is also the idempotency key of what it sends.
	Key  string `json:"k"`
	Due  int64  `json:"d"`
	Flow string `json:"f"`
	Step string `json:"s,omitempty"`
	// Stage, when set, cancels the timer if the customer leaves that stage.
	Stage string `json:"st,omitempty"`
}

// Counters count proactive messages for frequency caps.
type Counters struct {
	Day      int32 `json:"d,omitempty"` // days since epoch of SentDay
	SentDay  int   `json:"sd,omitempty"`
	Week     int32 `json:"w,omitempty"` // weeks since epoch of SentWeek
	SentWeek int   `json:"sw,omitempty"`
	Inbound  int   `json:"in,omitempty"`
	Outbound int   `json:"out,omitempty"`
}

// Case is an open support case (escalation to staff).
type Case struct {
	Reason   string `json:"r"`
	Opened   int64  `json:"o"`
	Ref      string `json:"ref,omitempty"` // channel reference (Slack ts)
	Claimed  int64  `json:"c,omitempty"`
	Staff    string `json:"st,omitempty"`
	StaffID  string `json:"sid,omitempty"`
	Reraised int64  `json:"rr,omitempty"`
}

// New returns an empty journey for id, created at now.
func New(id string, now time.Time) *Journey {
	return &Journey{ID: id, Created: now.Unix()}
}

// Clone returns a deep copy, so a failed or conflicting update never leaks
// into the cached original.
func (j *Journey) Clone() *Journey {
	c := *j
	c.Profile.Addresses = cloneMap(j.Profile.Addresses)
	c.Profile.Fields = cloneMap(j.Profile.Fields)
	c.Answers = cloneMap(j.Answers)
	c.Orders = make([]Order, len(j.Orders))
	for i, o := range j.Orders {
		o.Items = slices.Clone(o.Items)
		c.Orders[i] = o
	}
	if j.Orders == nil {
		c.Orders = nil
	}
	c.Timers = slices.Clone(j.Timers)
	c.Seen = maps.Clone(j.Seen)
	c.Fired = slices.Clone(j.Fired)
	c.Merged = slices.Clone(j.Merged)
	c.Experiments = maps.Clone(j.Experiments)
	if j.Case != nil {
		k := *j.Case
		c.Case = &k
	}
	if j.Figures != nil {
		f := *j.Figures
		f.Unstage = slices.Clone(f.Unstage)
		c.Figures = &f
	}
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Order returns the order with id, or nil.
func (j *Journey) Order(id string) *Order {
	for i := range j.Orders {
		if j.Orders[i].ID == id {
			return &j.Orders[i]
		}
	}
	return nil
}

// LatestOrder returns the most recently created order, or nil.
func (j *Journey) LatestOrder() *Order {
	var best *Order
	for i := range j.Orders {
		if best == nil || j.Orders[i].Created >= best.Created {
			best = &j.Orders[i]
		}
	}
	return best
}

// MaxOrders is how many orders a journey keeps; older ones are dropped so
// the document stays small.
const MaxOrders = 10

// UpsertOrder replaces the order with the same id or appends it, keeping the
// newest MaxOrders.
func (j *Journey) UpsertOrder(o Order) {
	if cur := j.Order(o.ID); cur != nil {
		*cur = o
		return
	}
	j.Orders = append(j.Orders, o)
	if len(j.Orders) > MaxOrders {
		slices.SortStableFunc(j.Orders, func(a, b Order) int { return int(a.Created - b.Created) })
		j.Orders = j.Orders[len(j.Orders)-MaxOrders:]
	}
}

// SetTimer adds a timer, replacing one with the same key.
func (j *Journey) SetTimer(t Timer) {
	j.CancelTimers(func(o Timer) bool { return o.Key == t.Key })
	j.Timers = append(j.Timers, t)
}

// CancelTimers removes the timers for which drop returns true.
func (j *Journey) CancelTimers(drop func(Timer) bool) {
	j.Timers = slices.DeleteFunc(j.Timers, drop)
	if len(j.Timers) == 0 {
		j.Timers = nil
	}
}

// NextDue is the earliest timer due time, or 0 without timers.
func (j *Journey) NextDue() int64 {
	var d int64
	for _, t := range j.Timers {
		if d == 0 || t.Due < d {
			d = t.Due
		}
	}
	return d
}

// MaxFired caps the remembered idempotency keys. The timer that fires is
// removed in the same atomic update that records its key, so this is a
// second guard; a short window keeps the journey small.
const MaxFired = 16

// firedID is a short fingerprint of an idempotency key (8 hex digits).
func firedID(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// HasFired reports whether key was already sent.
func (j *Journey) HasFired(key string) bool { return slices.Contains(j.Fired, firedID(key)) }

// MarkFired records key, dropping the oldest beyond MaxFired.
func (j *Journey) MarkFired(key string) {
	if j.HasFired(key) {
		return
	}
	j.Fired = append(j.Fired, firedID(key))
	if len(j.Fired) > MaxFired {
		j.Fired = j.Fired[len(j.Fired)-MaxFired:]
	}
}

// Language is the profile language or the default pt-BR.
func (j *Journey) Language() string {
	if j.Profile.Language == "" {
		return "pt-BR"
	}
	return j.Profile.Language
}

// Reachable reports whether the bot may send proactive messages.
func (j *Journey) Reachable() bool {
	return j.Profile.OptedOut == 0 && j.Profile.Unreachable == 0 && !j.Profile.Paused
}

// HistoryEntry is one line of the conversation history, kept in a capped
// Redis list beside the journey.
type HistoryEntry struct {
	At   int64  `json:"at"`
	From string `json:"from"` // customer, bot, staff, event
	Text string `json:"text"`
	// Msg is the outbox message of a bot line whose text the model may
	// write at send time; Model marks a line the model wrote.
	Msg   string `json:"msg,omitempty"`
	Model bool   `json:"model,omitempty"`
}
