package journey

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The due index is one sorted set: member = customer id, score = the Unix
// second of that customer's earliest timer. Timers themselves live in the
// journey, so a waiting timer costs one sorted-set member in Redis and no
// work in the bot.

func (s *Store) dueKey() string { return s.opt.Prefix + ":due" }

// Schedule makes sure the customer is woken at due or earlier (ZADD LT: an
// earlier wake-up is never pushed back by a later one).
func (s *Store) Schedule(ctx context.Context, id string, due int64) error {
	if due <= 0 {
		return nil
	}
	err := s.rdb.ZAddArgs(ctx, s.dueKey(), redis.ZAddArgs{LT: true, Members: []redis.Z{{Score: float64(due), Member: id}}}).Err()
	if err != nil {
		return fmt.Errorf("schedule %s: %w", id, err)
	}
	return nil
}

// claimScript hands out due customers and leases them: their score moves to
// now+lease so no other process takes them meanwhile, and a process that
// dies mid-way leaves them to be retried when the lease ends.
var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
`)

// Claim returns up to limit customers whose wake-up time is at or before
// now, leased until leaseUntil.
func (s *Store) Claim(ctx context.Context, now, leaseUntil int64, limit int) ([]string, error) {
	ids, err := claimScript.Run(ctx, s.rdb, []string{s.dueKey()}, now, leaseUntil, limit).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim due timers: %w", err)
	}
	return ids, nil
}

// finishScript sets the next wake-up after a claimed customer was handled:
// if the lease is still ours, replace it (or remove the member when nothing
// is pending); if someone rescheduled meanwhile, only move it earlier.
var finishScript = redis.NewScript(`
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
local next = tonumber(ARGV[3])
if cur and tonumber(cur) == tonumber(ARGV[2]) then
  if next == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], next, ARGV[1]) end
elseif next > 0 then
  redis.call('ZADD', KEYS[1], 'LT', next, ARGV[1])
end
return 1
`)

// Finish records the next wake-up (0: none) of a customer claimed with leaseUntil.
func (s *Store) Finish(ctx context.Context, id string, leaseUntil, next int64) error {
	err := finishScript.Run(ctx, s.rdb, []string{s.dueKey()}, id, strconv.FormatInt(leaseUntil, 10), next).Err()
	if err != nil {
		return fmt.Errorf("finish %s: %w", id, err)
	}
	return nil
}

// Pending returns how many customers wait on a timer.
func (s *Store) Pending(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.dueKey()).Result()
}

// NextWake returns the earliest wake-up time in the due index.
func (s *Store) NextWake(ctx context.Context) (int64, bool, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.dueKey(), 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return 0, false, err
	}
	return int64(zs[0].Score), true, nil
}
