package journey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outgoing is one message waiting in a customer's outbox. The commit that
// decides to send it writes it, in the same atomic update as the journey; a
// sender removes it once the channel took it.
type Outgoing struct {
	// ID is unique per message; a redelivered inbound never makes a new one.
	ID      string   `json:"id"`
	Channel string   `json:"ch"`
	Address string   `json:"to"`
	Text    string   `json:"tx,omitempty"`
	Buttons []Button `json:"b,omitempty"`
	// Proactive is true for messages the bot starts (nudges), false for replies.
	Proactive bool `json:"pr,omitempty"`
	// Personalize asks the model to rephrase Text (in Style) at send time.
	Personalize bool   `json:"ps,omitempty"`
	Style       string `json:"sy,omitempty"`
	// Question is the customer's text nothing matched: the model may answer
	// it instead of Text (the scripts' fallback) when the stage allows.
	Question string `json:"q,omitempty"`
	// Origin says who asked for the message ("staff" for staff replies), so
	// a failure can be reported to them.
	Origin string `json:"o,omitempty"`
	// At is when the message was committed (Unix ms).
	At int64 `json:"at"`
	// Lang is the customer's language when it was committed.
	Lang string `json:"lg,omitempty"`
	// Template, when set, is what the channel sends instead of Text and
	// Buttons (outside a service window); Text stays for the history.
	Template *Template `json:"tp,omitempty"`
}

// Template is an approved message template of a channel (WhatsApp's).
type Template struct {
	Name     string   `json:"n"`
	Language string   `json:"l,omitempty"`
	Params   []string `json:"p,omitempty"`
}

// Button is a quick reply of an outgoing message.
type Button struct {
	Label string `json:"l"`
	Data  string `json:"d"`
}

// NewMessageID returns a fresh outbox message id.
func NewMessageID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Pending is an outbox message as a sender holds it: Raw is its stored form,
// which the acknowledgement compares so only the head it sent is removed.
type Pending struct {
	Outgoing
	Raw string
}

func (s *Store) outKey(id string) string  { return s.jkey(id) + ":out" }
func (s *Store) metaKey(id string) string { return s.jkey(id) + ":om" }

// Outbox lists a customer's pending messages, oldest first (at most n), and
// when the customer's chat on each channel was last sent to (Unix ms), for
// the per-chat rate. One round trip.
func (s *Store) Outbox(ctx context.Context, id string, n int) ([]Pending, map[string]int64, error) {
	pipe := s.rdb.Pipeline()
	lr := pipe.LRange(ctx, s.outKey(id), 0, int64(n-1))
	meta := pipe.HGetAll(ctx, s.metaKey(id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("outbox of %s: %w", id, err)
	}
	var out []Pending
	for _, raw := range lr.Val() {
		p := Pending{Raw: raw}
		if err := json.Unmarshal([]byte(raw), &p.Outgoing); err != nil {
			// Never block the queue on a message that cannot be read.
			p.Outgoing = Outgoing{ID: "unreadable"}
		}
		out = append(out, p)
	}
	last := map[string]int64{}
	for ch, v := range meta.Val() {
		last[ch], _ = strconv.ParseInt(v, 10, 64)
	}
	return out, last, nil
}

// ackScript removes the head of the outbox when it is the message sent, and
// records when the chat was last sent to. ARGV raw, channel, now (ms), sent (1/0).
var ackScript = redis.NewScript(`
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], 60000)
end
return 1
`)

// ackReleaseScript is ackScript and then releaseScript (with no work left)
// in one call. KEYS outbox, pacing record, the queue shard's ready, leases,
// dirty. ARGV raw, channel, now (ms), id, lease.
var ackReleaseScript = redis.NewScript(`
local acked = 0
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then
  redis.call('LPOP', KEYS[1])
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], 60000)
  acked = 1
end
if redis.call('HGET', KEYS[4], ARGV[4]) == ARGV[5] then
  redis.call('HDEL', KEYS[4], ARGV[4])
  local dirty = redis.call('ZSCORE', KEYS[5], ARGV[4])
  if dirty then
    redis.call('ZREM', KEYS[5], ARGV[4])
    redis.call('ZADD', KEYS[3], dirty, ARGV[4])
  else
    redis.call('ZREM', KEYS[3], ARGV[4])
  end
end
return acked
`)

// Ack removes a message from the head of the customer's outbox; sent says
// whether it reached the channel (it counts for the chat's rate) or was
// dropped. It reports false when the head was not that message (another
// sender took over after this one's lease ran out).
func (s *Store) Ack(ctx context.Context, id string, p Pending, sent bool, now time.Time) (bool, error) {
	flag := "0"
	if sent {
		flag = "1"
	}
	n, err := ackScript.Run(ctx, s.rdb, []string{s.outKey(id), s.metaKey(id)}, p.Raw, p.Channel, now.UnixMilli(), flag).Int()
	if err != nil {
		return false, fmt.Errorf("ack outbox message of %s: %w", id, err)
	}
	return n == 1, nil
}

// AckAndRelease acknowledges the message the sender believes is the last of
// the outbox and gives the lease back, in one round trip. Messages committed
// since the claim are not lost: their commit marked the outbox, and the
// release keeps it ready for them.
func (s *Store) AckAndRelease(ctx context.Context, l Lease, p Pending, now time.Time) (bool, error) {
	if !s.cluster {
		// One script call on a single node, where the keys may be in
		// different slots.
		keys := append([]string{s.outKey(l.ID), s.metaKey(l.ID)}, s.outq.of(l.ID).keys()...)
		n, err := ackReleaseScript.Run(ctx, s.rdb, keys, p.Raw, p.Channel, now.UnixMilli(), l.ID, strconv.FormatInt(l.Until, 10)).Int()
		if err != nil {
			return false, fmt.Errorf("ack outbox message of %s: %w", l.ID, err)
		}
		return n == 1, nil
	}
	pipe := s.rdb.Pipeline()
	ack := ackScript.EvalSha(ctx, pipe, []string{s.outKey(l.ID), s.metaKey(l.ID)}, p.Raw, p.Channel, now.UnixMilli(), "1")
	releaseScript.EvalSha(ctx, pipe, s.outq.of(l.ID).keys(), l.ID, strconv.FormatInt(l.Until, 10), 0)
	_, err := pipe.Exec(ctx)
	if isNoScript(err) {
		// Redis forgot the scripts: the same two steps, each with its fallback.
		ok, err := s.Ack(ctx, l.ID, p, true, now)
		if err != nil {
			return false, err
		}
		return ok, s.ReleaseOutbox(ctx, l, time.Time{})
	}
	if err != nil {
		return false, fmt.Errorf("ack outbox message of %s: %w", l.ID, err)
	}
	n, _ := ack.Int()
	return n == 1, nil
}

// ClaimOutboxes leases up to limit customers whose outbox is ready at now.
func (s *Store) ClaimOutboxes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Lease, error) {
	return s.claimLeases(ctx, s.outq, now, lease, limit)
}

// ReleaseOutbox ends a lease on a customer's outbox: next is when it should
// be looked at again (zero: it is empty).
func (s *Store) ReleaseOutbox(ctx context.Context, l Lease, next time.Time) error {
	return s.releaseLease(ctx, s.outq, l, next)
}

// MarkOutbox makes a customer's outbox ready at once (a repair after a
// failed commit round trip, or a redelivery that found messages pending).
func (s *Store) MarkOutbox(ctx context.Context, id string, now time.Time) error {
	return s.evalMark(ctx, s.outq, id, now.UnixMilli())
}

// OutboxBacklog counts the customers with messages waiting to be sent.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, error) {
	return s.count(ctx, s.outq)
}

func (s *Store) evalMark(ctx context.Context, q *queue, id string, atMs int64) error {
	w := q.of(id)
	err := markScript.Run(ctx, s.rdb, w.keys(), id, atMs).Err()
	if err != nil {
		return fmt.Errorf("queue %s in %s: %w", id, w.ready, err)
	}
	return nil
}

// Handoff takes a customer's outbox straight from the commit that filled it:
// the commit leased it to this process's sender (the lease a claim would
// have taken), so the sender need not claim it nor read it back. msgs are
// the outbox's messages when the commit's were all it held (nil: read
// them), last when the chat was last sent to on each channel. It answers
// false when it cannot take it now; the lease is then given back at once,
// for any sender to claim.
type Handoff func(l Lease, msgs []Pending, last map[string]int64) bool

type handoff struct {
	fn    Handoff
	lease time.Duration
	now   func() time.Time
}

// SetHandoff makes commits hand the outboxes they fill to fn, leased for
// lease by now's clock, when nobody holds them (nil fn: they only mark the
// outbox ready, for a claim). A running sender sets it and clears it when
// it stops.
func (s *Store) SetHandoff(fn Handoff, lease time.Duration, now func() time.Time) {
	if fn == nil {
		s.hand.Store(nil)
		return
	}
	s.hand.Store(&handoff{fn: fn, lease: lease, now: now})
}

// handScript: ARGV id, now, leaseUntil. Leases the owner to the caller
// unless someone holds it (then it is only marked dirty, like markScript).
var handScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[3], 'LT', ARGV[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
`)

// handOver gives the sender the outbox a commit leased to it (see Handoff).
func (s *Store) handOver(ctx context.Context, h *handoff, l Lease, raws []string, queued int64, om []any) {
	var msgs []Pending
	if queued == int64(len(raws)) {
		msgs = make([]Pending, 0, len(raws))
		for _, raw := range raws {
			p := Pending{Raw: raw}
			if err := json.Unmarshal([]byte(raw), &p.Outgoing); err != nil {
				msgs = nil // read them the usual way
				break
			}
			msgs = append(msgs, p)
		}
	}
	last := make(map[string]int64, len(om)/2)
	for i := 0; i+1 < len(om); i += 2 {
		ch, _ := om[i].(string)
		v, _ := om[i+1].(string)
		last[ch], _ = strconv.ParseInt(v, 10, 64)
	}
	if h.fn(l, msgs, last) {
		return
	}
	if err := s.ReleaseOutbox(context.WithoutCancel(ctx), l, h.now()); err != nil {
		// The lease runs out instead, and a claim takes it then.
		return
	}
}
