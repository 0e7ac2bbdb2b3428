package journey_test

import (
	"context"
	"testing"
	"time"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

// A journey stored as JSON by an earlier version is read as it was, and
// its next commit stores it compact, every field kept.
func TestJSONDocumentOfEarlierVersionIsRead(t *testing.T) {
	redistest.Each(t, testJSONDocumentOfEarlierVersionIsRead)
}

func testJSONDocumentOfEarlierVersionIsRead(t *testing.T, r *redistest.Redis) {
	ctx := context.Background()
	key := r.Prefix + ":{c:old-1}"
	old := `{"id":"old-1","st":"purchase","p":{"nm":"Ana","ad":{"telegram":"42"},"pt":7},` +
		`"o":[{"id":"P1","s":"shipped","i":[{"n":"Tênis","q":1,"p":129.9}],"t":129.9,"cu":"BRL"}],` +
		`"c":{"f":"hello","s":"ask","w":true},"t":[{"k":"w1","d":1800000000,"f":"hello","s":"later"}],` +
		`"a":{"nps":"9"},"n":{"in":3},"f":["abc"],"cr":1700000000,"sn":{"telegram":1700000001}}`
	if err := r.Client.HSet(ctx, key, "v", "3", "d", old).Err(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, r)
	check := func(when string, j *journey.Journey) {
		t.Helper()
		o := j.Order("P1")
		switch {
		case j.Stage != "purchase", j.Profile.Name != "Ana", j.Profile.Addresses["telegram"] != "42", j.Profile.Points != 7:
			t.Fatalf("%s: profile or stage lost: %+v", when, j)
		case o == nil || o.Total != 129.9 || len(o.Items) != 1 || o.Items[0].Name != "Tênis":
			t.Fatalf("%s: order lost: %+v", when, j.Orders)
		case j.Conv.Step != "ask" || !j.Conv.Waiting, len(j.Timers) != 1 || j.Timers[0].Due != 1800000000:
			t.Fatalf("%s: position or timer lost: %+v %+v", when, j.Conv, j.Timers)
		case j.Answers["nps"] != "9", j.Created != 1700000000, j.Seen["telegram"] != 1700000001, len(j.Fired) != 1:
			t.Fatalf("%s: answers or times lost: %+v", when, j)
		}
	}
	j, found, err := s.Get(ctx, "old-1")
	if err != nil || !found {
		t.Fatalf("get: found=%v err=%v", found, err)
	}
	check("read", j)
	if _, err := s.Update(ctx, "old-1", "m1", time.Now(), func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Counters.Inbound++
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Client.HGet(ctx, key, "d").Result()
	if err != nil {
		t.Fatal(err)
	}
	if doc[0] == '{' || len(doc) >= len(old) {
		t.Fatalf("the commit stored %d bytes starting %q; want the compact form, smaller than the %d of the JSON", len(doc), doc[:1], len(old))
	}
	j, _, err = newStore(t, r).Get(ctx, "old-1")
	if err != nil {
		t.Fatal(err)
	}
	check("rewritten", j)
	if j.Counters.Inbound != 4 {
		t.Fatalf("inbound = %d, want 4", j.Counters.Inbound)
	}
}
