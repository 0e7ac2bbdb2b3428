package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"journeybot/insight"
	"journeybot/internal/redistest"
)

// A history of orders goes in through `journeybot events import` (the real
// runtime records the figures, on each event's own day, and the import
// writes them before it exits), and `journeybot report` reads them back from
// Redis in every format; `journeybot map --report` draws them on the map.
func TestReportCommandEndToEnd(t *testing.T) { redistest.Each(t, testReportCommandEndToEnd) }

func testReportCommandEndToEnd(t *testing.T, r *redistest.Redis) {
	scripts, err := filepath.Abs("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix, "JOURNEYBOT_SCRIPTS_DIR=" + scripts,
		"JOURNEYBOT_SEND_DEFAULT_TIMEZONE=America/Sao_Paulo"}
	order := func(id, typ, at, customer, orderID, total string) string {
		return `{"id":"` + id + `","type":"` + typ + `","occurred_at":"` + at + `","customer":{"id":"` + customer + `"},"order":{"id":"` + orderID + `","total":` + total + `,"currency":"BRL"}}`
	}
	history := strings.Join([]string{
		order("e1", "order.paid", "2026-03-02T10:00:00-03:00", "ana", "o1", "100"),
		order("e2", "order.paid", "2026-03-02T11:00:00-03:00", "bia", "o2", "50"),
		order("e3", "order.delivered", "2026-03-04T09:00:00-03:00", "ana", "o1", "100"),
		// 3 March has nothing; on 5 March Ana buys again.
		order("e4", "order.paid", "2026-03-05T15:00:00-03:00", "ana", "o3", "30"),
	}, "\n") + "\n"
	file := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(file, []byte(history), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := runJourneybot(t, env, "events", "import", file); err != nil {
		t.Fatalf("events import: %v\n%s\n%s", err, out, stderr)
	}

	out, stderr, err := runJourneybot(t, env, "report", "--from", "2026-03-01", "--to", "2026-03-06", "--format", "json")
	if err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	var rep insight.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report --format json: %v\n%s", err, out)
	}
	if rep.From != "2026-03-01" || rep.To != "2026-03-06" || rep.Zone != "America/Sao_Paulo" || len(rep.Days) != 6 {
		t.Fatalf("range %s..%s %s with %d days, want 2026-03-01..2026-03-06 in America/Sao_Paulo, 6 days", rep.From, rep.To, rep.Zone, len(rep.Days))
	}
	c := rep.Customers
	if c.Orders != 3 || c.Revenue != 180 || c.New != 2 || c.Repeat != 1 {
		t.Errorf("customers: %d orders, revenue %v, %d new, %d repeat; want 3 orders of 180 in all, 2 new, 1 repeat", c.Orders, c.Revenue, c.New, c.Repeat)
	}
	entered := map[string]int64{}
	for _, s := range rep.Stages.List {
		entered[s.ID] = s.Entered
	}
	// Both enter purchase (the initial stage) with their first order; Ana's
	// delivery takes her to onboarding, her second order to loyalty.
	if entered["purchase"] != 2 || entered["onboarding"] != 1 || entered["loyalty"] != 1 || entered["retention"] != 0 {
		t.Errorf("stage entries %v, want purchase 2, onboarding 1, loyalty 1", entered)
	}
	moved := false
	for _, f := range rep.Stages.Funnel {
		if f.From == "purchase" && f.To == "onboarding" {
			moved = f.Moved == 1 && f.Rate != nil && *f.Rate == 0.5
		}
	}
	if !moved {
		t.Errorf("funnel %+v: want purchase → onboarding 1 of 2", rep.Stages.Funnel)
	}

	// The same figures in the other formats, and in files.
	dir := t.TempDir()
	for _, format := range []string{"table", "csv", "html"} {
		file := filepath.Join(dir, "report."+format)
		if _, stderr, err := runJourneybot(t, env, "report", "--from", "2026-03-01", "--to", "2026-03-06", "--format", format, "--out", file); err != nil {
			t.Fatalf("report --format %s: %v\n%s", format, err, stderr)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		switch format {
		case "table":
			if !strings.Contains(got, "Journey report 2026-03-01 .. 2026-03-06 (America/Sao_Paulo)") || !strings.Contains(got, "purchase    onboarding  1      50%") {
				t.Errorf("table:\n%s", got)
			}
		case "csv":
			rows, err := csv.NewReader(strings.NewReader(got)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, row := range rows {
				found = found || strings.Join(row, ",") == "stage,purchase,entered,2"
			}
			if !found {
				t.Errorf("csv lacks stage,purchase,entered,2:\n%s", got)
			}
		case "html":
			for _, want := range []string{`id="chart-funnel"`, `id="chart-nps-csat"`, `id="journey-map"`, "entered 2 · now"} {
				if !strings.Contains(got, want) {
					t.Errorf("the HTML report lacks %s", want)
				}
			}
		}
	}
	out, stderr, err = runJourneybot(t, env, "map", "--report", "--from", "2026-03-01", "--to", "2026-03-06")
	if err != nil {
		t.Fatalf("map --report: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, `st0(["purchase (initial)<br/>entered 2 · now`) || !strings.Contains(out, "on order.delivered · moved 1") {
		t.Errorf("map --report lacks the stage figures:\n%.3000s", out)
	}
}

// Without redis.url the report says what it needs.
func TestReportCommandNeedsRedis(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	_, stderr, err := runJourneybot(t, []string{"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL="}, "report")
	if err == nil || !strings.Contains(stderr, "redis.url") {
		t.Fatalf("err %v, stderr %q: want it to name redis.url", err, stderr)
	}
}
