package journey_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

// chatJourney writes what a chat nobody linked has: a conversation in
// progress, a language, an opt-out, history, a timer and a handled message.
func chatJourney(t *testing.T, s *journey.Store, id string, now time.Time) {
	t.Helper()
	_, err := s.Commit(context.Background(), id, "tg:m1", now, func(j *journey.Journey) (journey.Change, error) {
		j.Profile.Language = "en"
		j.Profile.OptedOut = now.Unix()
		j.Profile.Addresses = map[string]string{"telegram": "42"}
		j.Conv = journey.Conv{Flow: "optout_confirm", Step: "confirm", Waiting: true}
		j.Answers = map[string]string{"csat": "4"}
		j.LastInbound = now.Unix()
		j.Counters.Inbound = 3
		j.SetTimer(journey.Timer{Key: "tip", Due: now.Add(time.Hour).Unix(), Flow: "tips"})
		return journey.Change{History: []journey.HistoryEntry{{At: now.Unix() - 10, From: "customer", Text: "hi"}, {At: now.Unix() - 5, From: "bot", Text: "hello"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLinkMergesTheChatsJourney(t *testing.T) {
	r := redistest.New(t)
	s := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix, HistoryCap: 3})
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	chatJourney(t, s, "telegram:42", now)
	// The store's customer exists already, with its own language unset, an
	// order, a timer of the same key and history between the chat's lines.
	_, err := s.Commit(ctx, "c-77", "ev:1", now, func(j *journey.Journey) (journey.Change, error) {
		j.Profile.Name = "Ana"
		j.UpsertOrder(journey.Order{ID: "5001", Status: "paid"})
		j.SetTimer(journey.Timer{Key: "tip", Due: now.Add(2 * time.Hour).Unix(), Flow: "tips"})
		j.Counters.Inbound = 1
		return journey.Change{History: []journey.HistoryEntry{{At: now.Unix() - 7, From: "event", Text: "order.paid"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Link(ctx, "telegram", "42", "c-77", now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Merged != "telegram:42" || l.Previous != "" {
		t.Fatalf("linked = %+v", l)
	}
	j, found, err := s.Get(ctx, "c-77")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if j.Profile.OptedOut != now.Unix() || j.Profile.Language != "en" || j.Profile.Name != "Ana" {
		t.Errorf("profile = %+v", j.Profile)
	}
	if j.Conv.Flow != "optout_confirm" || !j.Conv.Waiting || j.Answers["csat"] != "4" || j.Counters.Inbound != 4 {
		t.Errorf("conversation %+v answers %v counters %+v", j.Conv, j.Answers, j.Counters)
	}
	if len(j.Timers) != 1 || j.Timers[0].Due != now.Add(2*time.Hour).Unix() {
		t.Errorf("timers = %+v (same key: the customer's wins)", j.Timers)
	}
	if j.Profile.Addresses["telegram"] != "42" || len(j.Merged) != 1 || j.Merged[0] != "telegram:42" {
		t.Errorf("addresses %v merged %v", j.Profile.Addresses, j.Merged)
	}
	h, _ := s.History(ctx, "c-77", 10)
	if len(h) != 3 || h[0].Text != "hi" || h[1].Text != "order.paid" || h[2].Text != "hello" {
		t.Errorf("history not interleaved and capped: %+v", h)
	}
	// The chat's message id came along: its redelivery is a duplicate.
	if _, err := s.Commit(ctx, "telegram:42", "tg:m1", now, func(j *journey.Journey) (journey.Change, error) {
		j.Counters.Inbound++
		return journey.Change{}, nil
	}); !errors.Is(err, journey.ErrDuplicate) {
		t.Errorf("redelivered message after the merge: err = %v", err)
	}
	// What is left of the chat's journey is its forward.
	for _, k := range []string{":h", ":seen", ":out"} {
		if n, _ := r.Client.Exists(ctx, r.Prefix+":{c:telegram:42}"+k).Result(); n != 0 {
			t.Errorf("key %s of the merged journey is still there", k)
		}
	}
	fields, _ := r.Client.HGetAll(ctx, r.Prefix+":{c:telegram:42}").Result()
	if len(fields) != 1 || fields["mv"] != "c-77" {
		t.Errorf("merged journey's hash = %v, want only the forward", fields)
	}
	if owner, _ := s.Resolve(ctx, "telegram", "42"); owner != "c-77" {
		t.Errorf("address owner = %q", owner)
	}
	// The merged journey is the only one in this test's due index: its
	// next wake is the customer's, and the chat's entry went with it.
	if due, ok, _ := s.NextWake(ctx); !ok || due != now.Add(2*time.Hour).Unix() {
		t.Errorf("next wake = %v (%v), want the customer's at %v", due, ok, now.Add(2*time.Hour).Unix())
	}
	if n, _ := s.Pending(ctx); n != 1 {
		t.Errorf("due index holds %d owners, want only the customer", n)
	}
}

// Two processes: B has cached "chat 42 is nobody's" (and its journey) when
// A links the chat. B's next commit for the chat lands in the customer's
// journey, on the same round trip, without waiting for B's cache to expire.
func TestTwoProcessesSeeALinkAtOnce(t *testing.T) {
	r := redistest.New(t)
	a, b := newStore(t, r), newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	if id, _ := b.Resolve(ctx, "telegram", "42"); id != "" {
		t.Fatalf("resolve before the link = %q", id)
	}
	chatJourney(t, b, "telegram:42", now) // B holds the chat's journey in its cache
	if _, err := a.Link(ctx, "telegram", "42", "c-77", now); err != nil {
		t.Fatal(err)
	}
	j, err := b.Commit(ctx, "telegram:42", "tg:m2", now, func(j *journey.Journey) (journey.Change, error) {
		j.Counters.Inbound++
		return journey.Change{History: []journey.HistoryEntry{{At: now.Unix(), From: "customer", Text: "where is my order"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != "c-77" || j.Counters.Inbound != 4 || j.Profile.OptedOut == 0 {
		t.Fatalf("B's commit went to %s (inbound %d, opted out %d)", j.ID, j.Counters.Inbound, j.Profile.OptedOut)
	}
	if _, found, _ := b.Get(ctx, "telegram:42"); !found {
		t.Error("a read of the merged chat id does not reach the customer")
	}
	if v, _ := r.Client.HGet(ctx, r.Prefix+":{c:telegram:42}", "d").Result(); v != "" {
		t.Error("B's commit recreated the chat's journey")
	}
}

// Links of the same chat made by two processes at once end in one journey.
func TestConcurrentLinksOfOneChat(t *testing.T) {
	r := redistest.New(t)
	a, b := newStore(t, r), newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	chatJourney(t, a, "telegram:42", now)
	var wg sync.WaitGroup
	for _, s := range []*journey.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Link(ctx, "telegram", "42", "c-77", now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	j, _, _ := a.Get(ctx, "c-77")
	if j.Counters.Inbound != 3 {
		t.Errorf("inbound = %d: the chat's journey merged %d times", j.Counters.Inbound, j.Counters.Inbound/3)
	}
}

// A merge cut short after the forward (a process died) is finished by the
// next reader, or at start from the merges list.
func TestInterruptedMergeIsFinished(t *testing.T) {
	for _, how := range []string{"read", "resume"} {
		t.Run(how, func(t *testing.T) {
			r := redistest.New(t)
			s := newStore(t, r)
			ctx := context.Background()
			now := time.Now()
			chatJourney(t, s, "telegram:42", now)
			// What merge does before its merge commit.
			r.Client.HSet(ctx, r.Prefix+":merging", "telegram:42", "c-77")
			r.Client.HSet(ctx, r.Prefix+":{c:telegram:42}", "mv", "c-77")
			fresh := newStore(t, r)
			if how == "resume" {
				if err := fresh.ResumeMerges(ctx); err != nil {
					t.Fatal(err)
				}
			}
			j, found, err := fresh.Get(ctx, "telegram:42")
			if err != nil || !found || j.ID != "c-77" || j.Profile.Language != "en" {
				t.Fatalf("after the interrupted merge: %+v found %v err %v", j, found, err)
			}
			if n, _ := r.Client.HLen(ctx, r.Prefix+":merging").Result(); n != 0 {
				t.Errorf("merges list still holds %d", n)
			}
			// Resuming again changes nothing.
			if err := fresh.ResumeMerges(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := fresh.Link(ctx, "telegram", "42", "c-77", now); err != nil {
				t.Fatal(err)
			}
			j, _, _ = fresh.Get(ctx, "c-77")
			if j.Counters.Inbound != 3 {
				t.Errorf("inbound = %d after resuming twice", j.Counters.Inbound)
			}
		})
	}
}

// The store moves customer c-77 from chat 1001 to chat 1002: chat 1001 no
// longer resolves to her, and a process that still has 1001 → c-77 cached
// finds the address moved in the journey itself.
func TestRelinkUnlinksTheOldAddress(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Link(ctx, "telegram", "1001", "c-77", now); err != nil {
		t.Fatal(err)
	}
	l, err := s.Link(ctx, "telegram", "1002", "c-77", now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Previous != "1001" {
		t.Fatalf("previous = %q", l.Previous)
	}
	if id, _ := s.ResolveFresh(ctx, "telegram", "1001"); id != "" {
		t.Errorf("chat 1001 still resolves to %q", id)
	}
	if n, _ := r.Client.Exists(ctx, r.Prefix+":{c:telegram:1001}").Result(); n != 0 {
		t.Error("chat 1001's forward to c-77 is still there")
	}
	j, _, _ := s.Get(ctx, "c-77")
	if j.Profile.Addresses["telegram"] != "1002" {
		t.Errorf("addresses = %v", j.Profile.Addresses)
	}
}

// An address that said stop stays opted out whoever it is linked to later.
func TestOptOutIsKeptPerAddress(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Link(ctx, "telegram", "42", "c-55", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "c-55", "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Profile.OptedOut = now.Unix()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	// The store says chat 42 is c-88's now.
	l, err := s.Link(ctx, "telegram", "42", "c-88", now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Moved != "c-55" || l.Merged != "" {
		t.Errorf("linked = %+v (store customers are not merged)", l)
	}
	j, _, _ := s.Get(ctx, "c-88")
	if j.Profile.OptedOut != now.Unix() {
		t.Errorf("c-88 opted out = %d: the address's stop was undone", j.Profile.OptedOut)
	}
	old, _, _ := s.Get(ctx, "c-55")
	if old.Profile.Addresses["telegram"] != "" {
		t.Errorf("c-55 still has the chat: %v", old.Profile.Addresses)
	}
	// Saying start again clears the address's record.
	if _, err := s.Update(ctx, "c-88", "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Profile.OptedOut = 0
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Client.Get(ctx, r.Prefix+":optout:telegram:42").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("opt-out record after opting in: err = %v", err)
	}
}

// BenchmarkLinkMerge: linking a chat that has its own journey (history,
// a timer, a handled message) to a store customer, merge included.
func BenchmarkLinkMerge(b *testing.B) {
	r := redistest.New(b)
	s := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	ctx := context.Background()
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		chat := strconv.Itoa(i)
		if _, err := s.Commit(ctx, "telegram:"+chat, "m", now, func(j *journey.Journey) (journey.Change, error) {
			j.Profile.Addresses = map[string]string{"telegram": chat}
			j.SetTimer(journey.Timer{Key: "tip", Due: now.Add(time.Hour).Unix()})
			return journey.Change{History: []journey.HistoryEntry{{At: now.Unix(), From: "customer", Text: "oi"}}}, nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.Link(ctx, "telegram", chat, "c-"+chat, now); err != nil {
			b.Fatal(err)
		}
	}
}

// A merge leaves the chat's unsent messages in its outbox, where a sender
// may be sending the first one right now: moving them could send it twice.
func TestMergeLeavesUnsentMessagesInTheChatsOutbox(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.Commit(ctx, "telegram:42", "tg:1", now, func(j *journey.Journey) (journey.Change, error) {
		j.Profile.Addresses = map[string]string{"telegram": "42"}
		return journey.Change{Outbox: []journey.Outgoing{{ID: "m1", Channel: "telegram", Address: "42", Text: "Olá"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(ctx, "telegram", "42", "c-77", now); err != nil {
		t.Fatal(err)
	}
	old, _, _ := s.Outbox(ctx, "telegram:42", 10)
	moved, _, _ := s.Outbox(ctx, "c-77", 10)
	if len(old) != 1 || old[0].ID != "m1" || len(moved) != 0 {
		t.Fatalf("chat's outbox %+v, customer's %+v", old, moved)
	}
}
