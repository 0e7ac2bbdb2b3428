package journey_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

// CommitBatch commits each customer as Commit would: customers cached,
// read from Redis and new in one batch, each with its message queued and
// its history line, and the outbox queue told about every one.
func TestCommitBatchCommitsEach(t *testing.T) { redistest.Each(t, testCommitBatchCommitsEach) }

func testCommitBatchCommitsEach(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, r)
	other := newStore(t, r) // another process: nothing of this batch cached
	const n = 60
	var ids []string
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		ids = append(ids, id)
		switch i % 3 {
		case 0: // known here: cached
			if err := commitOut(t, s, id, "", now); err != nil {
				t.Fatal(err)
			}
		case 1: // known to another process only
			if err := commitOut(t, other, id, "", now); err != nil {
				t.Fatal(err)
			}
		} // 2: new
	}
	items := make([]journey.Batched, n)
	for i, id := range ids {
		items[i] = journey.Batched{ID: id, Fn: func(j *journey.Journey) (journey.Change, error) {
			j.Counters.Outbound++
			j.SetTimer(journey.Timer{Key: "next", Due: now.Add(time.Hour).Unix(), Flow: "f"})
			return journey.Change{
				History: []journey.HistoryEntry{{At: now.Unix(), From: "bot", Text: "tip " + id}},
				Outbox:  []journey.Outgoing{msg("tip " + id)},
			}, nil
		}}
	}
	js, errs := s.CommitBatch(ctx, now, items)
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("%s: %v", id, errs[i])
		}
		if js[i].ID != id || js[i].Counters.Outbound != 1 {
			t.Fatalf("%s: committed %+v", id, js[i])
		}
		// Redis holds it, read by a process that cached nothing.
		j, found, err := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix}).Get(ctx, id)
		if err != nil || !found || j.Counters.Outbound != 1 || j.NextDue() != now.Add(time.Hour).Unix() {
			t.Fatalf("%s in Redis: %+v, found %v, %v", id, j, found, err)
		}
		if want := i%3 != 2; (j.Counters.Inbound == 1) != want {
			t.Fatalf("%s: inbound %d; the earlier commit kept: %v", id, j.Counters.Inbound, want)
		}
		if got := fmt.Sprint(outboxTexts(t, s, id)); got != "[tip "+id+"]" {
			t.Fatalf("%s outbox %s", id, got)
		}
		h, err := s.History(ctx, id, 10)
		if err != nil || len(h) != 1 || h[0].Text != "tip "+id {
			t.Fatalf("%s history %+v, %v", id, h, err)
		}
	}
	if got, err := s.OutboxBacklog(ctx); err != nil || got != n {
		t.Fatalf("%d outboxes queued, %v; want %d", got, err, n)
	}
	// The new timers were brought forward into the due index.
	if got, err := s.Pending(ctx); err != nil || got != n {
		t.Fatalf("%d customers wait on a timer, %v; want %d", got, err, n)
	}
}

// What the plain batch cannot do goes through Commit, item by item, and the
// rest of the batch is committed: a journey another process changed since
// this one cached it (the function runs again on Redis's copy, nothing is
// lost), a journey merged into another (the commit lands there), a function
// that changes nothing or fails, and a commit Redis refuses.
func TestCommitBatchItemsThatNeedMore(t *testing.T) {
	redistest.Each(t, testCommitBatchItemsThatNeedMore)
}

func testCommitBatchItemsThatNeedMore(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s, other := newStore(t, r), newStore(t, r)
	for _, id := range []string{"plain", "stale", "same", "fails", "broken", "telegram:42", "c-77"} {
		if err := commitOut(t, s, id, "", now); err != nil {
			t.Fatal(err)
		}
	}
	// stale: changed by another process since s cached it.
	if _, err := other.Update(ctx, "stale", "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Profile.Name = "Ana"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	// telegram:42: merged into c-77 by another process.
	if _, err := other.Link(ctx, "telegram", "42", "c-77", now); err != nil {
		t.Fatal(err)
	}
	// broken: its journey key holds something that is no journey, while s
	// still caches it: the commit script fails on it.
	broken := r.Prefix + ":{c:broken}"
	if err := r.Client.Rename(ctx, broken, broken+":kept").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.Set(ctx, broken, "not a journey", 0).Err(); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	runs := map[string]int{}
	bump := func(id string) journey.CommitFunc {
		return func(j *journey.Journey) (journey.Change, error) {
			runs[id]++
			switch id {
			case "same":
				return journey.Change{}, journey.ErrNoChange
			case "fails":
				return journey.Change{}, boom
			}
			j.Counters.Outbound++
			return journey.Change{Outbox: []journey.Outgoing{msg("to " + id)}}, nil
		}
	}
	ids := []string{"plain", "stale", "same", "fails", "broken", "telegram:42"}
	items := make([]journey.Batched, len(ids))
	for i, id := range ids {
		items[i] = journey.Batched{ID: id, Fn: bump(id)}
	}
	js, errs := s.CommitBatch(ctx, now, items)
	byID := map[string]int{}
	for i, id := range ids {
		byID[id] = i
	}
	get := func(id string) *journey.Journey {
		t.Helper()
		j, _, err := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix}).Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	if i := byID["plain"]; errs[i] != nil || js[i].Counters.Outbound != 1 || get("plain").Counters.Outbound != 1 {
		t.Errorf("plain: %+v, %v", js[i], errs[i])
	}
	if i := byID["stale"]; errs[i] != nil || runs["stale"] != 2 {
		t.Errorf("stale: %v after %d runs, want committed on the second", errs[i], runs["stale"])
	}
	if j := get("stale"); j.Profile.Name != "Ana" || j.Counters.Outbound != 1 {
		t.Errorf("stale in Redis: name %q outbound %d, want both writes", j.Profile.Name, j.Counters.Outbound)
	}
	if i := byID["same"]; errs[i] != nil || js[i] == nil || get("same").Counters.Outbound != 0 {
		t.Errorf("same: %+v, %v; want the journey unchanged and no error", js[i], errs[i])
	}
	if i := byID["fails"]; !errors.Is(errs[i], boom) || get("fails").Counters.Outbound != 0 {
		t.Errorf("fails: %v, want boom and nothing written", errs[i])
	}
	if i := byID["broken"]; errs[i] == nil {
		t.Errorf("broken: committed %+v over a key that is no journey", js[i])
	}
	if i := byID["telegram:42"]; errs[i] != nil || js[i].ID != "c-77" || get("c-77").Counters.Outbound != 1 {
		t.Errorf("merged: %+v, %v; want the commit in c-77", js[i], errs[i])
	}
	if got := fmt.Sprint(outboxTexts(t, s, "c-77")); got != "[to telegram:42]" {
		t.Errorf("c-77 outbox %s", got)
	}
	for _, id := range []string{"plain", "stale"} {
		if got := fmt.Sprint(outboxTexts(t, s, id)); got != "[to "+id+"]" {
			t.Errorf("%s outbox %s", id, got)
		}
	}
	// Mended, the broken one commits in the next batch.
	if err := r.Client.Rename(ctx, broken+":kept", broken).Err(); err != nil {
		t.Fatal(err)
	}
	js, errs = s.CommitBatch(ctx, now, []journey.Batched{{ID: "broken", Fn: bump("broken")}})
	if errs[0] != nil || js[0].Counters.Outbound != 1 {
		t.Fatalf("broken, mended: %+v, %v", js[0], errs[0])
	}
}

// A Redis that forgot the scripts (a restart) is handled by loading them
// again: a claim over several shards and a batch of commits.
func TestBatchAfterScriptFlush(t *testing.T) { redistest.Each(t, testBatchAfterScriptFlush) }

func testBatchAfterScriptFlush(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newStore(t, r)
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("c%d", i)
		ids = append(ids, id)
		if err := s.Schedule(ctx, id, 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, 100, 1000, 40)
	if err != nil || len(got) != 40 {
		t.Fatalf("claim after SCRIPT FLUSH: %d, %v; want 40", len(got), err)
	}
	if err := r.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	items := make([]journey.Batched, len(got))
	for i, id := range got {
		items[i] = journey.Batched{ID: id, Fn: func(j *journey.Journey) (journey.Change, error) {
			return journey.Change{Outbox: []journey.Outgoing{msg("to " + id)}}, nil
		}}
	}
	_, errs := s.CommitBatch(ctx, now, items)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s after SCRIPT FLUSH: %v", got[i], err)
		}
	}
	for _, id := range ids {
		if out := fmt.Sprint(outboxTexts(t, s, id)); out != "[to "+id+"]" {
			t.Fatalf("%s outbox %s", id, out)
		}
	}
	if n, err := s.OutboxBacklog(ctx); err != nil || n != 40 {
		t.Fatalf("%d outboxes queued, %v; want 40", n, err)
	}
}
