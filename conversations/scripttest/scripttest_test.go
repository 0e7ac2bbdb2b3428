package scripttest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped scripts pass their own tests (make test runs this).
func TestShippedScripts(t *testing.T) {
	rep, err := RunDir(context.Background(), "../../scripts", "")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	if rep.Failed > 0 || rep.Passed == 0 {
		t.Fatalf("script tests:\n%s", out.String())
	}
}

// The runner reports failures with their place and a diff.
func TestRunnerReportsFailures(t *testing.T) {
	rep, err := RunDir(context.Background(), "testdata/failing", "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || rep.Failed != 3 {
		t.Fatalf("passed %d failed %d, want 1 and 3", rep.Passed, rep.Failed)
	}
	var out strings.Builder
	rep.Print(&out)
	for _, want := range []string{
		"wrong_test.yaml:10: messages differ",
		`want: "Bom dia!"`,
		`got:  "Olá, cliente!" buttons Pedido`,
		`no button "Cancelar" to press`,
		`stage is "onboarding", want "purchase"`,
		"1 passed, 3 failed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// --run selects tests by name.
	rep, _ = RunDir(context.Background(), "testdata/failing", "passes")
	if rep.Passed != 1 || rep.Failed != 0 {
		t.Errorf("filtered run: passed %d failed %d", rep.Passed, rep.Failed)
	}
}

// writeSet copies the failing set's scripts to a new folder with one test file.
func writeSet(t *testing.T, test string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/failing/scripts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x_test.yaml"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Fixtures are as strict as steps: a typo is an error at its FILE:LINE:COL,
// every one of them is shown, and events go through POST /events' checks.
func TestFixturesAreStrict(t *testing.T) {
	dir := writeSet(t, `tests:
  - name: typos everywhere
    customer: {stgae: purchase, langauge: en, orders: [{id: "1", stauts: shipped}]}
    steps:
      - event: {tpye: order.shipped}
      - event: {type: order.shipped}
      - event: {type: Order Shipped, order: {id: "1"}}
      - say: oi
        stage: onbording
      - advance: 3 days
  - name: wrong shapes
    customer: {stage: onbording, points: many, orders: [{id: "1", status: Shipped Now}]}
    steps:
      - say: oi
        expect: [{contians: ["x"]}]
      - say: oi
        press: Pedido
`)
	_, err := RunDir(context.Background(), dir, "")
	if err == nil {
		t.Fatal("a test file full of typos ran")
	}
	f := filepath.Join(dir, "x_test.yaml")
	for _, want := range []string{
		f + `:3:16: unknown field "stgae" in customer (did you mean "stage"?)`,
		f + `:3:33: unknown field "langauge" in customer (did you mean "language"?)`,
		f + `:3:66: unknown field "stauts" in orders (did you mean "status"?)`,
		f + `:5:17: unknown field "tpye" in event (did you mean "type"?)`,
		f + `:12:42: points must be a whole number, not "many"`,
		f + `:15:19: unknown field "contians" in expect (did you mean "contains"?)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing\n  %s\nin:\n%v", want, err)
		}
	}
	// With the keys right, the meaning is checked.
	dir = writeSet(t, `tests:
  - name: meaning
    customer: {stage: onbording, orders: [{id: "1", status: Shipped Now}]}
    steps:
      - event: {type: order.shipped}
      - event: {type: Order Shipped, order: {id: "1"}}
      - say: oi
        stage: onbording
      - advance: 3 days
      - say: oi
        press: Pedido
`)
	_, err = RunDir(context.Background(), dir, "")
	if err == nil {
		t.Fatal("a test file with wrong stages and events ran")
	}
	f = filepath.Join(dir, "x_test.yaml")
	for _, want := range []string{
		f + `:3:23: stage "onbording" does not exist (did you mean "onboarding"?)`,
		f + `:3:43: orders[0].status: "Shipped Now" is not a status`,
		f + `:5:16: event: order: required for order.shipped`,
		f + `:6:16: event: type: "Order Shipped" is not an event type`,
		f + `:8:16: stage "onbording" does not exist (did you mean "onboarding"?)`,
		f + `:9:18: advance: bad duration "3 days"`,
		f + `:10:9: a test step has exactly one of say, press`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing\n  %s\nin:\n%v", want, err)
		}
	}
}

// contains: may be one text, as the README shows.
func TestContainsTakesOneText(t *testing.T) {
	dir := writeSet(t, `tests:
  - name: scalar contains
    steps:
      - say: oi
        expect: [{contains: "Olá", not_contains: "Sorry"}]
`)
	rep, err := RunDir(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 {
		var out strings.Builder
		rep.Print(&out)
		t.Fatalf("scalar contains:\n%s", out.String())
	}
}

// The shipped scripts' tests run at least 90% of their steps (the README
// gives the figure).
func TestShippedScriptsCoverage(t *testing.T) {
	rep, err := Run(context.Background(), "../../scripts", Options{Coverage: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Coverage.Total.Steps.Percent(); p < 90 {
		var out strings.Builder
		rep.Coverage.Print(&out)
		t.Fatalf("step coverage %.1f%%, want at least 90%%:\n%s", p, out.String())
	}
}

// Coverage counts what the tests ran and lists the rest at its place.
func TestCoverageListsWhatNoTestReached(t *testing.T) {
	rep, err := Run(context.Background(), "testdata/failing", Options{Filter: "passes", Coverage: true})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Coverage.Print(&out)
	f := filepath.Join("testdata", "failing", "scripts.yaml")
	for _, want := range []string{
		f + "  ",
		"flows 2/6 (33.3%)",
		"steps 3/10 (30.0%)", // hello, the order branch, none
		"buttons 1/1 (100.0%)",
		"branches 1/2 (50.0%)",
		"uncovered " + f + ":25:13: case 1 (if order.id) of step \"1\" of flow \"order\" never taken",
		"uncovered " + f + ":27:9: step \"found\" of flow \"order\"",
		"uncovered " + f + ":32:5: flow \"handoff\" never ran (2 steps)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("coverage lacks %q:\n%s", want, out.String())
		}
	}
}
