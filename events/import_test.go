package events_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/events"
	"journeybot/internal/redistest"
)

func line(id, typ, customer, at, extra string) string {
	return fmt.Sprintf(`{"id":%q,"type":%q,"occurred_at":%q,"customer":{"id":%q,"telegram_chat":"9%s"}%s}`,
		id, typ, at, customer, strings.TrimPrefix(customer, "c"), extra)
}

func TestImportAppliesGoodLinesAndReportsBadOnes(t *testing.T) {
	r := redistest.New(t)
	b, store, rec := newBot(t, r.Client, r.Prefix)
	old := "2026-01-10T10:00:00-03:00" // weeks before now: history, not news
	lines := []string{
		line("e1", "customer.created", "c1", old, ""),                               // 1
		line("e2", "order.created", "c1", old, `,"order":{"id":"9001","total":10}`), // 2
		"",                                // 3 blank
		`{"id":"e3","type":"order.paid",`, // 4 broken JSON
		`# a comment`,                     // 5
		`{"id":"e4","type":"order.paid","customer":{"id":"c1"},"order":{"id":"9001"}}`,             // 6 no time
		line("e2", "order.created", "c1", old, `,"order":{"id":"9001","total":10}`),                // 7 duplicate
		line("e5", "order.shipped", "c2", old, `,"order":{"id":"9002","tracking_url":"x"}`),        // 8 bad URL
		line("e6", "order.delivered", "c1", "2026-01-12T10:00:00-03:00", `,"order":{"id":"9001"}`), // 9
		`{"id":"big","pad":"` + strings.Repeat("x", events.MaxBody+10) + `"}`,                      // 10 too long
		line("e7", "customer.created", "c2", old, ""),                                              // 11, no newline at the end
	}
	in := strings.Join(lines, "\n")
	var progress bytes.Buffer
	sum, err := events.Import(context.Background(), strings.NewReader(in), b, events.ImportOptions{
		Progress: &progress, Size: int64(len(in)), Workers: 3, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if sum.Lines != 9 || sum.Applied != 4 || sum.Duplicates != 1 || len(sum.Invalid) != 4 {
		t.Fatalf("summary = %+v, want 9 lines: 4 applied, 1 duplicate, 4 invalid", sum)
	}
	wantBad := map[int]string{4: "not valid JSON", 6: "occurred_at: required", 8: "order.tracking_url", 10: "longer than 1 MiB"}
	for _, e := range sum.Invalid {
		if want, ok := wantBad[e.Line]; !ok || !strings.Contains(e.Err, want) {
			t.Errorf("invalid %s; want lines %v", e, wantBad)
		}
	}
	if sum.Messages != 0 || len(rec.Sent()) != 0 {
		t.Fatalf("old events sent messages: %d produced, %+v sent", sum.Messages, rec.Sent())
	}
	if progress.Len() == 0 || !strings.Contains(progress.String(), "importing events") {
		t.Fatalf("no progress bar written: %q", progress.String())
	}
	j, found, err := store.Get(context.Background(), "c1")
	if err != nil || !found {
		t.Fatalf("c1: found=%v err=%v", found, err)
	}
	if o := j.Order("9001"); o == nil || o.Status != "delivered" || o.Total != 10 {
		t.Fatalf("c1's order = %+v, want delivered with total 10 (events in file order)", o)
	}
	if j.Stage != "onboarding" {
		t.Fatalf("c1's stage = %q, want onboarding after order.delivered", j.Stage)
	}
	if _, found, _ := store.Get(context.Background(), "c2"); !found {
		t.Fatal("c2 (last line, no newline) was not imported")
	}

	// The same file again: nothing is applied twice.
	again, err := events.Import(context.Background(), strings.NewReader(in), b, events.ImportOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if again.Applied != 0 || again.Duplicates != 5 {
		t.Fatalf("second import = %+v, want 0 applied and 5 duplicates", again)
	}
}

func TestImportOfRecentEventCountsItsMessages(t *testing.T) {
	r := redistest.New(t)
	b, _, rec := newBot(t, r.Client, r.Prefix)
	recent := now.Add(-time.Hour).Format(time.RFC3339)
	in := line("n1", "customer.created", "c1", recent, "") + "\n"
	sum, err := events.Import(context.Background(), strings.NewReader(in), b, events.ImportOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// The test bot has a channel, so here the welcome was delivered; the
	// summary counts it either way, so the CLI can warn when it could not be.
	if sum.Applied != 1 || sum.Messages != 1 || len(rec.Sent()) != 1 {
		t.Fatalf("summary = %+v, sent %d; want 1 applied with 1 message", sum, len(rec.Sent()))
	}
}

func TestImportStopsWhenTheStoreFails(t *testing.T) {
	r := redistest.New(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	dead.Close()
	b, _, _ := newBot(t, dead, r.Prefix)
	var in strings.Builder
	for i := 0; i < 500; i++ {
		in.WriteString(line(fmt.Sprint("e", i), "customer.created", fmt.Sprint("c", i), "2026-01-10T10:00:00Z", "") + "\n")
	}
	sum, err := events.Import(context.Background(), strings.NewReader(in.String()), b, events.ImportOptions{Now: func() time.Time { return now }})
	if err == nil || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("err = %v, want an error naming the line", err)
	}
	if sum == nil || sum.Applied != 0 {
		t.Fatalf("summary = %+v, want nothing applied", sum)
	}
}
