package journey

import (
	"context"
	"fmt"
	"testing"
	"time"

	"journeybot/internal/redistest"

	"github.com/redis/go-redis/v9"
)

// The shared work indexes are spread over shards in slots of their own, so a
// busy queue is not one hot slot: in a cluster its shards sit on every master.
func TestQueueShardsSpreadOverTheCluster(t *testing.T) {
	r := redistest.NewCluster(t)
	s := NewStore(r.Client, Options{Prefix: r.Prefix})
	ctx := context.Background()
	if err := s.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for i := range 200 {
		id := fmt.Sprint("c", i)
		if err := s.Schedule(ctx, id, 100); err != nil {
			t.Fatal(err)
		}
		used[int(fnvShard(id))] = true
	}
	if len(used) != queueShards {
		t.Fatalf("200 customers in %d shards, want all %d", len(used), queueShards)
	}
	nodes := map[string]bool{}
	cc := r.Client.(*redis.ClusterClient)
	for _, w := range s.dueq.shards {
		n, err := cc.MasterForKey(ctx, w.ready)
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := n.ZCard(ctx, w.ready).Result(); c == 0 {
			t.Fatalf("shard %s empty on the node that owns it", w.ready)
		}
		nodes[n.Options().Addr] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("the due index's shards all live on %v", nodes)
	}
	// All 200 are found and claimed through the shards, no more than asked.
	got, err := s.Claim(ctx, 100, 1000, 150)
	if err != nil || len(got) != 150 {
		t.Fatalf("claim 150: %d, %v", len(got), err)
	}
	rest, err := s.Claim(ctx, 100, 1000, 150)
	if err != nil || len(rest) != 50 {
		t.Fatalf("claim the rest: %d, %v", len(rest), err)
	}
}

func fnvShard(id string) uint32 {
	q := newQueue("x", "due")
	w := q.of(id)
	for i, s := range q.shards {
		if s == w {
			return uint32(i)
		}
	}
	return 0
}

// Work queued by an earlier version in the one-slot index is moved into the
// shards at start: nothing is forgotten, leased work included.
func TestPrepareMovesTheUnshardedQueues(t *testing.T) {
	redistest.Each(t, testPrepareMovesTheUnshardedQueues)
}

func testPrepareMovesTheUnshardedQueues(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	now := time.Now()
	for _, name := range []string{"out", "in", "due"} {
		old := newWorkIndex(r.Prefix, name)
		r.Client.ZAdd(ctx, old.ready, redis.Z{Score: float64(now.UnixMilli()), Member: "a"}, redis.Z{Score: float64(now.Add(time.Minute).UnixMilli()), Member: "b"})
		r.Client.HSet(ctx, old.leases, "b", now.Add(time.Minute).UnixMilli())
		r.Client.ZAdd(ctx, old.dirty, redis.Z{Score: float64(now.UnixMilli()), Member: "c"})
	}
	s := NewStore(r.Client, Options{Prefix: r.Prefix})
	if err := s.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []*queue{s.outq, s.inq, s.dueq} {
		if n, err := s.count(ctx, q); err != nil || n != 3 {
			t.Fatalf("%s: %d owners after the move, want 3 (%v)", q.name, n, err)
		}
		ids, err := s.claimQueue(ctx, q, now.UnixMilli(), now.Add(time.Hour).UnixMilli(), 10)
		if err != nil || len(ids) != 2 {
			t.Fatalf("%s: ready now %v, want a and c (%v)", q.name, ids, err)
		}
		old := newWorkIndex(r.Prefix, q.name)
		if n, _ := r.Client.Exists(ctx, old.ready, old.leases, old.dirty).Result(); n != 0 {
			t.Fatalf("%s: %d old keys left", q.name, n)
		}
	}
}
