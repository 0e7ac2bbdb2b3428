package journey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	lru2 "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
)

// Links: which customer a chat address belongs to, and what happens when
// that changes.
//
// A chat nobody linked is a customer of its own ("telegram:42"). When an
// event, a deep link or /pedido links it to a store customer, that journey
// merges into the customer's: the chat's journey first gets a forward (field
// "mv" of its hash) so no commit can change it any more (commits, in any
// process, are redirected to the target, so a process that cached "not
// linked" writes to the right journey on the same round trip); then one
// commit on the target applies the merged document, history and message
// ids, keyed by a merge id so a second run is a no-op (unsent messages stay
// in the old outbox and are sent from there);
// then the addresses and orders are pointed at the target and the old
// journey's keys go, leaving the forward. Each step is idempotent and a
// merge cut short is finished by whoever next reads the old journey (or at
// start, from the merges list), so it needs no cross-slot atomicity and
// works on Redis Cluster.
//
// Journeys of two store customers are never merged: when the store links an
// address another store customer had, the address moves (merging would hand
// one customer's orders to another).

func (s *Store) addrKey(channel, address string) string {
	return s.opt.Prefix + ":addr:" + channel + ":" + address
}

func (s *Store) optOutKey(channel, address string) string {
	return s.opt.Prefix + ":optout:" + channel + ":" + address
}

func (s *Store) mergingKey() string { return s.opt.Prefix + ":merging" }

// OwnID is the customer id of a chat nobody linked.
func OwnID(channel, address string) string { return channel + ":" + address }

// Resolve returns the customer id linked to a channel address, or "" when
// the address is not linked yet.
func (s *Store) Resolve(ctx context.Context, channel, address string) (string, error) {
	ck := channel + "\x00" + address
	if e, ok := s.addrs.Get(ck); ok && time.Now().Before(e.until) {
		return e.id, nil
	}
	return s.ResolveFresh(ctx, channel, address)
}

// ResolveChat is Resolve for a chat that is about to write: when the
// address is not cached, the chat's own journey is read in the same round
// trip, so that a chat nobody linked (the usual first message) costs one
// read before its commit, not two.
func (s *Store) ResolveChat(ctx context.Context, channel, address string, now time.Time) (string, error) {
	ck := channel + "\x00" + address
	if e, ok := s.addrs.Get(ck); ok && time.Now().Before(e.until) {
		return e.id, nil
	}
	own := OwnID(channel, address)
	if s.cache.has(own) {
		return s.ResolveFresh(ctx, channel, address)
	}
	pipe := s.rdb.Pipeline()
	addr := pipe.Get(ctx, s.addrKey(channel, address))
	head := pipe.HMGet(ctx, s.jkey(own), "v", "d", "mv")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("resolve %s address: %w", channel, err)
	}
	id, err := addr.Result()
	if errors.Is(err, redis.Nil) {
		id, err = "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolve %s address: %w", channel, err)
	}
	s.addrs.Add(ck, addrEntry{id, time.Now().Add(s.opt.AddressTTL)})
	if vals := head.Val(); id == "" && len(vals) == 3 && vals[2] == nil {
		// Not a forward (a merge cut short is for the commit to finish):
		// the journey as it is, or a new one at version 0, which the
		// commit's version check guards like any cached copy.
		if ver, j, err := decodeJourney(own, vals[:2]); err == nil {
			if ver == 0 {
				j = New(own, now)
			}
			s.cache.put(own, ver, j)
		}
	}
	return id, nil
}

// ResolveFresh is Resolve without the process's cache: for a caller that
// found the cached answer contradicted by the journey itself.
func (s *Store) ResolveFresh(ctx context.Context, channel, address string) (string, error) {
	id, err := s.rdb.Get(ctx, s.addrKey(channel, address)).Result()
	if errors.Is(err, redis.Nil) {
		id, err = "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolve %s address: %w", channel, err)
	}
	// Cached, "not linked" included, so the hot path needs no extra round
	// trip. A stale entry is caught by the commit: a merged journey
	// forwards, and a journey whose address moved says so (see bot).
	s.addrs.Add(channel+"\x00"+address, addrEntry{id, time.Now().Add(s.opt.AddressTTL)})
	return id, nil
}

type addrEntry struct {
	id    string
	until time.Time
}

// newAddrCache bounds the address cache like the journey cache (an
// unbounded map grew with every chat a process ever saw).
func newAddrCache(size int) *lru2.Cache[string, addrEntry] {
	c, _ := lru2.New[string, addrEntry](size) // size > 0: NewStore sets a default
	return c
}

// IndexName points a lookup name (kind "telegram_username") at a customer,
// for staff looking customers up. It is an index, not a link: nothing merges.
func (s *Store) IndexName(ctx context.Context, kind, name, id string) error {
	if err := s.rdb.Set(ctx, s.addrKey(kind, name), id, 0).Err(); err != nil {
		return fmt.Errorf("index %s: %w", kind, err)
	}
	return nil
}

// Linked tells what a link changed.
type Linked struct {
	// Merged is the journey merged into the customer's ("" none).
	Merged string
	// Previous is the customer's address on the channel before, now
	// unlinked ("" none): that chat may be told.
	Previous string
	// Moved is the store customer that had the address before ("" none).
	Moved string
}

// Link makes address the customer's address on channel: the chat's own
// journey merges into the customer's, the customer's previous address on the
// channel is unlinked, an opt-out given from the address carries over, and
// every process sees the link on its next commit.
func (s *Store) Link(ctx context.Context, channel, address, id string, now time.Time) (Linked, error) {
	return s.link(ctx, channel, address, id, now, true)
}

// LinkAlso links one more address on channel to the customer without making
// it the one messages go to (another written form of the same phone number).
func (s *Store) LinkAlso(ctx context.Context, channel, address, id string, now time.Time) (Linked, error) {
	return s.link(ctx, channel, address, id, now, false)
}

func (s *Store) link(ctx context.Context, channel, address, id string, now time.Time, primary bool) (Linked, error) {
	var out Linked
	cur, err := s.ResolveFresh(ctx, channel, address)
	if err != nil {
		return out, err
	}
	own := OwnID(channel, address)
	if cur != "" && cur != id && cur != own {
		// Another store customer's address: it moves, without their journey.
		out.Moved = cur
		if _, err := s.Update(ctx, cur, "", now, func(j *Journey) ([]HistoryEntry, error) {
			if j.Profile.Addresses[channel] != address {
				return nil, ErrNoChange
			}
			delete(j.Profile.Addresses, channel)
			return nil, nil
		}); err != nil {
			return out, fmt.Errorf("link %s address: detach from %s: %w", channel, cur, err)
		}
	}
	if own != id && cur != id {
		merged, err := s.merge(ctx, own, id, now)
		if err != nil {
			return out, fmt.Errorf("link %s address: %w", channel, err)
		}
		if merged {
			out.Merged = own
		}
	}
	var optedOut int64
	if v, err := s.rdb.Get(ctx, s.optOutKey(channel, address)).Int64(); err == nil {
		optedOut = v
	} else if !errors.Is(err, redis.Nil) {
		return out, fmt.Errorf("link %s address: read opt-out: %w", channel, err)
	}
	if _, err := s.Update(ctx, id, "", now, func(j *Journey) ([]HistoryEntry, error) {
		out.Previous = ""
		changed := false
		if optedOut != 0 && j.Profile.OptedOut == 0 {
			j.Profile.OptedOut = optedOut // the address said stop: a link does not undo it
			changed = true
		}
		if prev := j.Profile.Addresses[channel]; prev != address && (primary || prev == "") {
			if j.Profile.Addresses == nil {
				j.Profile.Addresses = map[string]string{}
			}
			j.Profile.Addresses[channel] = address
			out.Previous = prev
			changed = true
		}
		if !changed {
			return nil, ErrNoChange
		}
		return nil, nil
	}); err != nil {
		return out, fmt.Errorf("link %s address: %w", channel, err)
	}
	if err := s.rdb.Set(ctx, s.addrKey(channel, address), id, 0).Err(); err != nil {
		return out, fmt.Errorf("link %s address: %w", channel, err)
	}
	s.addrs.Add(channel+"\x00"+address, addrEntry{id, time.Now().Add(s.opt.AddressTTL)})
	if out.Previous != "" {
		// The old chat no longer reads this customer's orders, nor gets
		// their messages: its address key and its forward go.
		if err := s.unlinkAddress(ctx, channel, out.Previous, id); err != nil {
			return out, err
		}
	}
	return out, nil
}

// unlinkAddress removes the address's link to id (and the forward of the
// address's own journey to id), leaving links to anyone else alone.
func (s *Store) unlinkAddress(ctx context.Context, channel, address, id string) error {
	pipe := s.rdb.Pipeline()
	casDelScript.Eval(ctx, pipe, []string{s.addrKey(channel, address)}, id)
	dropForwardScript.Eval(ctx, pipe, []string{s.jkey(OwnID(channel, address))}, id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("unlink %s address: %w", channel, err)
	}
	s.addrs.Remove(channel + "\x00" + address)
	return nil
}

// casSetScript: KEYS key; ARGV from, to. Points key at `to` when it is
// unset or points at `from`.
var casSetScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] and v ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// casDelScript: KEYS key; ARGV value. Deletes key when it holds value.
var casDelScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// dropForwardScript: KEYS journey; ARGV id. Deletes a forward to id (a
// journey hash holding nothing else).
var dropForwardScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'mv') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'd') == 0 then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// merge forwards src to dst and merges src's journey into dst's. It
// reports whether src had a journey.
func (s *Store) merge(ctx context.Context, src, dst string, now time.Time) (bool, error) {
	// The list of merges under way lets a start finish one a crash cut short.
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.mergingKey(), src, dst)
	pipe.HSet(ctx, s.jkey(src), "mv", dst)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("merge %s into %s: %w", src, dst, err)
	}
	s.cache.drop(src)
	had, err := s.mergeFrom(ctx, src, dst, now)
	if err != nil {
		return false, err
	}
	return had, nil
}

// finishMerge finishes the merge of src into dst (src forwards to dst);
// nothing when it is done.
func (s *Store) finishMerge(ctx context.Context, src, dst string, now time.Time) error {
	_, err := s.mergeFrom(ctx, src, dst, now)
	return err
}

// ResumeMerges finishes the merges a process that died left under way.
func (s *Store) ResumeMerges(ctx context.Context) error {
	m, err := s.rdb.HGetAll(ctx, s.mergingKey()).Result()
	if err != nil {
		return fmt.Errorf("resume merges: %w", err)
	}
	for src, dst := range m {
		if _, err := s.mergeFrom(ctx, src, dst, time.Now()); err != nil {
			return fmt.Errorf("resume merges: %w", err)
		}
	}
	return nil
}

func (s *Store) mergeFrom(ctx context.Context, src, dst string, now time.Time) (bool, error) {
	pipe := s.rdb.Pipeline()
	head := pipe.HMGet(ctx, s.jkey(src), "v", "d", "mv")
	hist := pipe.LRange(ctx, s.hkey(src), 0, -1)
	seen := pipe.ZRangeWithScores(ctx, s.seenKey(src), 0, -1)
	orders := pipe.SMembers(ctx, s.ordersKey(src))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("merge %s: read: %w", src, err)
	}
	vals := head.Val()
	if to, _ := vals[2].(string); to != dst {
		// Not (or no longer) forwarded to dst: nothing of ours to do.
		return false, s.rdb.HDel(ctx, s.mergingKey(), src).Err()
	}
	ver, sj, err := decodeJourney(src, vals[:2])
	if err != nil {
		return false, fmt.Errorf("merge %s: %w", src, err)
	}
	had := ver > 0
	target := dst
	if had {
		// Its unsent messages stay in its outbox, whose senders deliver them
		// (they carry their chat): moving them could send one twice, taken
		// by a sender just before the move.
		if target, err = s.applyMerge(ctx, src, ver, sj, hist.Val(), seen.Val(), dst, now); err != nil {
			return false, err
		}
	} else {
		sj = New(src, now)
	}
	// Point the old journey's addresses and orders at the customer.
	pipe = s.rdb.Pipeline()
	for ch, a := range sj.Profile.Addresses {
		casSetScript.Eval(ctx, pipe, []string{s.addrKey(ch, a)}, src, target)
		s.addrs.Remove(ch + "\x00" + a)
	}
	ids := orders.Val()
	for _, o := range sj.Orders {
		ids = append(ids, o.ID)
	}
	for _, o := range ids {
		casSetScript.Eval(ctx, pipe, []string{s.orderKey(o)}, src, target)
		pipe.SAdd(ctx, s.ordersKey(target), o)
	}
	pipe.ZRem(ctx, s.dueq.of(src).ready, src)
	pipe.ZRem(ctx, s.activeKey(), src)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("merge %s: repoint: %w", src, err)
	}
	// The old journey's keys go; its forward stays.
	pipe = s.rdb.Pipeline()
	pipe.Del(ctx, s.hkey(src), s.seenKey(src), s.ordersKey(src))
	pipe.HDel(ctx, s.jkey(src), "v", "d")
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("merge %s: clean up: %w", src, err)
	}
	if err := s.rdb.HDel(ctx, s.mergingKey(), src).Err(); err != nil {
		return false, fmt.Errorf("merge %s: %w", src, err)
	}
	s.cache.drop(src)
	return had, nil
}

// applyMerge commits src's journey into dst (following dst's own forward)
// and returns the id it was committed to.
func (s *Store) applyMerge(ctx context.Context, src string, srcVer int64, sj *Journey, hist []string, seen []redis.Z, dst string, now time.Time) (string, error) {
	mergeID := "merge:" + src + ":" + strconv.FormatInt(srcVer, 10)
	s.cache.drop(dst)
	id, ver, cur, err := s.loadFollow(ctx, dst, now)
	if err != nil {
		return "", err
	}
	for attempt := 0; attempt < 1000; attempt++ {
		next := cur.Clone()
		MergeJourney(next, sj)
		data, err := encodeJourney(next)
		if err != nil {
			return "", fmt.Errorf("merge %s: encode: %w", src, err)
		}
		args := make([]any, 0, 9+len(hist)+2*len(seen))
		args = append(args, ver, data, mergeID, now.Unix(), int64(s.opt.SeenTTL/time.Second), s.opt.HistoryCap, len(hist))
		for _, h := range hist {
			args = append(args, h)
		}
		args = append(args, len(seen))
		for _, z := range seen {
			args = append(args, z.Score, z.Member)
		}
		res, err := mergeScript.Run(ctx, s.rdb, []string{s.jkey(id), s.hkey(id), s.seenKey(id)}, args...).Slice()
		if err != nil {
			return "", fmt.Errorf("merge %s into %s: %w", src, id, err)
		}
		switch res[0].(int64) {
		case -2:
			to, _ := res[1].(string)
			if id, ver, cur, err = s.loadFollow(ctx, to, now); err != nil {
				return "", err
			}
			continue
		case -1:
			return id, nil // merged before (a merge resumed)
		case 1:
			s.cache.put(id, res[1].(int64), next)
			if err := s.Schedule(ctx, id, next.NextDue()); err != nil {
				return "", err
			}
			return id, nil
		}
		ver = res[1].(int64)
		cur = New(id, now)
		if raw, ok := res[2].(string); ok {
			cur = &Journey{}
			if err := decodeDoc([]byte(raw), cur); err != nil {
				return "", fmt.Errorf("journey %s: decode: %w", id, err)
			}
		}
	}
	return "", fmt.Errorf("merge %s into %s: gave up after conflicting writes", src, id)
}

// mergeScript commits a merge into the target journey: the merged document,
// the old journey's history interleaved with the target's by time (capped)
// and its message ids (so redeliveries stay duplicates). KEYS journey,
// history, seen. ARGV version, document, merge id, now, seen TTL, history
// cap, number of history lines, the lines, number of message ids, (score,
// id) pairs. Answers like the commit script; -1 when this merge was applied
// before.
var mergeScript = redis.NewScript(`
local mv = redis.call('HGET', KEYS[1], 'mv')
if mv then return {-2, mv} end
if redis.call('ZSCORE', KEYS[3], ARGV[3]) then return {-1} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {0, v, redis.call('HGET', KEYS[1], 'd')} end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local nh = tonumber(ARGV[7])
local i = 8
if nh > 0 then
  local all = {}
  local function add(line)
    local ok, e = pcall(cjson.decode, line)
    local at = 0
    if ok and type(e) == 'table' and tonumber(e.at) then at = tonumber(e.at) end
    all[#all + 1] = {at, #all, line}
  end
  for _, l in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do add(l) end
  for k = i, i + nh - 1 do add(ARGV[k]) end
  table.sort(all, function(a, b) if a[1] ~= b[1] then return a[1] < b[1] end return a[2] < b[2] end)
  redis.call('DEL', KEYS[2])
  local from = math.max(1, #all - tonumber(ARGV[6]) + 1)
  for k = from, #all do redis.call('RPUSH', KEYS[2], all[k][3]) end
end
i = i + nh
local ns = tonumber(ARGV[i])
i = i + 1
for k = 1, ns do
  redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('ZADD', KEYS[3], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl)
redis.call('EXPIRE', KEYS[3], ttl)
return {1, v + 1}
`)

// MergeJourney merges src (a chat's journey) into j (the customer's). The
// most protective flag wins (opted out, unreachable, paused); what j lacks
// it takes from src (language, time zone, name, contact, answers, fields, an
// open case); the conversation in progress is the one the customer wrote in
// last; timers are joined (j's win on the same key); counters add up;
// times take the later (created the earlier).
func MergeJourney(j, src *Journey) {
	p, sp := &j.Profile, src.Profile
	if sp.OptedOut != 0 && (p.OptedOut == 0 || sp.OptedOut < p.OptedOut) {
		p.OptedOut = sp.OptedOut
	}
	if sp.Unreachable != 0 && p.Unreachable == 0 {
		p.Unreachable = sp.Unreachable
	}
	p.Paused = p.Paused || sp.Paused
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&p.Language, sp.Language)
	fill(&p.TimeZone, sp.TimeZone)
	fill(&p.Name, sp.Name)
	fill(&p.Email, sp.Email)
	fill(&p.Phone, sp.Phone)
	fill(&p.Username, sp.Username)
	fill(&p.Variant, sp.Variant)
	p.Points = max(p.Points, sp.Points)
	p.Addresses = fillMap(p.Addresses, sp.Addresses)
	p.Fields = fillMap(p.Fields, sp.Fields)
	j.Answers = fillMap(j.Answers, src.Answers)
	if j.Stage == "" {
		j.Stage, j.StageSince = src.Stage, src.StageSince
	} else if src.Stage != "" {
		// Both were counted in a stage: the figures let src's go at the
		// next update (package insight).
		if j.Figures == nil {
			j.Figures = &Figures{}
		}
		j.Figures.Unstage = append(j.Figures.Unstage, src.Stage)
	}
	if src.Figures != nil {
		if j.Figures == nil {
			j.Figures = &Figures{}
		}
		if j.Figures.NudgeFlow == "" {
			j.Figures.NudgeFlow, j.Figures.Replied = src.Figures.NudgeFlow, src.Figures.Replied
		}
		j.Figures.Unstage = append(j.Figures.Unstage, src.Figures.Unstage...)
	}
	if src.Conv.Flow != "" && (j.Conv.Flow == "" || src.LastInbound > j.LastInbound) {
		j.Conv = src.Conv
	}
	for _, o := range src.Orders {
		if j.Order(o.ID) == nil {
			j.UpsertOrder(o)
		}
	}
	for _, t := range src.Timers {
		if !slices.ContainsFunc(j.Timers, func(o Timer) bool { return o.Key == t.Key }) {
			j.Timers = append(j.Timers, t)
		}
	}
	for _, f := range src.Fired {
		if !slices.Contains(j.Fired, f) {
			j.Fired = append(j.Fired, f)
		}
	}
	if len(j.Fired) > MaxFired {
		j.Fired = j.Fired[len(j.Fired)-MaxFired:]
	}
	if j.Case == nil && src.Case != nil {
		k := *src.Case
		j.Case = &k
	}
	c, sc := &j.Counters, src.Counters
	c.Inbound += sc.Inbound
	c.Outbound += sc.Outbound
	switch {
	case sc.Day == c.Day:
		c.SentDay += sc.SentDay
	case sc.Day > c.Day:
		c.Day, c.SentDay = sc.Day, sc.SentDay
	}
	switch {
	case sc.Week == c.Week:
		c.SentWeek += sc.SentWeek
	case sc.Week > c.Week:
		c.Week, c.SentWeek = sc.Week, sc.SentWeek
	}
	if src.Created != 0 && (j.Created == 0 || src.Created < j.Created) {
		j.Created = src.Created
	}
	j.LastInbound = max(j.LastInbound, src.LastInbound)
	j.LastProactive = max(j.LastProactive, src.LastProactive)
	j.LastPurchase = max(j.LastPurchase, src.LastPurchase)
	j.LastEvent = max(j.LastEvent, src.LastEvent)
	j.Intake = max(j.Intake, src.Intake)
	j.Flooded = j.Flooded || src.Flooded
	for ch, t := range src.Seen {
		if j.Seen == nil {
			j.Seen = map[string]int64{}
		}
		j.Seen[ch] = max(j.Seen[ch], t)
	}
	for _, m := range append([]string{src.ID}, src.Merged...) {
		if m != j.ID && !slices.Contains(j.Merged, m) {
			j.Merged = append(j.Merged, m)
		}
	}
}

// fillMap adds to dst the keys of src it lacks.
func fillMap(dst, src map[string]string) map[string]string {
	for k, v := range src {
		if _, ok := dst[k]; !ok {
			if dst == nil {
				dst = make(map[string]string, len(src))
			}
			dst[k] = v
		}
	}
	return dst
}

// besideCommit adds to a commit's pipeline what lives outside the
// customer's slot: the opt-out of each of the customer's addresses (so a
// later link cannot undo it) and, when the customer or the store did
// something, the activity index retention reads.
func (s *Store) besideCommit(ctx context.Context, pipe redis.Pipeliner, id string, cur, next *Journey, now time.Time) {
	if oo := next.Profile.OptedOut; oo != 0 {
		for ch, a := range next.Profile.Addresses {
			if cur.Profile.OptedOut == 0 || cur.Profile.Addresses[ch] != a {
				pipe.Set(ctx, s.optOutKey(ch, a), oo, 0)
			}
		}
	} else if cur.Profile.OptedOut != 0 {
		for ch, a := range cur.Profile.Addresses {
			pipe.Del(ctx, s.optOutKey(ch, a))
		}
		for ch, a := range next.Profile.Addresses {
			pipe.Del(ctx, s.optOutKey(ch, a))
		}
	}
	// A day's precision is plenty for a retention of months, and keeps the
	// hot path to one write per customer a day.
	const day = 86400
	if next.LastInbound/day != cur.LastInbound/day || next.LastEvent/day != cur.LastEvent/day {
		pipe.ZAdd(ctx, s.activeKey(), redis.Z{Score: float64(now.Unix()), Member: id})
	}
}

func (s *Store) activeKey() string { return s.opt.Prefix + ":active" }
