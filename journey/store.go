package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	lru2 "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
)

// ErrDuplicate is returned by Update when the message id was already applied.
var ErrDuplicate = errors.New("journey: message already handled")

// ErrNoChange may be returned by a Mutation to skip the write.
var ErrNoChange = errors.New("journey: no change")

// Options tune a Store. Zero values get the defaults in parentheses.
type Options struct {
	Prefix     string        // key prefix ("jb")
	HistoryCap int           // history entries kept per customer (50)
	SeenTTL    time.Duration // how long handled message ids are remembered (48h)
	CacheSize  int           // journeys cached in process (50000; state.journey_cache)
	// AddressCacheSize bounds the chat address lookups cached in process
	// (50000; state.address_cache).
	AddressCacheSize int
	// AddressTTL is how long a process trusts an address lookup it cached
	// (1m; state.address_ttl); a link made elsewhere is seen at once anyway
	// (see Resolve).
	AddressTTL time.Duration
}

// Store keeps journeys in Redis. All keys of one customer share the hash tag
// {c:ID}, so they live in one cluster slot and one Lua script may touch them.
type Store struct {
	rdb   redis.UniversalClient
	opt   Options
	cache *lru
	// addrs caches address lookups ("channel\x00address" -> customer id, ""
	// for not linked) for Options.AddressTTL, bounded like the journey cache.
	addrs *lru2.Cache[string, addrEntry]
	// outq, inq and dueq say which outboxes, inboxes and timers have work
	// waiting (queue.go).
	outq, inq, dueq *queue
	// rot turns the shard a claim starts at.
	rot atomic.Uint32
	// hand, when set, takes the outboxes commits fill (outbox.go).
	hand atomic.Pointer[handoff]
	// cluster: a commit's writes span hash slots, so they go as one
	// pipeline instead of one MULTI/EXEC transaction.
	cluster bool
}

// NewStore returns a store over any go-redis client (single node, Sentinel
// failover or cluster).
func NewStore(rdb redis.UniversalClient, opt Options) *Store {
	if opt.Prefix == "" {
		opt.Prefix = "jb"
	}
	if opt.HistoryCap <= 0 {
		opt.HistoryCap = 50
	}
	if opt.SeenTTL <= 0 {
		opt.SeenTTL = 48 * time.Hour
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = 50000
	}
	if opt.AddressCacheSize <= 0 {
		opt.AddressCacheSize = 50000
	}
	if opt.AddressTTL <= 0 {
		opt.AddressTTL = time.Minute
	}
	_, cluster := rdb.(*redis.ClusterClient)
	return &Store{
		rdb: rdb, opt: opt, cache: newLRU(opt.CacheSize), cluster: cluster,
		addrs: newAddrCache(opt.AddressCacheSize),
		outq:  newQueue(opt.Prefix, "out"), inq: newQueue(opt.Prefix, "in"), dueq: newQueue(opt.Prefix, "due"),
	}
}

// scripts are the Lua scripts a pipeline may call by SHA: pipelines cannot
// fall back to EVAL by themselves, so they are loaded up front and again when
// Redis forgot them (a restart).
var scripts = []*redis.Script{commitScript, markScript, handScript, claimQueueScript, releaseScript, ackScript}

// Prepare readies Redis for this version of the store: the Lua scripts
// loaded, and state kept by older versions moved.
func (s *Store) Prepare(ctx context.Context) error {
	if err := s.LoadScripts(ctx); err != nil {
		return err
	}
	if err := s.ResumeMerges(ctx); err != nil {
		return err
	}
	if err := s.indexActivity(ctx); err != nil {
		return err
	}
	for _, q := range []*queue{s.outq, s.inq, s.dueq} {
		if err := s.migrateQueue(ctx, q); err != nil {
			return err
		}
	}
	return s.migrateDue(ctx)
}

// LoadScripts loads the store's Lua scripts into Redis (on every node of a cluster).
func (s *Store) LoadScripts(ctx context.Context) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		for _, sc := range scripts {
			if err := sc.Load(ctx, c).Err(); err != nil {
				return fmt.Errorf("load redis scripts: %w", err)
			}
		}
		return nil
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return load(ctx, c) })
	}
	return load(ctx, s.rdb)
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// pipeline returns a pipeline whose commands Redis runs as one transaction
// on a single node; in a cluster the commands span slots and are only pipelined.
func (s *Store) pipeline() redis.Pipeliner {
	if s.cluster {
		return s.rdb.Pipeline()
	}
	return s.rdb.TxPipeline()
}

// Redis returns the client, for components that keep their own keys.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Key returns a key under the store's prefix, for components that keep their own keys.
func (s *Store) Key(parts ...string) string {
	k := s.opt.Prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

func (s *Store) jkey(id string) string    { return s.opt.Prefix + ":{c:" + id + "}" }
func (s *Store) hkey(id string) string    { return s.jkey(id) + ":h" }
func (s *Store) seenKey(id string) string { return s.jkey(id) + ":seen" }

// commitScript applies one update atomically: it refuses a message id seen
// before, refuses a stale version (optimistic concurrency: the caller retries
// with the current value it returns), writes the journey, records the message
// id, appends capped history and appends the messages to send to the outbox.
// KEYS journey, history, seen, outbox, the outbox's pacing record and, on a
// single node, the outbox queue's shard (ready, leases, dirty). ARGV
// version, document, message id, now, seen TTL, history cap, number of
// history lines, the queue operation ("": none, "m": mark the outbox ready,
// "h": lease it to the caller's sender unless someone holds it; only once
// the commit went in), now in ms, the lease's end, the customer id, the
// lines, the outbox messages. It answers the outbox's length after its
// messages (0 when it queued none), the pacing record and whether it leased
// the outbox, for the sender it is handed to (Handoff). A journey merged into another (link.go) keeps
// only its forward ("mv"): the script answers it, and the caller commits
// there instead.
//
// It runs on every message, so it does the least that keeps it correct:
// the seen set's ids older than the TTL go only on every 16th version (an
// id kept a little longer is still a duplicate, which is all it is for),
// and the set's expiry, twice the TTL, is renewed only once less than one
// TTL of it is left (so it never lapses before its newest id's TTL has);
// one RPUSH per list, whose answer says whether the cap needs a trim.
var commitScript = redis.NewScript(`
local head = redis.call('HMGET', KEYS[1], 'v', 'mv')
if head[2] then return {-2, head[2]} end
local now = tonumber(ARGV[4])
if ARGV[3] ~= '' and redis.call('ZSCORE', KEYS[3], ARGV[3]) then
  return {-1, redis.call('LLEN', KEYS[4])}
end
local v = tonumber(head[1] or '0')
if v ~= tonumber(ARGV[1]) then
  return {0, v, redis.call('HGET', KEYS[1], 'd')}
end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
if ARGV[3] ~= '' then
  local ttl = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[3], now, ARGV[3])
  if v % 16 == 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl) end
  if redis.call('TTL', KEYS[3]) < ttl then redis.call('EXPIRE', KEYS[3], 2 * ttl) end
end
local nh = tonumber(ARGV[7])
if nh > 0 then
  local cap = tonumber(ARGV[6])
  if redis.call('RPUSH', KEYS[2], unpack(ARGV, 12, 11 + nh)) > cap then
    redis.call('LTRIM', KEYS[2], -cap, -1)
  end
end
local r = {1, v + 1, 0, {}, 0}
if #ARGV > 11 + nh then
  r[3] = redis.call('RPUSH', KEYS[4], unpack(ARGV, 12 + nh, #ARGV))
  r[4] = redis.call('HGETALL', KEYS[5])
end
local op, id = ARGV[8], ARGV[11]
if op ~= '' then
  if redis.call('HEXISTS', KEYS[7], id) == 1 then
    redis.call('ZADD', KEYS[8], 'LT', ARGV[9], id)
  elseif op == 'h' then
    redis.call('ZADD', KEYS[6], ARGV[10], id)
    redis.call('HSET', KEYS[7], id, ARGV[10])
    r[5] = 1
  else
    redis.call('ZADD', KEYS[6], 'LT', ARGV[9], id)
  end
end
return r
`)

// Mutation changes a journey in place and returns history lines to append.
// It may run more than once (on a concurrent update) and must not have side
// effects.
type Mutation func(j *Journey) ([]HistoryEntry, error)

// Change is what a commit writes besides the journey document: history lines
// and the messages to send (into the customer's outbox).
type Change struct {
	History []HistoryEntry
	Outbox  []Outgoing
	// Names are lookup names (see IndexName) to point at the customer in
	// the commit's round trip.
	Names []Name
}

// Name is a lookup name of a kind ("telegram_username").
type Name struct{ Kind, Value string }

// CommitFunc changes a journey in place and returns what else to write. Like
// a Mutation it may run more than once and must not have side effects: what
// it wants sent goes in the Change, and is sent once committed.
type CommitFunc func(j *Journey) (Change, error)

// Update applies fn to the customer's journey atomically; see Commit.
func (s *Store) Update(ctx context.Context, id, msgID string, now time.Time, fn Mutation) (*Journey, error) {
	return s.Commit(ctx, id, msgID, now, func(j *Journey) (Change, error) {
		h, err := fn(j)
		return Change{History: h}, err
	})
}

// Commit applies fn to the customer's journey atomically, in one round trip:
// the document, the history, the message id, the outbox messages, and the
// due index and outbox queue entries that make the scheduler and the
// senders see them. msgID, when not empty, makes the commit idempotent: a
// second commit with the same id returns ErrDuplicate and changes nothing
// (its messages were written by the first, and are still queued). The
// returned journey is the committed state.
func (s *Store) Commit(ctx context.Context, id, msgID string, now time.Time, fn CommitFunc) (*Journey, error) {
	return s.commit(ctx, id, msgID, now, fn, true)
}

// commit is Commit; mayHand says whether the outbox may be handed to this
// process's sender (CommitBatch's items never are: the scheduler wakes the
// senders once for the whole batch, and a hand-over would swallow that).
func (s *Store) commit(ctx context.Context, id, msgID string, now time.Time, fn CommitFunc, mayHand bool) (*Journey, error) {
	ver, cur, cached := s.cache.get(id)
	if !cached {
		var err error
		if id, ver, cur, err = s.loadFollow(ctx, id, now); err != nil {
			return nil, err
		}
	}
	reloads, hops := 0, 0
	for attempt := 0; ; attempt++ {
		next := cur.Clone()
		ch, err := fn(next)
		if (errors.Is(err, ErrNoChange) || err != nil) && cached {
			// The decision not to write was taken on the cached copy, which
			// another process may have changed: decide again on Redis's.
			cached = false
			s.cache.drop(id)
			if id, ver, cur, err = s.loadFollow(ctx, id, now); err != nil {
				return nil, err
			}
			continue
		}
		if errors.Is(err, ErrNoChange) {
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		pipe := s.pipeline()
		pc, err := s.queueCommit(ctx, pipe, id, msgID, ver, cur, next, ch, now, mayHand)
		if err != nil {
			return nil, err
		}
		commit := pc.cmd
		marks := pipe
		if s.cluster {
			marks = s.rdb.Pipeline()
		}
		s.queueMarks(ctx, marks, id, &pc, now)
		_, err = pipe.Exec(ctx)
		if s.cluster && err == nil && (pc.handed != nil || pc.op == "m" || pc.moved) {
			if res, _ := commit.Slice(); len(res) > 0 && res[0] == int64(1) {
				_, err = marks.Exec(ctx)
			}
		}
		// Whether the commit leased the outbox to this process's sender.
		handOK := pc.handedOver()
		if isNoScript(commit.Err()) && reloads < 3 {
			// Redis restarted and forgot the scripts: load them and try again.
			reloads++
			if err := s.LoadScripts(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if commit.Err() != nil {
			s.cache.drop(id)
			return nil, fmt.Errorf("journey %s: commit: %w", id, commit.Err())
		}
		if err != nil {
			// Committed, but a queue entry beside it failed (a script Redis
			// forgot, a cluster node): write those again, on their own.
			if err := s.requeue(ctx, id, &pc, now, handOK); err != nil {
				s.cache.drop(id)
				return nil, fmt.Errorf("journey %s: committed, but queueing its work failed: %w", id, err)
			}
		}
		res, _ := commit.Slice()
		switch res[0].(int64) {
		case -2:
			// Merged into another journey (a link another process made):
			// write there, having finished the merge if it was cut short.
			s.cache.drop(id)
			if hops++; hops > maxHops {
				return nil, fmt.Errorf("journey %s: forwards more than %d times", id, maxHops)
			}
			to, _ := res[1].(string)
			if err := s.finishMerge(ctx, id, to, now); err != nil {
				return nil, err
			}
			cached = false
			if id, ver, cur, err = s.loadFollow(ctx, to, now); err != nil {
				return nil, err
			}
			continue
		case -1:
			// A redelivery. The first delivery's writes beside the journey
			// may not all have landed (a cluster node failed between them):
			// queue what it left waiting, and its timers.
			if pending, _ := res[1].(int64); pending > 0 {
				if err := s.MarkOutbox(ctx, id, now); err != nil {
					return cur, err
				}
			}
			if err := s.Schedule(ctx, id, cur.NextDue()); err != nil {
				return cur, err
			}
			return cur, ErrDuplicate
		case 1:
			ver = res[1].(int64)
			s.cache.putDoc(id, ver, pc.data)
			if handOK {
				n, _ := res[2].(int64)
				om, _ := res[3].([]any)
				raws := pc.raws
				if !pc.inScript {
					// The lease came a round trip after the commit (a
					// cluster): a sender that held the outbox in between
					// may have sent these already. The new holder reads
					// what is left instead.
					raws = nil
				}
				s.handOver(ctx, pc.hand, pc.lease, raws, n, om)
			}
			return next, nil
		}
		// Someone else wrote first: take their version and run fn again.
		cached = false
		ver = res[1].(int64)
		if raw, ok := res[2].(string); ok {
			cur = &Journey{}
			if err := decodeDoc([]byte(raw), cur); err != nil {
				return nil, fmt.Errorf("journey %s: decode: %w", id, err)
			}
		} else {
			cur = New(id, now)
		}
		if attempt >= 1000 {
			return nil, fmt.Errorf("journey %s: gave up after %d conflicting writes", id, attempt)
		}
		if attempt >= 2 {
			// Back off a little so competing writers interleave instead of spinning.
			time.Sleep(time.Duration(rand.IntN(min(attempt, 20))+1) * 100 * time.Microsecond)
		}
	}
}

// pendingCommit is one commit queued on a pipeline: its script call and
// the queue entries its work needs.
type pendingCommit struct {
	cmd  *redis.Cmd
	data []byte   // the stored document, for the cache
	raws []string // the outbox messages as stored, for a hand-over
	// op is "" (nothing queued), "m" (the outbox marked ready) or "h"
	// (leased to this process's running sender, hand); inScript: the
	// commit script writes that queue entry itself (single node).
	op       string
	inScript bool
	hand     *handoff
	lease    Lease
	handed   *redis.Cmd // the hand-over, when not in the commit script
	queued   bool       // messages to announce
	moved    bool       // a timer brought forward
	due      int64      // the journey's next timer
}

// queueCommit queues on pipe the commit of next over cur (read at version
// ver) and the writes beside it; queueMarks then queues what announces its
// work. Commit and CommitBatch (batch.go) both write through it; only
// Commit may hand the outbox to this process's sender (mayHand).
func (s *Store) queueCommit(ctx context.Context, pipe redis.Pipeliner, id, msgID string, ver int64, cur, next *Journey, ch Change, now time.Time, mayHand bool) (pendingCommit, error) {
	data, err := encodeJourney(next)
	if err != nil {
		return pendingCommit{}, fmt.Errorf("journey %s: encode: %w", id, err)
	}
	pc := pendingCommit{data: data, queued: len(ch.Outbox) > 0}
	// A timer brought forward needs the due index moved (a later one is
	// found when the customer is woken for the earlier).
	due, before := next.NextDue(), cur.NextDue()
	pc.due, pc.moved = due, due != 0 && (before == 0 || due < before)
	// With a sender running here, the outbox is leased to it outright
	// (Handoff): no claim, no read back.
	if pc.queued {
		pc.op = "m"
		if h := s.hand.Load(); h != nil && mayHand {
			pc.op, pc.hand, pc.lease = "h", h, Lease{ID: id, Until: h.now().Add(h.lease).UnixMilli()}
		}
	}
	// On a single node the outbox's queue entry is written by the commit
	// script itself, after the commit and only if it went in (one script
	// call, not two). A cluster keeps it in another slot: there it follows
	// in a second round trip, once the commit is in (a pipeline runs its
	// slots side by side, so a mark could land before the message it
	// announces; a sender that read the outbox empty in between would
	// release it for good and strand the reply).
	pc.inScript = pc.op != "" && !s.cluster
	keys := []string{s.jkey(id), s.hkey(id), s.seenKey(id), s.outKey(id), s.metaKey(id)}
	scriptOp := ""
	if pc.inScript {
		keys = append(keys, s.outq.of(id).keys()...)
		scriptOp = pc.op
	}
	args := make([]any, 0, 11+len(ch.History)+len(ch.Outbox))
	args = append(args, ver, data, msgID, now.Unix(), int64(s.opt.SeenTTL/time.Second), s.opt.HistoryCap, len(ch.History),
		scriptOp, now.UnixMilli(), pc.lease.Until, id)
	for _, h := range ch.History {
		b, _ := json.Marshal(h)
		args = append(args, b)
	}
	pc.raws = make([]string, 0, len(ch.Outbox))
	for _, m := range ch.Outbox {
		if m.At == 0 {
			m.At = now.UnixMilli()
		}
		b, _ := json.Marshal(m)
		args = append(args, b)
		pc.raws = append(pc.raws, string(b))
	}
	pc.cmd = commitScript.EvalSha(ctx, pipe, keys, args...)
	s.besideCommit(ctx, pipe, id, cur, next, now)
	for _, n := range ch.Names {
		pipe.Set(ctx, s.addrKey(n.Kind, n.Value), id, 0)
	}
	return pc, nil
}

// queueMarks queues on marks the queue entries of a commit queued with
// queueCommit that its script does not write itself.
func (s *Store) queueMarks(ctx context.Context, marks redis.Pipeliner, id string, pc *pendingCommit, now time.Time) {
	switch {
	case pc.op == "h" && !pc.inScript:
		pc.handed = handScript.EvalSha(ctx, marks, s.outq.of(id).keys(), id, now.UnixMilli(), pc.lease.Until)
	case pc.op == "m" && !pc.inScript:
		s.outq.mark(ctx, marks, id, now.UnixMilli())
	}
	if pc.moved {
		s.dueq.mark(ctx, marks, id, pc.due)
	}
}

// handedOver says whether a commit that went in leased its outbox to this
// process's sender.
func (pc *pendingCommit) handedOver() bool {
	res, _ := pc.cmd.Slice()
	if len(res) <= 4 || res[0] != int64(1) {
		return false
	}
	if pc.inScript {
		return res[4] == int64(1)
	}
	if pc.handed != nil {
		got, _ := pc.handed.Int64()
		return got == 1
	}
	return false
}

// requeue writes a commit's queue entries again, on their own: for one
// committed whose entries beside it failed (a script Redis forgot, a
// cluster node). handed: the outbox is already leased to a sender here.
func (s *Store) requeue(ctx context.Context, id string, pc *pendingCommit, now time.Time, handed bool) error {
	var err error
	if pc.queued && !handed {
		err = s.MarkOutbox(ctx, id, now)
	}
	if pc.moved && err == nil {
		err = s.Schedule(ctx, id, pc.due)
	}
	return err
}

// Get reads the current journey from Redis (not the cache). found is false
// for a customer the bot has never seen.
// A journey merged into another is answered with that one.
func (s *Store) Get(ctx context.Context, id string) (j *Journey, found bool, err error) {
	_, ver, j, err := s.loadFollow(ctx, id, time.Now())
	return j, ver > 0, err
}

// maxHops bounds how many forwards (merged journeys) a read follows.
const maxHops = 4

// loadFollow loads id, following forwards of merged journeys (and finishing
// a merge that was cut short), and returns the id it ended at.
func (s *Store) loadFollow(ctx context.Context, id string, now time.Time) (string, int64, *Journey, error) {
	for hop := 0; ; hop++ {
		vals, err := s.rdb.HMGet(ctx, s.jkey(id), "v", "d", "mv").Result()
		if err != nil {
			return id, 0, nil, fmt.Errorf("journey %s: load: %w", id, err)
		}
		if to, _ := vals[2].(string); to != "" {
			if hop >= maxHops {
				return id, 0, nil, fmt.Errorf("journey %s: forwards more than %d times", id, maxHops)
			}
			if vals[0] != nil {
				if err := s.finishMerge(ctx, id, to, now); err != nil {
					return id, 0, nil, err
				}
			}
			id = to
			continue
		}
		ver, j, err := decodeJourney(id, vals)
		if err == nil && ver == 0 {
			j = New(id, now)
		}
		return id, ver, j, err
	}
}

// decodeJourney reads HMGET v d; version 0 (and no journey) when absent.
func decodeJourney(id string, vals []any) (int64, *Journey, error) {
	vs, _ := vals[0].(string)
	ds, _ := vals[1].(string)
	if vs == "" {
		return 0, nil, nil
	}
	ver, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("journey %s: bad version %q", id, vs)
	}
	j := &Journey{}
	if err := decodeDoc([]byte(ds), j); err != nil {
		return 0, nil, fmt.Errorf("journey %s: decode: %w", id, err)
	}
	return ver, j, nil
}

// History returns up to n of the latest history entries, oldest first.
func (s *Store) History(ctx context.Context, id string, n int) ([]HistoryEntry, error) {
	raw, err := s.rdb.LRange(ctx, s.hkey(id), int64(-n), -1).Result()
	if err != nil {
		return nil, fmt.Errorf("journey %s: history: %w", id, err)
	}
	out := make([]HistoryEntry, 0, len(raw))
	for _, r := range raw {
		var h HistoryEntry
		if json.Unmarshal([]byte(r), &h) == nil {
			out = append(out, h)
		}
	}
	return out, nil
}

// Size reports the bytes Redis uses for a customer's journey document and
// history (MEMORY USAGE), for benchmarks and operations.
func (s *Store) Size(ctx context.Context, id string) (journey, history int64, err error) {
	journey, err = s.rdb.MemoryUsage(ctx, s.jkey(id)).Result()
	if err != nil {
		return 0, 0, err
	}
	history, err = s.rdb.MemoryUsage(ctx, s.hkey(id)).Result()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return journey, history, err
}

// Ping checks the Redis connection.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// lru is the bounded cache of committed journeys. It only saves the read:
// the commit script checks the version, so a stale entry costs a retry,
// never a lost update. It keeps the stored form (a few hundred bytes, a
// fraction of the decoded struct's maps and slices), so that a cache of
// every active customer fits in a small process; a hit decodes a fresh
// copy, which the caller may change.
type lru struct{ c *lru2.Cache[string, lruEntry] }

type lruEntry struct {
	ver int64
	doc []byte
}

func newLRU(max int) *lru {
	c, _ := lru2.New[string, lruEntry](max) // max > 0: NewStore sets a default
	return &lru{c}
}

func (c *lru) get(id string) (int64, *Journey, bool) {
	e, ok := c.c.Get(id)
	if !ok {
		return 0, nil, false
	}
	j := &Journey{}
	if decodeDoc(e.doc, j) != nil {
		c.c.Remove(id)
		return 0, nil, false
	}
	return e.ver, j, true
}

func (c *lru) has(id string) bool { return c.c.Contains(id) }

func (c *lru) put(id string, ver int64, j *Journey) {
	if doc, err := encodeJourney(j); err == nil {
		c.c.Add(id, lruEntry{ver, doc})
	}
}

// putDoc caches a journey already encoded (the commit's).
func (c *lru) putDoc(id string, ver int64, doc []byte) { c.c.Add(id, lruEntry{ver, doc}) }

func (c *lru) drop(id string) { c.c.Remove(id) }

func (s *Store) orderKey(orderID string) string { return s.opt.Prefix + ":order:" + orderID }

// IndexOrder records which customer an order belongs to (for deep links and
// for customers who identify by order number).
// The customer's own set of indexed orders lets an erase find them all,
// also those the journey no longer holds.
func (s *Store) IndexOrder(ctx context.Context, orderID, customerID string) error {
	pipe := s.pipeline()
	pipe.Set(ctx, s.orderKey(orderID), customerID, 0)
	pipe.SAdd(ctx, s.ordersKey(customerID), orderID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("index order %s: %w", orderID, err)
	}
	return nil
}

func (s *Store) ordersKey(id string) string { return s.jkey(id) + ":orders" }

// OrderOwner returns the customer of an order, or "" when unknown.
func (s *Store) OrderOwner(ctx context.Context, orderID string) (string, error) {
	id, err := s.rdb.Get(ctx, s.orderKey(orderID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("order %s owner: %w", orderID, err)
	}
	return id, nil
}

// Applied reports whether msgID was applied to the customer's journey (in
// the last SeenTTL), and returns the journey as it is (new when absent), in
// one round trip: for a caller that must not act on a replay before its
// commit says so.
func (s *Store) Applied(ctx context.Context, id, msgID string) (bool, *Journey, error) {
	pipe := s.rdb.Pipeline()
	seen := pipe.ZScore(ctx, s.seenKey(id), msgID)
	head := pipe.HMGet(ctx, s.jkey(id), "v", "d")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, nil, fmt.Errorf("journey %s: read: %w", id, err)
	}
	ver, j, err := decodeJourney(id, head.Val())
	if err != nil {
		return false, nil, err
	}
	if ver == 0 {
		j = New(id, time.Now())
	}
	return seen.Err() == nil, j, nil
}
