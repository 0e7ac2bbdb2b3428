package journey

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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

// queueShards is how many work indexes one queue is spread over. Every
// owner lives in one shard (a hash of its id), each shard under a hash tag of
// its own ({q:NAME:S}), so in Redis Cluster a queue's writes spread over
// several slots (and nodes) instead of one hot slot.
const queueShards = 8

// queue is a work index sharded by owner.
type queue struct {
	name   string
	shards [queueShards]workIndex
}

func newQueue(prefix, name string) *queue {
	q := &queue{name: name}
	for i := range q.shards {
		q.shards[i] = newWorkIndex(prefix, name+":"+strconv.Itoa(i))
	}
	return q
}

// of is the shard of owner id.
func (q *queue) of(id string) workIndex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return q.shards[h.Sum32()%queueShards]
}

func (q *queue) mark(ctx context.Context, c redis.Scripter, id string, at int64) *redis.Cmd {
	return q.of(id).mark(ctx, c, id, at)
}

func (q *queue) release(ctx context.Context, c redis.Scripter, id string, leaseUntil, next int64) error {
	return q.of(id).release(ctx, c, id, leaseUntil, next)
}

// claim leases up to limit owners ready at now, from all shards, in two
// round trips: one counts what each shard has ready (the only one when
// nothing is), a second claims it from all of them in one pipeline. It
// returns fewer than limit only when fewer were ready (or another worker
// took them in between), so callers may keep reading "fewer than asked" as
// "nothing more for now".
func (s *Store) claimQueue(ctx context.Context, q *queue, now, leaseUntil int64, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	counts := make([]*redis.IntCmd, queueShards)
	for i, w := range q.shards {
		counts[i] = pipe.ZCount(ctx, w.ready, "-inf", strconv.FormatInt(now, 10))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("claim from %s: %w", q.name, err)
	}
	// Start at a different shard each time, so workers asking for less than
	// is ready do not all drain the same shard first.
	first := int(s.rot.Add(1) % queueShards)
	left := limit
	var want []int
	var sizes []int
	for k := 0; k < queueShards && left > 0; k++ {
		i := (first + k) % queueShards
		if n := min(int(counts[i].Val()), left); n > 0 {
			want, sizes = append(want, i), append(sizes, n)
			left -= n
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	if len(want) == 1 {
		// One shard: its script with the EVAL fallback.
		return q.shards[want[0]].claim(ctx, s.rdb, now, leaseUntil, sizes[0])
	}
	for reloaded := false; ; reloaded = true {
		pipe = s.rdb.Pipeline()
		claims := make([]*redis.Cmd, len(want))
		for k, i := range want {
			claims[k] = claimQueueScript.EvalSha(ctx, pipe, q.shards[i].keys(), now, leaseUntil, sizes[k])
		}
		pipe.Exec(ctx) // each claim's error is its own
		var ids []string
		var failed error
		for k, c := range claims {
			got, err := c.StringSlice()
			if err != nil {
				failed = fmt.Errorf("claim from %s: %w", q.shards[want[k]].ready, err)
				continue
			}
			ids = append(ids, got...)
		}
		// Redis forgot the scripts (a restart) and claimed nothing: load
		// them and claim once more. What the other shards leased is handed
		// out in any case.
		if len(ids) > 0 || reloaded || !isNoScript(errors.Unwrap(failed)) {
			return ids, failed
		}
		if err := s.LoadScripts(ctx); err != nil {
			return nil, err
		}
	}
}

// claimLeases leases up to limit owners of q ready at now (Unix ms scores).
func (s *Store) claimLeases(ctx context.Context, q *queue, now time.Time, lease time.Duration, limit int) ([]Lease, error) {
	until := now.Add(lease).UnixMilli()
	ids, err := s.claimQueue(ctx, q, now.UnixMilli(), until, limit)
	out := make([]Lease, len(ids))
	for i, id := range ids {
		out[i] = Lease{ID: id, Until: until}
	}
	return out, err
}

// releaseLease ends l on q; next is when the owner has work again (zero: none).
func (s *Store) releaseLease(ctx context.Context, q *queue, l Lease, next time.Time) error {
	var nextMs int64
	if !next.IsZero() {
		nextMs = max(next.UnixMilli(), 1)
	}
	return q.release(ctx, s.rdb, l.ID, l.Until, nextMs)
}

// nextReady is when the earliest owner of q is ready (false: none waits).
func (s *Store) nextReady(ctx context.Context, q *queue) (time.Time, bool, error) {
	ms, ok, err := s.earliest(ctx, q)
	return time.UnixMilli(ms), ok, err
}

// earliest is the lowest score over q's shards, in one round trip.
func (s *Store) earliest(ctx context.Context, q *queue) (int64, bool, error) {
	pipe := s.rdb.Pipeline()
	heads := make([]*redis.ZSliceCmd, queueShards)
	for i, w := range q.shards {
		heads[i] = pipe.ZRangeWithScores(ctx, w.ready, 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, false, fmt.Errorf("head of %s: %w", q.name, err)
	}
	var best int64
	found := false
	for _, h := range heads {
		if zs := h.Val(); len(zs) > 0 && (!found || int64(zs[0].Score) < best) {
			best, found = int64(zs[0].Score), true
		}
	}
	return best, found, nil
}

// count is how many owners q holds (ready or leased), in one round trip.
func (s *Store) count(ctx context.Context, q *queue) (int64, error) {
	pipe := s.rdb.Pipeline()
	cards := make([]*redis.IntCmd, queueShards)
	for i, w := range q.shards {
		cards[i] = pipe.ZCard(ctx, w.ready)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("count %s: %w", q.name, err)
	}
	var n int64
	for _, c := range cards {
		n += c.Val()
	}
	return n, nil
}

// migrateQueue moves the owners of the one-slot work index of earlier
// versions (prefix:{q:NAME}) into the shards, so an upgrade loses no work.
func (s *Store) migrateQueue(ctx context.Context, q *queue) error {
	old := newWorkIndex(s.opt.Prefix, q.name)
	for _, key := range []string{old.ready, old.dirty} {
		for {
			zs, err := s.rdb.ZRangeWithScores(ctx, key, 0, 499).Result()
			if err != nil {
				return fmt.Errorf("migrate %s: %w", key, err)
			}
			if len(zs) == 0 {
				break
			}
			for _, z := range zs {
				id := z.Member.(string)
				if err := s.evalMark(ctx, q, id, int64(z.Score)); err != nil {
					return err
				}
				if err := s.rdb.ZRem(ctx, key, id).Err(); err != nil {
					return fmt.Errorf("migrate %s: %w", key, err)
				}
			}
		}
	}
	return s.rdb.Del(ctx, old.leases).Err()
}

// Lease is a claim on one owner's queue, held until Release or until.
type Lease struct {
	ID    string // the owner: a customer id (outbox) or a chat address (inbox)
	Until int64  // Unix ms; also the lease's token
}
