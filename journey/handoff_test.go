package journey_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

// A commit hands the outbox it filled to the process's sender, leased: no
// claim gets it while the lease lasts; a second commit while it is held is
// not handed over but waits for the release, which makes the outbox ready.
func TestCommitHandsTheOutboxToTheSender(t *testing.T) {
	redistest.Each(t, testCommitHandsTheOutboxToTheSender)
}

func testCommitHandsTheOutboxToTheSender(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	s := newStore(t, r)
	now := time.Now()
	type handed struct {
		l    journey.Lease
		msgs []journey.Pending
	}
	var mu sync.Mutex
	var got []handed
	s.SetHandoff(func(l journey.Lease, msgs []journey.Pending, _ map[string]int64) bool {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, handed{l, msgs})
		return true
	}, 15*time.Second, func() time.Time { return now })
	say := func(msgID, text string) {
		t.Helper()
		if _, err := s.Commit(ctx, "c1", msgID, now, func(j *journey.Journey) (journey.Change, error) {
			return journey.Change{Outbox: []journey.Outgoing{{ID: msgID, Channel: "telegram", Address: "42", Text: text}}}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	say("m1", "first")
	if len(got) != 1 || got[0].l.ID != "c1" || got[0].l.Until != now.Add(15*time.Second).UnixMilli() {
		t.Fatalf("hand-overs = %+v, want one lease of c1 for 15 s", got)
	}
	// On one node the commit's own messages come with it; on a cluster only
	// the lease (the sender reads the outbox).
	if m := got[0].msgs; m != nil && (len(m) != 1 || m[0].Text != "first") {
		t.Fatalf("handed messages = %+v, want the commit's one", m)
	}
	if leases, err := s.ClaimOutboxes(ctx, now.Add(time.Second), 15*time.Second, 10); err != nil || len(leases) != 0 {
		t.Fatalf("a claim took a handed-over outbox: %v %v", leases, err)
	}
	say("m2", "second")
	if len(got) != 1 {
		t.Fatalf("a held outbox was handed over again: %+v", got)
	}
	// The sender sends "first" and gives the lease back: "second" is ready.
	pending, _, err := s.Outbox(ctx, "c1", 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("outbox = %+v, %v", pending, err)
	}
	if ok, err := s.AckAndRelease(ctx, got[0].l, pending[0], now); err != nil || !ok {
		t.Fatalf("ack and release: %v %v", ok, err)
	}
	leases, err := s.ClaimOutboxes(ctx, now.Add(time.Second), 15*time.Second, 10)
	if err != nil || len(leases) != 1 || leases[0].ID != "c1" {
		t.Fatalf("after the release, claim = %v %v; want c1 with the second message", leases, err)
	}
	// Without a sender, a commit only marks its outbox ready.
	s.SetHandoff(nil, 0, nil)
	if _, err := s.Commit(ctx, "c2", "m3", now, func(j *journey.Journey) (journey.Change, error) {
		return journey.Change{Outbox: []journey.Outgoing{{ID: "m3", Channel: "telegram", Address: "43", Text: "x"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if leases, err := s.ClaimOutboxes(ctx, now.Add(time.Second), 15*time.Second, 10); err != nil || len(leases) != 1 || leases[0].ID != "c2" || len(got) != 1 {
		t.Fatalf("without a sender: claim = %v %v, hand-overs %d", leases, err, len(got))
	}
}
