package journey_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

func newStore(t *testing.T, r *redistest.Redis) *journey.Store {
	return journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix, HistoryCap: 5})
}

// Two "processes" (separate stores, separate caches) and several goroutines
// each update the same customer; no increment may be lost.
func TestUpdateIsAtomicAcrossProcesses(t *testing.T) {
	redistest.Each(t, testUpdateIsAtomicAcrossProcesses)
}

func testUpdateIsAtomicAcrossProcesses(t *testing.T, r *redistest.Redis) {
	stores := []*journey.Store{newStore(t, r), newStore(t, r)}
	ctx := context.Background()
	const perWorker = 50
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(s *journey.Store) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				_, err := s.Update(ctx, "c1", "", time.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
					j.Counters.Inbound++
					return nil, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(stores[w%2])
	}
	wg.Wait()
	j, found, err := stores[0].Get(ctx, "c1")
	if err != nil || !found {
		t.Fatalf("get: found=%v err=%v", found, err)
	}
	if j.Counters.Inbound != 6*perWorker {
		t.Fatalf("lost updates: counter = %d, want %d", j.Counters.Inbound, 6*perWorker)
	}
}

func TestUpdateDeduplicatesMessageIDs(t *testing.T) {
	redistest.Each(t, testUpdateDeduplicatesMessageIDs)
}

func testUpdateDeduplicatesMessageIDs(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	inc := func(j *journey.Journey) ([]journey.HistoryEntry, error) { j.Counters.Inbound++; return nil, nil }
	if _, err := s.Update(ctx, "c1", "tg:1", time.Now(), inc); err != nil {
		t.Fatal(err)
	}
	// A second process (fresh cache) sees the same message again.
	_, err := newStore(t, r).Update(ctx, "c1", "tg:1", time.Now(), inc)
	if !errors.Is(err, journey.ErrDuplicate) {
		t.Fatalf("second update err = %v, want ErrDuplicate", err)
	}
	j, _, _ := s.Get(ctx, "c1")
	if j.Counters.Inbound != 1 {
		t.Fatalf("counter = %d, want 1", j.Counters.Inbound)
	}
}

func TestHistoryIsCapped(t *testing.T) { redistest.Each(t, testHistoryIsCapped) }

func testHistoryIsCapped(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		_, err := s.Update(ctx, "c1", fmt.Sprint(i), time.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			return []journey.HistoryEntry{{From: "customer", Text: fmt.Sprint("msg ", i)}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, "c1", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 5 || h[0].Text != "msg 7" || h[4].Text != "msg 11" {
		t.Fatalf("history = %+v, want the last 5 (msg 7..11)", h)
	}
}

func TestStaleCacheRetriesInsteadOfOverwriting(t *testing.T) {
	redistest.Each(t, testStaleCacheRetriesInsteadOfOverwriting)
}

func testStaleCacheRetriesInsteadOfOverwriting(t *testing.T, r *redistest.Redis) {
	a, b := newStore(t, r), newStore(t, r)
	ctx := context.Background()
	set := func(stage string) journey.Mutation {
		return func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			j.Stage = stage
			j.Counters.Inbound++
			return nil, nil
		}
	}
	a.Update(ctx, "c1", "", time.Now(), set("onboarding")) // a caches version 1
	b.Update(ctx, "c1", "", time.Now(), set("loyalty"))    // b writes version 2
	j, err := a.Update(ctx, "c1", "", time.Now(), set("advocacy"))
	if err != nil {
		t.Fatal(err)
	}
	if j.Counters.Inbound != 3 {
		t.Fatalf("stale cache lost an update: counter = %d, want 3", j.Counters.Inbound)
	}
}

func TestClaimIsExclusiveAndFinishReschedules(t *testing.T) {
	redistest.Each(t, testClaimIsExclusiveAndFinishReschedules)
}

func testClaimIsExclusiveAndFinishReschedules(t *testing.T, r *redistest.Redis) {
	a, b := newStore(t, r), newStore(t, r)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := a.Schedule(ctx, fmt.Sprint("c", i), 100+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Later schedule never postpones an earlier wake-up.
	a.Schedule(ctx, "c0", 500)
	got1, err := a.Claim(ctx, 104, 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	got2, _ := b.Claim(ctx, 104, 1000, 100)
	if len(got1) != 5 || len(got2) != 0 {
		t.Fatalf("claims = %v and %v, want 5 and none", got1, got2)
	}
	// The lease expires: a crashed claimer's customers come back.
	again, _ := b.Claim(ctx, 1000, 2000, 100)
	if len(again) != 10 {
		t.Fatalf("after lease: %v, want all 10", again)
	}
	// Finish with nothing pending removes; with a due time reschedules.
	a.Finish(ctx, "c0", 2000, 0)
	a.Finish(ctx, "c1", 2000, 3000)
	// Someone scheduled c2 earlier meanwhile: finish must not postpone it.
	a.Schedule(ctx, "c2", 1500)
	a.Finish(ctx, "c2", 2000, 0)
	n, _ := a.Pending(ctx)
	if n != 9 {
		t.Fatalf("pending = %d, want 9", n)
	}
	due, _ := a.Claim(ctx, 1500, 5000, 100)
	if len(due) != 1 || due[0] != "c2" {
		t.Fatalf("due at 1500 = %v, want [c2]", due)
	}
}

// A decision not to write, taken on a cached copy that another process has
// changed since, is taken again on the current state.
func TestNoChangeDecidedOnFreshState(t *testing.T) {
	redistest.Each(t, testNoChangeDecidedOnFreshState)
}

func testNoChangeDecidedOnFreshState(t *testing.T, r *redistest.Redis) {
	a, b := newStore(t, r), newStore(t, r)
	ctx := context.Background()
	setPaused := func(v bool) journey.Mutation {
		return func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			if j.Profile.Paused == v {
				return nil, journey.ErrNoChange
			}
			j.Profile.Paused = v
			return nil, nil
		}
	}
	if _, err := a.Update(ctx, "c1", "", time.Now(), setPaused(false)); err != nil { // a caches "not paused"
		t.Fatal(err)
	}
	a.Update(ctx, "c1", "", time.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) { j.Stage = "x"; return nil, nil })
	if _, err := b.Update(ctx, "c1", "", time.Now(), setPaused(true)); err != nil { // another process pauses
		t.Fatal(err)
	}
	if _, err := a.Update(ctx, "c1", "", time.Now(), setPaused(false)); err != nil {
		t.Fatal(err)
	}
	if j, _, _ := b.Get(ctx, "c1"); j.Profile.Paused {
		t.Fatal("resume was skipped because the cached copy said 'not paused'")
	}
}
