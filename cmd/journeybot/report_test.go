package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReportRange(t *testing.T) {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	// 01:30 UTC on 2 December is still 1 December in São Paulo.
	now := time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, to         string
		wantFrom, wantTo string
		err              string
	}{
		{"", "", "2026-11-25", "2026-12-01", ""},
		{"", "2026-11-10", "2026-11-04", "2026-11-10", ""},
		{"2026-11-30", "", "2026-11-30", "2026-12-01", ""},
		{"2026-11-01", "2026-11-01", "2026-11-01", "2026-11-01", ""},
		{"2026-02-30", "", "", "", `--from "2026-02-30": give a day as YYYY-MM-DD`},
		{"", "1/12/2026", "", "", `--to "1/12/2026": give a day as YYYY-MM-DD`},
		{"2026-12-05", "2026-12-01", "", "", "--from 2026-12-05 is after --to 2026-12-01"},
		{"2024-01-01", "2026-01-01", "", "", "is 732 days: give at most 367"},
	} {
		from, to, err := reportRange(tc.from, tc.to, sp, now)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("reportRange(%q, %q) err = %v, want %q", tc.from, tc.to, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("reportRange(%q, %q): %v", tc.from, tc.to, err)
			continue
		}
		if got := from.Format(time.DateOnly) + " " + to.Format(time.DateOnly); got != tc.wantFrom+" "+tc.wantTo {
			t.Errorf("reportRange(%q, %q) = %s, want %s %s", tc.from, tc.to, got, tc.wantFrom, tc.wantTo)
		}
		if from.Location() != sp || from.Hour() != 0 || to.Hour() != 0 {
			t.Errorf("reportRange(%q, %q) = %v .. %v, want midnights in %v", tc.from, tc.to, from, to, sp)
		}
	}
}

func runJourneybot(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// journeybot map draws the shipped scripts as the insight package does
// (its golden file), in every format.
func TestMapCommand(t *testing.T) {
	scripts, err := filepath.Abs("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runJourneybot(t, nil, "map", scripts)
	if err != nil {
		t.Fatalf("map: %v\n%s", err, stderr)
	}
	want, err := os.ReadFile("../../insight/testdata/journey.mmd")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("journeybot map differs from insight/testdata/journey.mmd:\n%s", out)
	}
	dot, stderr, err := runJourneybot(t, nil, "map", scripts, "--format", "dot")
	if err != nil || !strings.HasPrefix(dot, "digraph journey {") || !strings.Contains(dot, "cluster_stages") {
		t.Errorf("map --format dot: %v %s\n%s", err, stderr, dot)
	}
	page := filepath.Join(t.TempDir(), "map.html")
	if _, stderr, err := runJourneybot(t, nil, "map", scripts, "--format", "html", "--out", page); err != nil {
		t.Fatalf("map --format html: %v %s", err, stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<svg xmlns="http://www.w3.org/2000/svg" id="journey-map"`) || !strings.Contains(string(b), "csat_delivery") {
		t.Errorf("the map page lacks the map:\n%.500s", b)
	}
}

func TestMapAndReportCommandErrorsNameTheFlag(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "a.yaml"), []byte("flows:\n  - id: x\n    steps:\n      - sya: {en: hi}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"map", scripts, "--format", "png"}, `--format "png": give one of mermaid, dot, html`},
		{[]string{"map", scripts, "--from", "2026-11-01"}, "add --report"},
		{[]string{"map", broken}, "a.yaml:4:"},
		{[]string{"report", "--format", "pdf"}, `--format "pdf": give one of table, json, csv, html`},
		{[]string{"report", "--from", "yesterday"}, `--from "yesterday": give a day as YYYY-MM-DD`},
		{[]string{"report", "--to", "2026-11-31"}, `--to "2026-11-31": give a day as YYYY-MM-DD`},
		{[]string{"report", "--from", "2026-11-20", "--to", "2026-11-10"}, "--from 2026-11-20 is after --to 2026-11-10"},
	} {
		env := []string{"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=redis://127.0.0.1:1/0"}
		_, stderr, err := runJourneybot(t, env, tc.args...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("journeybot %s: err %v, stderr %q, want it to say %q", strings.Join(tc.args, " "), err, stderr, tc.want)
		}
	}
}
