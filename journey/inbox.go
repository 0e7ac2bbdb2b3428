package journey

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The inbox keeps what a chat sent until the bot has handled it: one sorted
// set per chat address, ordered by the channel's sequence (Telegram's
// update_id), so updates of one chat that reach two processes at once are
// still handled in the order the customer sent them. A channel acknowledges
// an update to its platform once it is in the inbox.

func (s *Store) inKey(owner string) string { return s.opt.Prefix + ":{a:" + owner + "}:in" }

// InboxOwner names a chat's inbox: "channel:address".
func InboxOwner(channel, address string) string { return channel + ":" + address }

// InboxItem is one update waiting in a chat's inbox.
type InboxItem struct {
	Seq      int64
	Accepted time.Time // when it was stored
	Payload  []byte
	Raw      string // the stored member, for Done
}

// Accept stores an inbound update (payload, at its sequence) in the chat's
// inbox and queues the chat to be handled after hold, the time updates of one
// chat get to arrive out of order. One round trip. The stored member starts
// with the time of arrival, so updates of one sequence number (WhatsApp's
// seconds) keep the order they came in; an update stored twice is handled
// once (its message id). On a cluster, two round trips (see below).
func (s *Store) Accept(ctx context.Context, owner string, seq int64, payload []byte, now time.Time, hold time.Duration) error {
	at := now.Add(hold).UnixMilli()
	member := fmt.Sprintf("%013d ", now.UnixMilli()) + string(payload)
	for attempt := 0; ; attempt++ {
		var err error
		if s.cluster {
			// The inbox and its queue entry are in different slots, which a
			// cluster writes side by side: the entry must not land before
			// the update it announces (a worker reading the inbox empty in
			// between would release it for good), so they go one after the
			// other. A single node runs a pipeline in order.
			err = s.rdb.ZAddNX(ctx, s.inKey(owner), redis.Z{Score: float64(seq), Member: member}).Err()
			if err == nil {
				err = s.evalMark(ctx, s.inq, owner, at)
			}
		} else {
			pipe := s.rdb.Pipeline()
			pipe.ZAddNX(ctx, s.inKey(owner), redis.Z{Score: float64(seq), Member: member})
			s.inq.mark(ctx, pipe, owner, at)
			_, err = pipe.Exec(ctx)
		}
		if err == nil {
			return nil
		}
		if attempt < 3 && isNoScript(err) {
			if err := s.LoadScripts(ctx); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("accept into inbox of %s: %w", owner, err)
	}
}

// Inbox returns up to n of a chat's waiting updates, in sequence order.
func (s *Store) Inbox(ctx context.Context, owner string, n int) ([]InboxItem, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.inKey(owner), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("inbox of %s: %w", owner, err)
	}
	out := make([]InboxItem, len(zs))
	for i, z := range zs {
		raw := z.Member.(string)
		it := InboxItem{Seq: int64(z.Score), Raw: raw, Payload: []byte(raw)}
		if ms, payload, ok := strings.Cut(raw, " "); ok {
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
				it.Accepted, it.Payload = time.UnixMilli(n), []byte(payload)
			}
		}
		out[i] = it
	}
	return out, nil
}

// Done removes handled updates from the chat's inbox, in one round trip. It
// runs after their journey commits: a crash in between hands them over again,
// and the commits' message ids make the second handling a no-op.
func (s *Store) Done(ctx context.Context, owner string, items ...InboxItem) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.rdb.ZRem(ctx, s.inKey(owner), members(items)...).Err(); err != nil {
		return fmt.Errorf("inbox of %s: remove handled updates: %w", owner, err)
	}
	return nil
}

// DoneAndRelease removes handled updates and ends the lease on the chat's
// inbox (next: when to look again; zero: it looks empty) in one round trip.
// Updates stored since the claim marked the inbox, and the release keeps that.
func (s *Store) DoneAndRelease(ctx context.Context, l Lease, items []InboxItem, next time.Time) error {
	var nextMs int64
	if !next.IsZero() {
		nextMs = max(next.UnixMilli(), 1)
	}
	pipe := s.rdb.Pipeline()
	if len(items) > 0 {
		pipe.ZRem(ctx, s.inKey(l.ID), members(items)...)
	}
	releaseScript.EvalSha(ctx, pipe, s.inq.of(l.ID).keys(), l.ID, strconv.FormatInt(l.Until, 10), nextMs)
	_, err := pipe.Exec(ctx)
	if isNoScript(err) {
		// Redis forgot the scripts: the same two steps, the release with its fallback.
		if err := s.Done(ctx, l.ID, items...); err != nil {
			return err
		}
		return s.ReleaseInbox(ctx, l, next)
	}
	if err != nil {
		return fmt.Errorf("inbox of %s: finish: %w", l.ID, err)
	}
	return nil
}

func members(items []InboxItem) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it.Raw
	}
	return out
}

// ClaimInboxes leases up to limit chats whose inbox is ready at now.
func (s *Store) ClaimInboxes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Lease, error) {
	return s.claimLeases(ctx, s.inq, now, lease, limit)
}

// ReleaseInbox ends a lease on a chat's inbox; next is when to look again
// (zero: it is empty).
func (s *Store) ReleaseInbox(ctx context.Context, l Lease, next time.Time) error {
	return s.releaseLease(ctx, s.inq, l, next)
}

// NextInbox is when the earliest inbox is ready (false: none waits).
func (s *Store) NextInbox(ctx context.Context) (time.Time, bool, error) {
	return s.nextReady(ctx, s.inq)
}

// deadKey keeps updates the bot could not handle at all, for an operator.
func (s *Store) deadKey() string { return s.opt.Prefix + ":dead" }

// deadCap bounds the dead letters kept.
const deadCap = 1000

// DeadLetter moves an update the bot failed to handle again and again (with
// Redis answering) out of its chat's inbox into the dead letters, so the chat
// goes on; the newest deadCap are kept (LRANGE prefix:dead 0 -1).
func (s *Store) DeadLetter(ctx context.Context, owner string, it InboxItem, reason string) error {
	pipe := s.rdb.Pipeline()
	pipe.RPush(ctx, s.deadKey(), fmt.Sprintf("%s %s %s", owner, reason, it.Payload))
	pipe.LTrim(ctx, s.deadKey(), -deadCap, -1)
	pipe.ZRem(ctx, s.inKey(owner), it.Raw)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("dead letter of %s: %w", owner, err)
	}
	return nil
}
