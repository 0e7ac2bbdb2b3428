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

func msg(text string) journey.Outgoing {
	return journey.Outgoing{ID: journey.NewMessageID(), Channel: "telegram", Address: "42", Text: text}
}

// commitOut commits a change that queues texts, under msgID.
func commitOut(t *testing.T, s *journey.Store, id, msgID string, now time.Time, texts ...string) error {
	t.Helper()
	_, err := s.Commit(context.Background(), id, msgID, now, func(j *journey.Journey) (journey.Change, error) {
		j.Counters.Inbound++
		var c journey.Change
		for _, x := range texts {
			c.Outbox = append(c.Outbox, msg(x))
		}
		return c, nil
	})
	return err
}

func outboxTexts(t *testing.T, s *journey.Store, id string) []string {
	t.Helper()
	ps, _, err := s.Outbox(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Text)
	}
	return out
}

// The commit writes the messages with the journey; a redelivery writes
// nothing more, and the outbox is ready for a sender.
func TestCommitQueuesMessagesOnce(t *testing.T) { redistest.Each(t, testCommitQueuesMessagesOnce) }

func testCommitQueuesMessagesOnce(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	if err := commitOut(t, s, "c1", "tg:1", now, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := commitOut(t, s, "c1", "tg:1", now, "a", "b"); !errors.Is(err, journey.ErrDuplicate) {
		t.Fatalf("second commit of the same message: %v, want ErrDuplicate", err)
	}
	if got := fmt.Sprint(outboxTexts(t, s, "c1")); got != "[a b]" {
		t.Fatalf("outbox %s, want [a b]", got)
	}
	leases, err := s.ClaimOutboxes(ctx, now, 30*time.Second, 10)
	if err != nil || len(leases) != 1 || leases[0].ID != "c1" {
		t.Fatalf("claim: %v %v, want c1", leases, err)
	}
	// Leased: nobody else gets it.
	if again, _ := s.ClaimOutboxes(ctx, now, 30*time.Second, 10); len(again) != 0 {
		t.Fatalf("a leased outbox was claimed twice: %v", again)
	}
	// A dead sender's lease runs out and another sender gets it.
	later, _ := s.ClaimOutboxes(ctx, now.Add(31*time.Second), 30*time.Second, 10)
	if len(later) != 1 {
		t.Fatalf("an expired lease was not handed out again: %v", later)
	}
	// The first sender's release no longer counts.
	if err := s.ReleaseOutbox(ctx, leases[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx); n != 1 {
		t.Fatalf("a stale lease's release removed the outbox from the queue")
	}
}

// Ack removes the message sent, and only while it is the head.
func TestAckRemovesTheHeadOnly(t *testing.T) { redistest.Each(t, testAckRemovesTheHeadOnly) }

func testAckRemovesTheHeadOnly(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	if err := commitOut(t, s, "c1", "", now, "a", "b"); err != nil {
		t.Fatal(err)
	}
	ps, last, err := s.Outbox(ctx, "c1", 10)
	if err != nil || len(ps) != 2 || last["telegram"] != 0 {
		t.Fatalf("outbox: %v %v %v", ps, last, err)
	}
	if ok, err := s.Ack(ctx, "c1", ps[1], true, now); ok || err != nil {
		t.Fatalf("acking a message that is not the head: %v %v", ok, err)
	}
	if ok, err := s.Ack(ctx, "c1", ps[0], true, now); !ok || err != nil {
		t.Fatalf("acking the head: %v %v", ok, err)
	}
	if ok, _ := s.Ack(ctx, "c1", ps[0], true, now); ok {
		t.Fatalf("the same message was acknowledged twice")
	}
	if got := fmt.Sprint(outboxTexts(t, s, "c1")); got != "[b]" {
		t.Fatalf("outbox %s, want [b]", got)
	}
	if _, last, _ := s.Outbox(ctx, "c1", 10); last["telegram"] != now.UnixMilli() {
		t.Fatalf("the chat's last send was not recorded: %v", last)
	}
}

// New messages for an outbox a sender holds never let a second sender in;
// they make the outbox ready again when the holder lets go.
func TestWorkForALeasedOutboxWaitsForTheHolder(t *testing.T) {
	redistest.Each(t, testWorkForALeasedOutboxWaitsForTheHolder)
}

func testWorkForALeasedOutboxWaitsForTheHolder(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	commitOut(t, s, "c1", "", now, "a")
	l, _ := s.ClaimOutboxes(ctx, now, 30*time.Second, 10)
	commitOut(t, s, "c1", "", now, "b")
	if again, _ := s.ClaimOutboxes(ctx, now.Add(time.Millisecond), 30*time.Second, 10); len(again) != 0 {
		t.Fatalf("new work let a second sender in: %v", again)
	}
	// The holder saw only "a" and thinks the outbox is empty.
	if err := s.ReleaseOutbox(ctx, l[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ClaimOutboxes(ctx, now, 30*time.Second, 10); len(again) != 1 {
		t.Fatalf("the outbox with new work was not ready again: %v", again)
	}
}

// A release with a later time keeps the outbox for then (a retry).
func TestReleaseForLater(t *testing.T) { redistest.Each(t, testReleaseForLater) }

func testReleaseForLater(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	commitOut(t, s, "c1", "", now, "a")
	l, _ := s.ClaimOutboxes(ctx, now, 30*time.Second, 10)
	s.ReleaseOutbox(ctx, l[0], now.Add(5*time.Second))
	if got, _ := s.ClaimOutboxes(ctx, now.Add(4*time.Second), 30*time.Second, 10); len(got) != 0 {
		t.Fatalf("claimed before its retry time")
	}
	if got, _ := s.ClaimOutboxes(ctx, now.Add(5*time.Second), 30*time.Second, 10); len(got) != 1 {
		t.Fatalf("not claimed at its retry time")
	}
}

// A Redis that forgot the scripts (a restart) is handled by loading them again.
func TestCommitAfterScriptFlush(t *testing.T) { redistest.Each(t, testCommitAfterScriptFlush) }

func testCommitAfterScriptFlush(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	if err := commitOut(t, s, "c1", "", time.Now(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := commitOut(t, s, "c1", "", time.Now(), "b"); err != nil {
		t.Fatalf("commit after SCRIPT FLUSH: %v", err)
	}
	if err := r.Client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(ctx, "telegram:1", 1, []byte("x"), time.Now(), 0); err != nil {
		t.Fatalf("accept after SCRIPT FLUSH: %v", err)
	}
	if got := fmt.Sprint(outboxTexts(t, s, "c1")); got != "[a b]" {
		t.Fatalf("outbox %s", got)
	}
}

// The inbox hands updates out in the channel's order, whatever order they
// arrived in, after the hold, each with its time of arrival.
func TestInboxOrdersBySequence(t *testing.T) { redistest.Each(t, testInboxOrdersBySequence) }

func testInboxOrdersBySequence(t *testing.T, r *redistest.Redis) {
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	owner := journey.InboxOwner("telegram", "42")
	for _, seq := range []int64{7, 5, 6, 5} {
		if err := s.Accept(ctx, owner, seq, []byte(fmt.Sprintf(`{"seq":%d}`, seq)), now, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.ClaimInboxes(ctx, now.Add(50*time.Millisecond), 30*time.Second, 10); len(got) != 0 {
		t.Fatalf("claimed during the hold: %v", got)
	}
	l, err := s.ClaimInboxes(ctx, now.Add(100*time.Millisecond), 30*time.Second, 10)
	if err != nil || len(l) != 1 || l[0].ID != owner {
		t.Fatalf("claim: %v %v", l, err)
	}
	items, err := s.Inbox(ctx, owner, 10)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, it := range items {
		seqs = append(seqs, it.Seq)
	}
	if fmt.Sprint(seqs) != "[5 6 7]" { // 5 stored twice in one instant: kept once
		t.Fatalf("inbox order %v, want [5 6 7]", seqs)
	}
	if items[0].Accepted.UnixMilli() != now.UnixMilli() || string(items[0].Payload) != `{"seq":5}` {
		t.Fatalf("item %+v: want the arrival time and the payload", items[0])
	}
	for _, it := range items {
		if err := s.Done(ctx, owner, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReleaseInbox(ctx, l[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
	if items, _ := s.Inbox(ctx, owner, 10); len(items) != 0 {
		t.Fatalf("handled updates left: %v", items)
	}
	if _, ok, _ := s.NextInbox(ctx); ok {
		t.Fatalf("an empty inbox is still queued")
	}
}
