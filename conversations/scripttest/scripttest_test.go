package scripttest

import (
	"context"
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
