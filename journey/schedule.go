package journey

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The due index is a work index (see queue.go) in Unix seconds: owner = a
// customer, score = the time of that customer's earliest timer. Timers
// themselves live in the journey, so a waiting timer costs one sorted-set
// member in Redis and no work in the bot. The scheduler claims due
// customers with a lease, so each is woken by one process, and one that dies
// mid-way leaves them to be woken again when the lease ends.

// Schedule makes sure the customer is woken at due or earlier (an earlier
// wake-up is never pushed back by a later one; a customer being woken gets
// it when its wake-up ends).
func (s *Store) Schedule(ctx context.Context, id string, due int64) error {
	if due <= 0 {
		return nil
	}
	if err := s.evalMark(ctx, s.dueq, id, due); err != nil {
		return fmt.Errorf("schedule %s: %w", id, err)
	}
	return nil
}

// Claim returns up to limit customers whose wake-up time is at or before
// now, leased until leaseUntil (Unix seconds).
func (s *Store) Claim(ctx context.Context, now, leaseUntil int64, limit int) ([]string, error) {
	ids, err := s.claimQueue(ctx, s.dueq, now, leaseUntil, limit)
	if err != nil {
		return nil, fmt.Errorf("claim due timers: %w", err)
	}
	return ids, nil
}

// Finish records the next wake-up (0: none) of a customer claimed with
// leaseUntil. A timer set meanwhile by another process is kept.
func (s *Store) Finish(ctx context.Context, id string, leaseUntil, next int64) error {
	if err := s.dueq.release(ctx, s.rdb, id, leaseUntil, next); err != nil {
		return fmt.Errorf("finish %s: %w", id, err)
	}
	return nil
}

// Woken is one customer's wake-up to finish: claimed with Lease, next
// wake-up at Next (0: none).
type Woken struct {
	ID          string
	Lease, Next int64
}

// FinishAll finishes a batch of wake-ups in one round trip.
func (s *Store) FinishAll(ctx context.Context, ws []Woken) error {
	if len(ws) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, w := range ws {
		releaseScript.EvalSha(ctx, pipe, s.dueq.of(w.ID).keys(), w.ID, fmt.Sprint(w.Lease), w.Next)
	}
	_, err := pipe.Exec(ctx)
	if isNoScript(err) {
		// Redis forgot the scripts: one at a time, each with its EVAL fallback.
		for _, w := range ws {
			if err := s.Finish(ctx, w.ID, w.Lease, w.Next); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("finish %d wake-ups: %w", len(ws), err)
	}
	return nil
}

// Unschedule takes a customer out of the due index (one not being woken).
func (s *Store) Unschedule(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, s.dueq.of(id).ready, id).Err(); err != nil {
		return fmt.Errorf("unschedule %s: %w", id, err)
	}
	return nil
}

// DueIndexMemory reports the bytes Redis uses for the due index (MEMORY
// USAGE; exact counts every member, which the embedded Redis cannot).
func (s *Store) DueIndexMemory(ctx context.Context, exact bool) (int64, error) {
	pipe := s.rdb.Pipeline()
	var sizes []*redis.IntCmd
	for _, w := range s.dueq.shards {
		if exact {
			sizes = append(sizes, pipe.MemoryUsage(ctx, w.ready, 0))
		} else {
			sizes = append(sizes, pipe.MemoryUsage(ctx, w.ready))
		}
	}
	pipe.Exec(ctx)
	var n int64
	for _, c := range sizes {
		// A shard with no members yet has no key.
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return 0, err
		}
		n += c.Val()
	}
	return n, nil
}

// Pending returns how many customers wait on a timer.
func (s *Store) Pending(ctx context.Context) (int64, error) {
	return s.count(ctx, s.dueq)
}

// NextWake returns the earliest wake-up time in the due index.
func (s *Store) NextWake(ctx context.Context) (int64, bool, error) {
	return s.earliest(ctx, s.dueq)
}

// migrateDue moves the due index of versions before the work index (one
// plain sorted set, prefix:due) into it, so an upgrade forgets no timer.
func (s *Store) migrateDue(ctx context.Context) error {
	old := s.opt.Prefix + ":due"
	for {
		zs, err := s.rdb.ZRangeWithScores(ctx, old, 0, 499).Result()
		if err != nil {
			return fmt.Errorf("migrate due index: %w", err)
		}
		if len(zs) == 0 {
			return nil
		}
		for _, z := range zs {
			id := z.Member.(string)
			if err := s.Schedule(ctx, id, int64(z.Score)); err != nil {
				return err
			}
			s.rdb.ZRem(ctx, old, id)
		}
	}
}
