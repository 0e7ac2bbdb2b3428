package journey_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

// holdCommit is a node-level hook that holds the pipeline carrying one
// command on a key (a customer's commit script, an inbox's ZADD) until told
// to go on: a cluster node slow to run it, while the others answer at once.
type holdCommit struct {
	mu      sync.Mutex
	cmd     string // the command to hold (evalsha, zadd) ...
	key     string // ... when its first key is this ("" = none)
	held    chan struct{}
	release chan struct{}
}

func (h *holdCommit) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdCommit) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, c redis.Cmder) error {
		h.hold(c)
		return next(ctx, c)
	}
}

func (h *holdCommit) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.hold(c)
		}
		return next(ctx, cmds)
	}
}

// hold waits for release when c writes the key to hold (its first key).
func (h *holdCommit) hold(c redis.Cmder) {
	args := c.Args()
	if len(args) < 2 {
		return
	}
	key := args[1]
	if strings.EqualFold(args[0].(string), "evalsha") && len(args) > 3 {
		key = args[3]
	}
	h.mu.Lock()
	hold := h.key != "" && key == h.key && strings.EqualFold(args[0].(string), h.cmd)
	if hold {
		h.key = ""
	}
	h.mu.Unlock()
	if hold {
		close(h.held)
		<-h.release
	}
}

// heldCluster is a store on the test cluster whose node clients carry h.
func heldCluster(t *testing.T) (*journey.Store, *holdCommit, string) {
	r := redistest.NewCluster(t)
	h := &holdCommit{}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: r.Client.(*redis.ClusterClient).Options().Addrs,
		NewClient: func(opt *redis.Options) *redis.Client {
			c := redis.NewClient(opt)
			c.AddHook(h)
			return c
		},
	})
	t.Cleanup(func() { rdb.Close() })
	s := journey.NewStore(rdb, journey.Options{Prefix: r.Prefix})
	if err := s.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, h, r.Prefix
}

// On a cluster a commit's queue entry must not land before the commit: a
// sender that claims the outbox in between, reads it empty and releases it
// would leave the reply stranded, acknowledged and never sent (the shared-rate
// delivery test lost 2 of 320 replies this way on the cluster).
func TestClusterQueueEntryNeverLandsBeforeItsCommit(t *testing.T) {
	ctx := context.Background()
	s, h, prefix := heldCluster(t)
	now := time.Now()
	// Several customers, so that some have their journey and their outbox
	// queue shard on different nodes.
	stranded := 0
	for _, id := range []string{"c-0", "c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "c-7", "c-8", "c-9"} {
		h.mu.Lock()
		h.cmd, h.key, h.held, h.release = "evalsha", prefix+":{c:"+id+"}", make(chan struct{}), make(chan struct{})
		h.mu.Unlock()
		done := make(chan error, 1)
		go func() {
			_, err := s.Commit(ctx, id, "m-"+id, now, func(j *journey.Journey) (journey.Change, error) {
				return journey.Change{Outbox: []journey.Outgoing{{ID: "o-" + id, Channel: "test", Address: "a", Text: "oi"}}}, nil
			})
			done <- err
		}()
		<-h.held
		// Whatever was sent beside the commit to other nodes lands now.
		time.Sleep(150 * time.Millisecond)
		// A sender's turn meanwhile: what it claims, it reads empty and
		// releases as empty.
		releaseEmptyOutboxes(t, ctx, s, now)
		close(h.release)
		if err := <-done; err != nil {
			t.Fatalf("commit %s: %v", id, err)
		}
		leases, err := s.ClaimOutboxes(ctx, now.Add(time.Second), 15*time.Second, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range leases {
			msgs, _, err := s.Outbox(ctx, l.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			found = found || l.ID == id && len(msgs) == 1
			for _, p := range msgs { // sent: the next round starts clean
				if _, err := s.Ack(ctx, l.ID, p, true, now); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.ReleaseOutbox(ctx, l, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if !found {
			stranded++
			t.Errorf("%s: its reply is in the outbox but no sender can claim it", id)
		}
	}
	t.Logf("%d of 10 replies stranded", stranded)
}

// The same for the inbox: an update's queue entry must not land before the
// update, or a worker that reads the inbox empty in between releases it and
// the acknowledged update waits for the chat's next message.
func TestClusterInboxEntryNeverLandsBeforeItsUpdate(t *testing.T) {
	ctx := context.Background()
	s, h, prefix := heldCluster(t)
	now := time.Now()
	stranded := 0
	for i := range 10 {
		owner := journey.InboxOwner("telegram", strconv.Itoa(100+i))
		h.mu.Lock()
		h.cmd, h.key, h.held, h.release = "zadd", prefix+":{a:"+owner+"}:in", make(chan struct{}), make(chan struct{})
		h.mu.Unlock()
		done := make(chan error, 1)
		go func() { done <- s.Accept(ctx, owner, 1, []byte(`{"id":"1"}`), now, 0) }()
		select {
		case <-h.held:
		case err := <-done:
			t.Fatalf("accept %s was not held (is the inbox key %q?): %v", owner, h.key, err)
		}
		time.Sleep(150 * time.Millisecond)
		leases, err := s.ClaimInboxes(ctx, now.Add(time.Second), 15*time.Second, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases {
			items, err := s.Inbox(ctx, l.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				if err := s.DoneAndRelease(ctx, l, nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(h.release)
		if err := <-done; err != nil {
			t.Fatalf("accept %s: %v", owner, err)
		}
		leases, err = s.ClaimInboxes(ctx, now.Add(time.Second), 15*time.Second, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range leases {
			items, err := s.Inbox(ctx, l.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			found = found || l.ID == owner && len(items) == 1
			if err := s.DoneAndRelease(ctx, l, items, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if !found {
			stranded++
			t.Errorf("%s: its update is in the inbox but no worker can claim it", owner)
		}
	}
	t.Logf("%d of 10 updates stranded", stranded)
}

// The same rule for a batch of commits (the scheduler's): while one node
// holds its part of the batch, no queue entry of the batch lands, so a
// sender's turn in between strands nothing, and afterwards every outbox
// can be claimed with its message.
func TestClusterBatchQueueEntriesFollowTheirCommits(t *testing.T) {
	ctx := context.Background()
	s, h, prefix := heldCluster(t)
	now := time.Now()
	var items []journey.Batched
	for i := range 10 {
		id := "c-" + strconv.Itoa(i)
		items = append(items, journey.Batched{ID: id, Fn: func(j *journey.Journey) (journey.Change, error) {
			return journey.Change{Outbox: []journey.Outgoing{{ID: "o-" + id, Channel: "test", Address: "a", Text: "oi"}}}, nil
		}})
	}
	h.mu.Lock()
	h.cmd, h.key, h.held, h.release = "evalsha", prefix+":{c:c-3}", make(chan struct{}), make(chan struct{})
	h.mu.Unlock()
	done := make(chan []error, 1)
	go func() {
		_, errs := s.CommitBatch(ctx, now, items)
		done <- errs
	}()
	<-h.held
	// Whatever was sent to the other nodes lands now.
	time.Sleep(150 * time.Millisecond)
	releaseEmptyOutboxes(t, ctx, s, now)
	close(h.release)
	for i, err := range <-done {
		if err != nil {
			t.Fatalf("commit %s: %v", items[i].ID, err)
		}
	}
	leases, err := s.ClaimOutboxes(ctx, now.Add(time.Second), 15*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, l := range leases {
		msgs, _, err := s.Outbox(ctx, l.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		found[l.ID] = len(msgs) == 1
	}
	for _, it := range items {
		if !found[it.ID] {
			t.Errorf("%s: its message is in the outbox but no sender can claim it", it.ID)
		}
	}
}

// releaseEmptyOutboxes is a sender's turn while a commit is held: what it
// claims and reads empty, it releases as empty (which would strand a reply
// whose queue entry landed before the reply itself).
func releaseEmptyOutboxes(t *testing.T, ctx context.Context, s *journey.Store, now time.Time) {
	t.Helper()
	leases, err := s.ClaimOutboxes(ctx, now.Add(time.Second), 15*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		msgs, _, err := s.Outbox(ctx, l.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			if err := s.ReleaseOutbox(ctx, l, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
