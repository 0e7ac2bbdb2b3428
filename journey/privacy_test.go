package journey_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/internal/redistest"
	"journeybot/journey"
)

// ana writes everything the bot keeps about a customer: a chat journey
// merged in, a store customer with contact, orders, history, a timer, an
// opt-out, the indexes, a deep link's first chat, identification attempts,
// a staff case, a dead letter; and a daily aggregate that must stay.
func ana(t *testing.T, r *redistest.Redis, s *journey.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	chatJourney(t, s, "telegram:1001", now)
	if _, err := s.Update(ctx, "c-77", "ev:1", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Profile.Name, j.Profile.Email, j.Profile.Phone, j.Profile.Username = "Ana", "ana@example.com", "+5511988887777", "ana_l"
		j.UpsertOrder(journey.Order{ID: "5001", Status: "shipped", Email: "ana@example.com"})
		j.Case = &journey.Case{Reason: "late", Opened: now.Unix(), Ref: "1700000000.000100"}
		j.Figures = &journey.Figures{NudgeFlow: "csat", Buys: 2, Spent: 12990, FirstBuy: now.Unix() - 86400}
		return []journey.HistoryEntry{{At: now.Unix(), From: "event", Text: "order.shipped"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"5001", "4999"} { // 4999 is indexed but no longer in the journey
		if err := s.IndexOrder(ctx, o, "c-77"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Link(ctx, "telegram", "1001", "c-77", now); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexName(ctx, "telegram_username", "ana_l", "c-77"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CountAttempt(ctx, "chat", "telegram:1001", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CountAttempt(ctx, "order", "5001", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FirstUse(ctx, "oQUJDREVGR0g", "telegram:1001", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(ctx, "telegram:1001", 7, []byte(`{"text":"oi"}`), now, 0); err != nil {
		t.Fatal(err)
	}
	c := r.Client
	c.HSet(ctx, r.Prefix+":slack:case:1700000000.000100", "customer", "c-77", "channel", "telegram", "opened", now.Unix())
	c.RPush(ctx, r.Prefix+":dead", `telegram:1001 failed {"text":"my cpf"}`, `telegram:5 failed {"text":"other"}`)
	c.HSet(ctx, r.Prefix+":stats:2026-12-01", "inbound", 12, "optout", 1)
	c.HSet(ctx, r.Prefix+":insight:all:3", "now|onboarding", 40, "cv|sum", 129900) // the marketers' all-time figures
	// Someone else, who must be untouched.
	if _, err := s.Link(ctx, "telegram", "2002", "c-88", now); err != nil {
		t.Fatal(err)
	}
}

// every key under the prefix whose name or value mentions one of the needles.
func mentioning(t *testing.T, r *redistest.Redis, needles ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	found := map[string]string{}
	iter := r.Client.Scan(ctx, 0, r.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var val string
		switch typ, _ := r.Client.Type(ctx, k).Result(); typ {
		case "string":
			val, _ = r.Client.Get(ctx, k).Result()
		case "hash":
			m, _ := r.Client.HGetAll(ctx, k).Result()
			for f, v := range m {
				val += f + "=" + v + " "
			}
		case "list":
			l, _ := r.Client.LRange(ctx, k, 0, -1).Result()
			val = strings.Join(l, " ")
		case "set":
			l, _ := r.Client.SMembers(ctx, k).Result()
			val = strings.Join(l, " ")
		case "zset":
			l, _ := r.Client.ZRange(ctx, k, 0, -1).Result()
			val = strings.Join(l, " ")
		}
		for _, n := range needles {
			if strings.Contains(k, n) || strings.Contains(val, n) {
				found[k] = n
			}
		}
	}
	return found
}

var anaNeedles = []string{"c-77", "1001", "ana@example.com", "5511988887777", "5001", "4999", "ana_l"}

func TestExportListsEveryKeyOfTheCustomer(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ana(t, r, s)
	ctx := context.Background()
	for _, ref := range []string{"c-77", "telegram:1001", "5001", "#4999"} {
		id, err := s.FindCustomer(ctx, ref)
		if err != nil || id != "c-77" {
			t.Fatalf("find %q = %q, %v", ref, id, err)
		}
	}
	e, err := s.Export(ctx, "c-77", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Every key whose name has the customer's id or chat is in the export.
	for k := range mentioning(t, r, "c-77", "1001") {
		if strings.Contains(k, "c-88") || strings.Contains(k, ":{q:") || strings.HasSuffix(k, ":active") {
			continue // someone else's; shared indexes (listed apart)
		}
		if strings.Contains(k, "c-77") || strings.Contains(k, "1001") || strings.Contains(k, ":link:") || strings.Contains(k, ":slack:case:") || strings.Contains(k, ":order:") || strings.Contains(k, "_username:") {
			if !slices.Contains(e.Keys, k) && !strings.HasSuffix(k, ":dead") {
				t.Errorf("export misses key %s", k)
			}
		}
	}
	if e.Journey["profile"].(map[string]any)["email"] != "ana@example.com" || len(e.History) == 0 ||
		!slices.Equal(e.Orders, []string{"4999", "5001"}) || e.Addresses["telegram"][0] != "1001" ||
		e.OptedOut["telegram:1001"] == 0 || len(e.Cases) != 1 {
		t.Errorf("export = %+v", e)
	}
	// What the figures remember of her is in the export, spelled out.
	if f, _ := e.Journey["figures"].(map[string]any); f["purchases"] != 2.0 || f["spent_cents"] != 12990.0 || f["last_nudge_flow"] != "csat" {
		t.Errorf("export's figures = %v", e.Journey["figures"])
	}
	if _, err := s.FindCustomer(ctx, "nobody"); !errors.Is(err, journey.ErrUnknownCustomer) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("unknown customer: %v", err)
	}
}

func TestEraseLeavesNothingOfTheCustomer(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ana(t, r, s)
	ctx := context.Background()
	statsBefore, _ := r.Client.HGetAll(ctx, r.Prefix+":stats:2026-12-01").Result()
	if len(mentioning(t, r, anaNeedles...)) < 10 {
		t.Fatal("the fixture wrote too little to test an erase")
	}
	er, err := s.Erase(ctx, "c-77", time.Now(), journey.EraseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(er.Cases) != 1 || er.Keys < 10 {
		t.Errorf("erased = %+v", er)
	}
	for k, n := range mentioning(t, r, anaNeedles...) {
		t.Errorf("after the erase %s still holds %q", k, n)
	}
	statsAfter, _ := r.Client.HGetAll(ctx, r.Prefix+":stats:2026-12-01").Result()
	if len(statsAfter) != 2 || statsAfter["inbound"] != statsBefore["inbound"] {
		t.Errorf("aggregates changed: %v → %v", statsBefore, statsAfter)
	}
	// The figures are counts, no one in them: the erase leaves them (the
	// runtime takes the customer out of "in a stage now" itself).
	if all, _ := r.Client.HGetAll(ctx, r.Prefix+":insight:all:3").Result(); all["now|onboarding"] != "40" {
		t.Errorf("all-time figures after the erase: %v", all)
	}
	if dead, _ := r.Client.LRange(ctx, r.Prefix+":dead", 0, -1).Result(); len(dead) != 1 {
		t.Errorf("dead letters = %q, want the other chat's only", dead)
	}
	if id, _ := s.ResolveFresh(ctx, "telegram", "2002"); id != "c-88" {
		t.Errorf("another customer was touched: %q", id)
	}
	if erased, _ := s.WasErased(ctx, "c-77"); !erased {
		t.Error("not on the erased list")
	}
	if _, found, _ := s.Get(ctx, "c-77"); found {
		t.Error("journey still found")
	}
	if _, err := s.Erase(ctx, "c-77", time.Now(), journey.EraseOptions{}); !errors.Is(err, journey.ErrUnknownCustomer) {
		t.Errorf("second erase: %v", err)
	}
	if err := s.Consented(ctx, "c-77"); err != nil {
		t.Fatal(err)
	}
	if erased, _ := s.WasErased(ctx, "c-77"); erased {
		t.Error("still on the erased list after consent")
	}
	if _, err := r.Client.Get(ctx, r.Prefix+":optout:telegram:1001").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("opt-out record of the chat: %v", err)
	}
}

func TestInactiveCustomersAreClaimedOnce(t *testing.T) {
	r := redistest.New(t)
	s, other := newStore(t, r), newStore(t, r)
	ctx := context.Background()
	old := time.Now().Add(-800 * 24 * time.Hour)
	for _, id := range []string{"c-old", "c-new"} {
		at := old
		if id == "c-new" {
			at = time.Now()
		}
		if _, err := s.Update(ctx, id, "", at, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
			j.LastInbound = at.Unix()
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	limit := time.Now().Add(-730 * 24 * time.Hour)
	ids, err := s.Inactive(ctx, limit, 10)
	if err != nil || !slices.Equal(ids, []string{"c-old"}) {
		t.Fatalf("inactive = %v, %v", ids, err)
	}
	a, _ := s.ClaimInactive(ctx, "c-old", limit)
	b, _ := other.ClaimInactive(ctx, "c-old", limit)
	if !a || b {
		t.Errorf("claims = %v %v, want one", a, b)
	}
}

// Journeys stored before the activity index existed are put in it at start.
func TestPrepareIndexesOldJourneysForRetention(t *testing.T) {
	r := redistest.New(t)
	s := newStore(t, r)
	ctx := context.Background()
	old := time.Now().Add(-900 * 24 * time.Hour)
	if _, err := s.Update(ctx, "c-old", "", old, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.LastInbound = old.Unix()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	r.Client.Del(ctx, r.Prefix+":active") // as an older version left it
	if err := s.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := s.Inactive(ctx, time.Now().Add(-730*24*time.Hour), 10)
	if err != nil || !slices.Equal(ids, []string{"c-old"}) {
		t.Fatalf("inactive after prepare = %v, %v", ids, err)
	}
}
