package lease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/lease"
)

// Only one holder works at a time; when it stops, another takes over.
func TestOneHolderAndTakeover(t *testing.T) { redistest.Each(t, testOneHolderAndTakeover) }

func testOneHolderAndTakeover(t *testing.T, r *redistest.Redis) {
	key := r.Prefix + ":poller"
	var running, most atomic.Int32
	work := func(ctx context.Context) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-ctx.Done()
		running.Add(-1)
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA := make(chan struct{})
	go func() { defer close(doneA); lease.New(r.Client, key, 400*time.Millisecond, nil).Run(ctxA, work) }()
	waitFor(t, func() bool { return running.Load() == 1 })
	go lease.New(r.Client, key, 400*time.Millisecond, nil).Run(ctxB, work)
	time.Sleep(time.Second) // several renewals: B must stay out
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
	stopA()
	<-doneA
	waitFor(t, func() bool { return running.Load() == 1 })
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
}

// A holder that died without giving the lease back (kill -9) is replaced
// once the lease runs out.
func TestTakeoverAfterAHolderDied(t *testing.T) { redistest.Each(t, testTakeoverAfterAHolderDied) }

func testTakeoverAfterAHolderDied(t *testing.T, r *redistest.Redis) {
	key := r.Prefix + ":poller"
	r.Client.Set(context.Background(), key, "dead-process", 500*time.Millisecond)
	var took atomic.Int64
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lease.New(r.Client, key, 500*time.Millisecond, nil).Run(ctx, func(ctx context.Context) {
		took.Store(int64(time.Since(start)))
		<-ctx.Done()
	})
	waitFor(t, func() bool { return took.Load() != 0 })
	if d := time.Duration(took.Load()); d < 400*time.Millisecond {
		t.Fatalf("took over after %v, while the dead holder's lease still ran", d)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
