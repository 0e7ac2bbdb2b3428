package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

const tipScripts = `settings: {languages: [pt-BR], fallback: fallback}
stages: [{id: purchase, initial: true}]
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Oi"}
  - id: tip
    triggers: [{after: 1h, since: order.delivered}]
    steps:
      - say: {pt-BR: "Dica do dia"}
`

const tipTest = `tests:
  - name: a tip an hour after delivery
    steps:
      - event: {type: order.delivered, order: {id: "1"}}
      - advance: 2h
        expect: ["Dica do dia"]
`

// journeybot test runs with the configured send.* rules and says which.
func TestScriptTestsUseConfiguredSendRules(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{"s.yaml": tipScripts, "s_test.yaml": tipTest,
		"quiet.yaml": "send:\n  quiet_start: \"10:30\"\n  quiet_end: \"23:00\"\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scripts := filepath.Join(dir, "scripts")
	os.Mkdir(scripts, 0o755)
	os.Rename(filepath.Join(dir, "s.yaml"), filepath.Join(scripts, "s.yaml"))
	os.Rename(filepath.Join(dir, "s_test.yaml"), filepath.Join(scripts, "s_test.yaml"))

	cmd := exec.Command(binary(t), "test", scripts)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "quiet 21:00-09:00 (America/Sao_Paulo), grace 12h0m0s (built-in defaults)") {
		t.Fatalf("default rules: %v\n%s", err, out)
	}
	cmd = exec.Command(binary(t), "--config", "quiet.yaml", "test", scripts)
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("with quiet hours from 10:30 the tip must wait: exit %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "quiet 10:30-23:00 (America/Sao_Paulo), grace 12h0m0s (send.* of quiet.yaml)") {
		t.Errorf("the report does not say which rules ran:\n%s", out)
	}
}

// Script warnings are for script authors: `events import` does not print them.
func TestEventsImportDoesNotPrintScriptWarnings(t *testing.T) {
	m := miniredis.RunT(t)
	dir := t.TempDir()
	warned := strings.Replace(tipScripts, `"Dica do dia"`, `"Dica, {{ name }}"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(warned), 0o644); err != nil {
		t.Fatal(err)
	}
	lint, _ := exec.Command(binary(t), "lint", dir).CombinedOutput()
	if !strings.Contains(string(lint), "warning:") {
		t.Fatalf("the scripts have no warning to leave out:\n%s", lint)
	}
	file := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(file, []byte(e2eOrderLine("h1", "c1")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "events", "import", file)
	cmd.Env = append(os.Environ(), "JOURNEYBOT_REDIS_URL=redis://"+m.Addr(), "JOURNEYBOT_SCRIPTS_DIR="+dir)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 applied") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "script warning") || strings.Contains(string(out), "{{ name }}") {
		t.Errorf("events import printed script warnings:\n%s", out)
	}
}

// journeybot lint FILE checks the file with the rest of its set and reports
// that file's problems only.
func TestLintOneFileOfASet(t *testing.T) {
	out, err := exec.Command(binary(t), "lint", "../../scripts/support.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok: ../../scripts/support.yaml (checked with the set in ../../scripts), 0 warning(s)") {
		t.Fatalf("a shipped file alone: %v\n%s", err, out)
	}
	out, err = exec.Command(binary(t), "lint", "../../scripts/orders_test.yaml").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "holds script tests: journeybot test") {
		t.Fatalf("a test file: %v\n%s", err, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(tipScripts), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("flows:\n  - id: other\n    triggers: [{command: x}]\n    steps:\n      - goto: nowhere\n"), 0o644)
	out, err = exec.Command(binary(t), "lint", filepath.Join(dir, "a.yaml")).CombinedOutput()
	if err != nil || strings.Contains(string(out), "b.yaml:5") || !strings.Contains(string(out), "other files of the set") {
		t.Fatalf("a clean file beside a broken one: %v\n%s", err, out)
	}
	out, err = exec.Command(binary(t), "lint", filepath.Join(dir, "b.yaml")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "b.yaml:5:9: goto: flow \"nowhere\" does not exist") {
		t.Fatalf("the broken file: %v\n%s", err, out)
	}
}
