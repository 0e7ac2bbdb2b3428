package journey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Privacy (LGPD art. 18 and 19): everything kept about one customer can be
// listed and exported, and erased. Daily figures (prefix:stats:DAY) are
// aggregates without the person in them and stay.

// ErrUnknownCustomer: nothing in Redis answers to what the operator named.
var ErrUnknownCustomer = errors.New("no such customer")

// FindCustomer returns the customer an operator names: a customer id, a
// chat address ("telegram:123") or an order id.
func (s *Store) FindCustomer(ctx context.Context, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", fmt.Errorf("%w: give a customer id, a chat address (telegram:123) or an order id", ErrUnknownCustomer)
	}
	if ch, addr, ok := strings.Cut(ref, ":"); ok && ch != "" && addr != "" {
		if id, err := s.ResolveFresh(ctx, ch, addr); err != nil {
			return "", err
		} else if id != "" {
			return s.follow(ctx, id)
		}
	}
	if id, found, err := s.exists(ctx, ref); err != nil || found {
		return id, err
	}
	if owner, err := s.OrderOwner(ctx, strings.TrimPrefix(ref, "#")); err != nil {
		return "", err
	} else if owner != "" {
		return s.follow(ctx, owner)
	}
	return "", fmt.Errorf("%w: %q is no customer id, chat address or order id known in Redis (prefix %s)", ErrUnknownCustomer, ref, s.opt.Prefix)
}

func (s *Store) follow(ctx context.Context, id string) (string, error) {
	id, found, err := s.exists(ctx, id)
	if err == nil && !found {
		err = fmt.Errorf("%w: %q is linked but has no journey", ErrUnknownCustomer, id)
	}
	return id, err
}

// exists follows forwards and reports whether a journey is stored.
func (s *Store) exists(ctx context.Context, id string) (string, bool, error) {
	id, ver, _, err := s.loadFollow(ctx, id, time.Now())
	return id, ver > 0, err
}

// Export is everything the bot keeps about one customer, readable.
type Export struct {
	Customer string    `json:"customer"`
	Exported time.Time `json:"exported_at"`
	// Journey is the stored document (stage, profile, orders, the
	// conversation in progress, timers, answers, counters, the open case).
	Journey map[string]any `json:"journey"`
	History []HistoryEntry `json:"history"`
	// Addresses are the chats linked to the customer, by channel.
	Addresses map[string][]string `json:"addresses"`
	Orders    []string            `json:"orders"`
	// OptedOut are the addresses that said stop (Unix seconds).
	OptedOut map[string]int64 `json:"opted_out_addresses,omitempty"`
	// Outbox are messages committed and not sent yet.
	Outbox []Outgoing `json:"outbox,omitempty"`
	// HandledMessages counts the message and event ids remembered (48 h)
	// so a redelivery is not handled twice.
	HandledMessages int64    `json:"handled_message_ids"`
	Cases           []string `json:"staff_case_threads,omitempty"`
	// Keys are the Redis keys that hold something of the customer.
	Keys []string `json:"redis_keys"`
	// Indexes are shared keys that list the customer (work queues, the
	// retention index); the entries go with an erase.
	Indexes []string `json:"listed_in,omitempty"`
}

// customerKeys is what belongs to a customer, found from the journey and a
// scan for the keys that name the customer's chats or id only in their value.
type customerKeys struct {
	keys     []string // keys of the customer's own
	outbox   []string // the outbox and its pacing record (kept by an erase that sends a last message)
	owners   []string // the customer's chats as inbox owners
	cases    []string // staff case threads
	orders   []string
	addrs    map[string][]string
	optedOut map[string]int64
}

func (s *Store) collect(ctx context.Context, id string, j *Journey) (*customerKeys, error) {
	ck := &customerKeys{addrs: map[string][]string{}, optedOut: map[string]int64{}}
	own := []string{s.jkey(id), s.hkey(id), s.seenKey(id), s.ordersKey(id)}
	orders, err := s.rdb.SMembers(ctx, s.ordersKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("customer %s: orders: %w", id, err)
	}
	for _, o := range j.Orders {
		orders = append(orders, o.ID)
	}
	slices.Sort(orders)
	ck.orders = slices.Compact(orders)
	// Candidates whose value must be checked: (key, value it must hold).
	type cand struct{ key, want string }
	var cands []cand
	chats := map[string]bool{}
	for ch, a := range j.Profile.Addresses {
		chats[ch+":"+a] = true
	}
	for _, m := range j.Merged {
		chats[m] = true
	}
	for c := range chats {
		ch, a, _ := strings.Cut(c, ":")
		own = append(own, s.optOutKey(ch, a), s.inKey(c), s.attemptKey("chat", c), s.outKey(c), s.metaKey(c))
		cands = append(cands, cand{s.addrKey(ch, a), id}, cand{s.jkey(c), "mv=" + id})
		ck.owners = append(ck.owners, c)
	}
	if u := strings.ToLower(strings.TrimPrefix(j.Profile.Username, "@")); u != "" {
		for ch := range j.Profile.Addresses {
			cands = append(cands, cand{s.addrKey(ch+"_username", u), id})
		}
	}
	for _, o := range ck.orders {
		cands = append(cands, cand{s.orderKey(o), id})
		own = append(own, s.attemptKey("order", o))
	}
	// Keys that name the customer only in their value: the first chat of a
	// deep link, staff case threads, and address keys of chats no longer in
	// the profile.
	prefix := s.opt.Prefix + ":"
	err = s.scan(ctx, prefix+"*", func(keys []string) error {
		pipe := s.rdb.Pipeline()
		type probe struct {
			key string
			cmd *redis.Cmd
		}
		var ps []probe
		for _, k := range keys {
			rest := strings.TrimPrefix(k, prefix)
			switch {
			case strings.HasPrefix(rest, "link:"), strings.HasPrefix(rest, "addr:"), strings.HasPrefix(rest, "order:"):
				ps = append(ps, probe{k, pipe.Do(ctx, "GET", k)})
			case strings.HasPrefix(rest, "slack:case:"):
				ps = append(ps, probe{k, pipe.Do(ctx, "HGET", k, "customer")})
			}
		}
		if len(ps) == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, p := range ps {
			v, _ := p.cmd.Text()
			switch {
			case v == id:
				if ts, ok := strings.CutPrefix(p.key, prefix+"slack:case:"); ok {
					ck.cases = append(ck.cases, ts)
				}
				own = append(own, p.key)
			case chats[v] && strings.HasPrefix(p.key, prefix+"link:"):
				own = append(own, p.key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("customer %s: scan: %w", id, err)
	}
	pipe := s.rdb.Pipeline()
	vals := make([]*redis.Cmd, len(cands))
	for i, c := range cands {
		if strings.HasPrefix(c.want, "mv=") {
			vals[i] = pipe.Do(ctx, "HGET", c.key, "mv")
		} else {
			vals[i] = pipe.Do(ctx, "GET", c.key)
		}
	}
	ex := make([]*redis.IntCmd, len(own))
	for i, k := range own {
		ex[i] = pipe.Exists(ctx, k)
	}
	oo := map[string]*redis.Cmd{}
	for ch, a := range j.Profile.Addresses {
		oo[ch+":"+a] = pipe.Do(ctx, "GET", s.optOutKey(ch, a))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("customer %s: keys: %w", id, err)
	}
	var keys []string
	for i, c := range cands {
		v, _ := vals[i].Text()
		if v == strings.TrimPrefix(c.want, "mv=") {
			keys = append(keys, c.key)
		}
	}
	for i, k := range own {
		if ex[i].Val() > 0 {
			keys = append(keys, k)
		}
	}
	for c, cmd := range oo {
		if t, err := cmd.Int64(); err == nil {
			ck.optedOut[c] = t
		}
	}
	for _, k := range keys {
		if a, ok := strings.CutPrefix(k, prefix+"addr:"); ok {
			if ch, addr, ok := strings.Cut(a, ":"); ok && !strings.HasSuffix(ch, "_username") {
				ck.addrs[ch] = append(ck.addrs[ch], addr)
			}
		}
	}
	for _, k := range []string{s.outKey(id), s.metaKey(id)} {
		if n, err := s.rdb.Exists(ctx, k).Result(); err == nil && n > 0 {
			ck.outbox = append(ck.outbox, k)
		}
	}
	slices.Sort(keys)
	ck.keys = slices.Compact(keys)
	return ck, nil
}

// scan calls fn with batches of the keys matching pattern, on every master
// of a cluster.
func (s *Store) scan(ctx context.Context, pattern string, fn func([]string) error) error {
	one := func(ctx context.Context, c redis.UniversalClient) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if err := fn(keys); err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return one(ctx, c) })
	}
	return one(ctx, s.rdb)
}

// gather loads the customer's journey (following a merge) and finds every
// key kept about them, for Export and Erase.
func (s *Store) gather(ctx context.Context, id string, now time.Time) (string, *Journey, *customerKeys, error) {
	id, ver, j, err := s.loadFollow(ctx, id, now)
	if err != nil {
		return "", nil, nil, err
	}
	if ver == 0 {
		return "", nil, nil, fmt.Errorf("%w: %q has no journey", ErrUnknownCustomer, id)
	}
	ck, err := s.collect(ctx, id, j)
	if err != nil {
		return "", nil, nil, err
	}
	return id, j, ck, nil
}

// Export returns everything kept about the customer (see FindCustomer for
// the id).
func (s *Store) Export(ctx context.Context, id string, now time.Time) (*Export, error) {
	id, j, ck, err := s.gather(ctx, id, now)
	if err != nil {
		return nil, err
	}
	hist, err := s.History(ctx, id, 1<<20)
	if err != nil {
		return nil, err
	}
	out, _, err := s.Outbox(ctx, id, 1000)
	if err != nil {
		return nil, err
	}
	handled, err := s.rdb.ZCard(ctx, s.seenKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("customer %s: %w", id, err)
	}
	e := &Export{
		Customer: id, Exported: now.UTC(), Journey: readable(j), History: hist, Addresses: ck.addrs,
		Orders: ck.orders, OptedOut: ck.optedOut, HandledMessages: handled, Cases: ck.cases,
		Keys: append(ck.keys, ck.outbox...), Indexes: s.listedIn(ctx, id, ck.owners),
	}
	for _, p := range out {
		e.Outbox = append(e.Outbox, p.Outgoing)
	}
	if j.Case != nil && j.Case.Ref != "" && !slices.Contains(e.Cases, j.Case.Ref) {
		e.Cases = append(e.Cases, j.Case.Ref)
	}
	sort.Strings(e.Keys)
	return e, nil
}

// listedIn names the shared indexes that list the customer or its chats.
func (s *Store) listedIn(ctx context.Context, id string, owners []string) []string {
	var out []string
	check := func(key, member string) {
		if _, err := s.rdb.ZScore(ctx, key, member).Result(); err == nil {
			out = append(out, key)
		}
	}
	for _, q := range []*queue{s.dueq, s.outq} {
		check(q.of(id).ready, id)
	}
	check(s.activeKey(), id)
	for _, o := range owners {
		check(s.inq.of(o).ready, o)
	}
	return out
}

// readable turns the journey's compact document into named fields.
func readable(j *Journey) map[string]any {
	raw, _ := json.Marshal(j)
	var short map[string]any
	json.Unmarshal(raw, &short)
	return rename(short, journeyNames)
}

// journeyNames are the stored document's short keys, spelled out.
var journeyNames = map[string]string{
	"id": "id", "st": "stage", "p": "profile", "o": "orders", "c": "conversation", "t": "timers",
	"a": "answers", "n": "counters", "k": "case", "f": "sent_idempotency_keys", "cr": "created",
	"li": "last_inbound", "lp": "last_proactive", "lb": "last_purchase", "ss": "stage_since",
	"le": "last_event", "it": "intake_limit_state", "fl": "flooded", "sn": "last_seen_by_channel",
	"mg": "merged_journeys",
	// profile
	"nm": "name", "lg": "language", "tz": "time_zone", "em": "email", "ph": "phone", "ad": "addresses",
	"un": "username", "pt": "points", "fd": "fields", "ab": "variant", "oo": "opted_out", "ur": "unreachable",
	"ps": "paused",
	// orders, items, conversation, timers, counters, case
	"s": "status", "i": "items", "cu": "currency", "tr": "tracking_url", "up": "updated", "q": "qty",
	"w": "waiting", "r": "retries", "m": "misses", "d": "due", "sd": "sent_today", "sw": "sent_this_week",
	"in": "inbound", "out": "outbound", "ref": "thread", "sid": "staff_id", "rr": "reraised",
	"ws": "waiting_since",
	// what the figures remember (package insight)
	"fg": "figures", "x": "experiments", "nf": "last_nudge_flow", "nr": "replied_to_last_nudge", "fb": "first_purchase",
	"nb": "purchases", "bd": "last_purchase_day", "bm": "last_purchase_month", "sv": "spent_cents",
	"us": "merged_stages_still_counted",
}

// assignmentNames are the fields of an experiment assignment.
var assignmentNames = map[string]string{"v": "variant", "t": "exposed", "c": "converted"}

func rename(v any, names map[string]string) map[string]any {
	m, _ := v.(map[string]any)
	out := make(map[string]any, len(m))
	for k, x := range m {
		name := k
		if n, ok := names[k]; ok {
			name = n
		}
		switch y := x.(type) {
		case map[string]any:
			if k == "ad" || k == "fd" || k == "a" || k == "sn" {
				out[name] = y // data keys, not field names
			} else if k == "x" { // experiment ids -> assignments
				ex := make(map[string]any, len(y))
				for id, a := range y {
					ex[id] = rename(a, assignmentNames)
				}
				out[name] = ex
			} else {
				out[name] = rename(y, names)
			}
		case []any:
			list := make([]any, len(y))
			for i, e := range y {
				if em, ok := e.(map[string]any); ok {
					list[i] = rename(em, names)
				} else {
					list[i] = e
				}
			}
			out[name] = list
		default:
			out[name] = x
		}
	}
	return out
}

// Erased says what an erase removed.
type Erased struct {
	Customer string
	Keys     int
	// Cases are the staff case threads of the customer, for a note there.
	Cases []string
}

// EraseOptions tune an erase.
type EraseOptions struct {
	// KeepOutbox leaves the messages not sent yet (a last "your data was
	// erased" message); they go as they are sent.
	KeepOutbox bool
	// Before, when set, hears the customer's staff case threads before
	// their records go (a note there needs them).
	Before func(cases []string)
}

// Erase removes everything kept about the customer: the journey, history,
// handled ids, addresses and their opt-out records, the order index, timers,
// the queues' entries, the chats' inboxes and dead letters, forwards of
// merged journeys, staff case records; and records the id (hashed) as
// erased, so that an event does not bring the customer back without consent.
func (s *Store) Erase(ctx context.Context, id string, now time.Time, o EraseOptions) (*Erased, error) {
	id, j, ck, err := s.gather(ctx, id, now)
	if err != nil {
		return nil, err
	}
	cases := ck.cases
	if j.Case != nil && j.Case.Ref != "" && !slices.Contains(cases, j.Case.Ref) {
		cases = append(cases, j.Case.Ref)
	}
	if o.Before != nil {
		o.Before(cases)
	}
	keys := ck.keys
	if !o.KeepOutbox {
		keys = append(keys, ck.outbox...)
	}
	pipe := s.rdb.Pipeline()
	// The suppression record first: an event racing the erase is refused.
	pipe.SAdd(ctx, s.erasedKey(), ErasedID(id))
	for _, k := range keys {
		pipe.Del(ctx, k) // one key a command: they live in different cluster slots
	}
	for _, q := range []*queue{s.dueq, s.outq} {
		if q == s.outq && o.KeepOutbox {
			continue
		}
		w := q.of(id)
		pipe.ZRem(ctx, w.ready, id)
		pipe.HDel(ctx, w.leases, id)
		pipe.ZRem(ctx, w.dirty, id)
	}
	pipe.ZRem(ctx, s.activeKey(), id)
	pipe.HDel(ctx, s.mergingKey(), id)
	for _, c := range ck.owners {
		// c is a chat: the owner of its inbox, and the id of its own
		// journey, whose outbox a merge leaves to drain.
		for _, q := range []*queue{s.inq, s.outq} {
			w := q.of(c)
			pipe.ZRem(ctx, w.ready, c)
			pipe.HDel(ctx, w.leases, c)
			pipe.ZRem(ctx, w.dirty, c)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("erase %s: %w", id, err)
	}
	if err := s.dropDeadLetters(ctx, ck.owners); err != nil {
		return nil, fmt.Errorf("erase %s: %w", id, err)
	}
	s.cache.drop(id)
	for ch, a := range j.Profile.Addresses {
		s.addrs.Remove(ch + "\x00" + a)
	}
	return &Erased{Customer: id, Keys: len(keys), Cases: cases}, nil
}

// dropDeadLetters removes the dead letters of the chats.
func (s *Store) dropDeadLetters(ctx context.Context, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	dead, err := s.rdb.LRange(ctx, s.deadKey(), 0, -1).Result()
	if err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	n := 0
	for _, d := range dead {
		for _, o := range owners {
			if strings.HasPrefix(d, o+" ") {
				pipe.LRem(ctx, s.deadKey(), 0, d)
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	_, err = pipe.Exec(ctx)
	return err
}

func (s *Store) erasedKey() string { return s.opt.Prefix + ":erased" }

// ErasedID is how an erased customer id is remembered: a hash, no personal data.
func ErasedID(id string) string {
	h := sha256.Sum256([]byte("journeybot-erased:" + id))
	return hex.EncodeToString(h[:16])
}

// WasErased reports whether the customer was erased (and not brought back
// with consent since).
func (s *Store) WasErased(ctx context.Context, id string) (bool, error) {
	ok, err := s.rdb.SIsMember(ctx, s.erasedKey(), ErasedID(id)).Result()
	if err != nil {
		return false, fmt.Errorf("erased list: %w", err)
	}
	return ok, nil
}

// Consented takes the customer off the erased list: they agreed again.
func (s *Store) Consented(ctx context.Context, id string) error {
	if err := s.rdb.SRem(ctx, s.erasedKey(), ErasedID(id)).Err(); err != nil {
		return fmt.Errorf("erased list: %w", err)
	}
	return nil
}

// Inactive returns up to limit customers with no activity (a message from
// them, an event of theirs) since before, oldest first.
func (s *Store) Inactive(ctx context.Context, before time.Time, limit int) ([]string, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.activeKey(), Start: "-inf", Stop: fmt.Sprint(before.Unix()), ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("inactive customers: %w", err)
	}
	return ids, nil
}

// ClaimInactive takes id off the activity index, and reports whether this
// caller did (so one process erases it).
func (s *Store) ClaimInactive(ctx context.Context, id string, before time.Time) (bool, error) {
	n, err := claimInactiveScript.Run(ctx, s.rdb, []string{s.activeKey()}, id, before.Unix()).Int()
	if err != nil {
		return false, fmt.Errorf("claim inactive %s: %w", id, err)
	}
	return n == 1, nil
}

// claimInactiveScript: the entry goes only when still older than the limit
// (the customer may have written meanwhile).
var claimInactiveScript = redis.NewScript(`
local t = redis.call('ZSCORE', KEYS[1], ARGV[1])
if t and tonumber(t) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`)

// indexActivity puts the journeys stored by versions without the activity
// index into it (by their last message or event, else their creation), once:
// retention would never see them otherwise.
func (s *Store) indexActivity(ctx context.Context) error {
	done := s.opt.Prefix + ":active:indexed"
	if n, err := s.rdb.Exists(ctx, done).Result(); err != nil || n > 0 {
		return err
	}
	prefix := s.opt.Prefix + ":{c:"
	err := s.scan(ctx, prefix+"*", func(keys []string) error {
		pipe := s.rdb.Pipeline()
		type doc struct {
			id  string
			cmd *redis.StringCmd
		}
		var docs []doc
		for _, k := range keys {
			if strings.HasSuffix(k, "}") { // the journey hash, not :h, :seen...
				docs = append(docs, doc{strings.TrimSuffix(strings.TrimPrefix(k, prefix), "}"), pipe.HGet(ctx, k, "d")})
			}
		}
		if len(docs) == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		pipe = s.rdb.Pipeline()
		for _, d := range docs {
			var j Journey
			if decodeDoc([]byte(d.cmd.Val()), &j) != nil {
				continue // a forward, or a document another check reports
			}
			at := max(j.LastInbound, j.LastEvent)
			if at == 0 {
				at = j.Created
			}
			pipe.ZAddNX(ctx, s.activeKey(), redis.Z{Score: float64(at), Member: d.id})
		}
		_, err := pipe.Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("index journeys for retention: %w", err)
	}
	return s.rdb.Set(ctx, done, time.Now().Unix(), 0).Err()
}

// StageCounts counts the stored journeys by stage, through the activity
// index (every journey is in it): for the figures of "customers in each
// stage now" when they must be counted afresh. It reads the journeys in
// pipelined pages of 500.
func (s *Store) StageCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	const page = 500
	for start := int64(0); ; start += page {
		ids, err := s.rdb.ZRange(ctx, s.activeKey(), start, start+page-1).Result()
		if err != nil {
			return nil, fmt.Errorf("count stages: %w", err)
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HMGet(ctx, s.jkey(id), "v", "d")
		}
		if len(ids) > 0 {
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("count stages: %w", err)
			}
		}
		for i, c := range cmds {
			// A forward of a merged journey has no document: not counted.
			if _, j, err := decodeJourney(ids[i], c.Val()); err == nil && j != nil && j.Stage != "" {
				out[j.Stage]++
			}
		}
		if len(ids) < page {
			return out, nil
		}
	}
}
