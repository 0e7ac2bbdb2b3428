package bot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/internal/redistest"
)

// Processes write the day's figures into shards of their own; a read sums
// every shard and the unsharded hash of earlier versions.
func TestStatsSumShardsOfAllProcesses(t *testing.T) {
	redistest.Each(t, testStatsSumShardsOfAllProcesses)
}

func testStatsSumShardsOfAllProcesses(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	day := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return day }
	if err := r.Client.HSet(ctx, r.Prefix+":stats:2026-03-02", "inbound", 5).Err(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		s := bot.NewStats(r.Client, r.Prefix, now)
		s.Add("inbound", 2)
		s.Add("escalated", 1)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := bot.NewStats(r.Client, r.Prefix, now).Day(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if got["inbound"] != 45 || got["escalated"] != 20 {
		t.Fatalf("day figures %v, want inbound 45, escalated 20", got)
	}
	// 20 processes picked shards at random: several hashes, not one hot key.
	shards := 0
	for i := range 8 {
		if n, _ := r.Client.Exists(ctx, fmt.Sprintf("%s:stats:2026-03-02:%d", r.Prefix, i)).Result(); n == 1 {
			shards++
		}
	}
	if shards < 2 {
		t.Fatalf("the figures of 20 processes are in %d shard(s)", shards)
	}
}
