package redistest

import (
	"fmt"
	"sync/atomic"

	"context"
	"github.com/redis/go-redis/v9"
	"testing"
	"time"
)

// What the server acknowledged survives a kill -9 and a start on the same
// port; while it is down, commands fail.
func TestServerKeepsAcknowledgedWritesAcrossKill(t *testing.T) {
	s := StartServer(t)
	c := s.Client(0)
	ctx := context.Background()
	for i := range 100 {
		if err := c.RPush(ctx, "acked", i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while the server was killed")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.LLen(ctx, "acked").Result(); err != nil || n != 100 {
		t.Fatalf("after restart LLEN = %d, %v; want 100", n, err)
	}
	if err := s.Restart(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.LIndex(ctx, "acked", 99).Result(); err != nil || v != "99" {
		t.Fatalf("after two more restarts LINDEX 99 = %q, %v", v, err)
	}
	if s.DBURL(3) != "redis://"+s.Addr+"/3" || s.URL != "redis://"+s.Addr+"/0" {
		t.Fatalf("URLs: %s %s", s.URL, s.DBURL(3))
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start of a running server did not fail")
	}
}

// A cluster started for a test spreads keys over three masters, and the
// test's keys are found through the cluster client.
func TestClusterHasThreeMasters(t *testing.T) {
	r := NewCluster(t)
	ctx := context.Background()
	c := r.Client.(interface {
		ForEachMaster(context.Context, func(context.Context, *redis.Client) error) error
	})
	var masters atomic.Int32
	if err := c.ForEachMaster(ctx, func(context.Context, *redis.Client) error { masters.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if masters.Load() != 3 {
		t.Fatalf("%d masters, want 3", masters.Load())
	}
	for i := range 50 {
		if err := r.Client.Set(ctx, fmt.Sprintf("%s:k%d", r.Prefix, i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := r.Client.Get(ctx, r.Prefix+":k49").Result(); err != nil || v != "49" {
		t.Fatalf("GET k49 = %q, %v", v, err)
	}
}
