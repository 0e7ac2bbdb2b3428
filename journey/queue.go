package journey

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// workIndex says which owners (customers, chat addresses) have work waiting
// in a queue of their own (the outbox, the inbox), the way a job queue on
// Redis does: a sorted set of owner → when the work may run (Unix ms), a hash
// of the leases handed out, and a set of owners that got new work while
// leased. All three share one hash tag, so the scripts below run in Redis
// Cluster too.
//
// A worker claims ready owners with a lease and is then the only one working
// on them until it finishes or the lease ends (a dead worker's owners come
// back when their lease runs out). New work for a leased owner never shortens
// the lease (that would let a second worker in and break the order); it
// marks the owner dirty, and finishing a dirty owner makes it ready again.
type workIndex struct {
	ready, leases, dirty string
}

func newWorkIndex(prefix, name string) workIndex {
	base := prefix + ":{q:" + name + "}"
	return workIndex{ready: base + ":ready", leases: base + ":lease", dirty: base + ":dirty"}
}

func (w workIndex) keys() []string { return []string{w.ready, w.leases, w.dirty} }

// markScript: ARGV id, at. Ready at `at` or earlier; dirty when leased.
var markScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[3], 'LT', ARGV[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
return 1
`)

// claimQueueScript: ARGV now, leaseUntil, limit. Leases the ready owners.
var claimQueueScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HSET', KEYS[2], id, ARGV[2])
  redis.call('ZREM', KEYS[3], id)
end
return ids
`)

// releaseScript: ARGV id, leaseUntil, next. Ends a lease: the owner is ready
// again at next (0: no work left), or earlier when work came meanwhile. A
// lease that is no longer ours changes nothing.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local next = tonumber(ARGV[3])
local dirty = redis.call('ZSCORE', KEYS[3], ARGV[1])
if dirty then
  redis.call('ZREM', KEYS[3], ARGV[1])
  if next == 0 or tonumber(dirty) < next then next = tonumber(dirty) end
end
if next == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], next, ARGV[1]) end
return 1
`)

// mark queues the owner's work for at on a pipeline (scripts loaded).
func (w workIndex) mark(ctx context.Context, c redis.Scripter, id string, at int64) *redis.Cmd {
	return markScript.EvalSha(ctx, c, w.keys(), id, at)
}

func (w workIndex) claim(ctx context.Context, c redis.Scripter, now, leaseUntil int64, limit int) ([]string, error) {
	ids, err := claimQueueScript.Run(ctx, c, w.keys(), now, leaseUntil, limit).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", w.ready, err)
	}
	return ids, nil
}

func (w workIndex) release(ctx context.Context, c redis.Scripter, id string, leaseUntil, next int64) error {
	err := releaseScript.Run(ctx, c, w.keys(), id, strconv.FormatInt(leaseUntil, 10), next).Err()
	if err != nil {
		return fmt.Errorf("release %s from %s: %w", id, w.ready, err)
	}
	return nil
}

// claimLeases leases up to limit owners of w ready at now (Unix ms scores).
func (s *Store) claimLeases(ctx context.Context, w workIndex, now time.Time, lease time.Duration, limit int) ([]Lease, error) {
	until := now.Add(lease).UnixMilli()
	ids, err := w.claim(ctx, s.rdb, now.UnixMilli(), until, limit)
	out := make([]Lease, len(ids))
	for i, id := range ids {
		out[i] = Lease{ID: id, Until: until}
	}
	return out, err
}

// releaseLease ends l on w; next is when the owner has work again (zero: none).
func (s *Store) releaseLease(ctx context.Context, w workIndex, l Lease, next time.Time) error {
	var nextMs int64
	if !next.IsZero() {
		nextMs = max(next.UnixMilli(), 1)
	}
	return w.release(ctx, s.rdb, l.ID, l.Until, nextMs)
}

// nextReady is when the earliest owner of w is ready (false: none waits).
func (s *Store) nextReady(ctx context.Context, w workIndex) (time.Time, bool, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, w.ready, 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return time.Time{}, false, err
	}
	return time.UnixMilli(int64(zs[0].Score)), true, nil
}

// Lease is a claim on one owner's queue, held until Release or until.
type Lease struct {
	ID    string // the owner: a customer id (outbox) or a chat address (inbox)
	Until int64  // Unix ms; also the lease's token
}
