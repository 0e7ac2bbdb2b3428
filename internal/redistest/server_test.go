package redistest

import (
	"context"
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
