package conversations

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"journeybot/internal/logtest"
	"journeybot/journey"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A valid change is swapped in; a broken one is refused with its position
// in the log, and the running scripts stay.
func TestWatchReloadsValidScriptsOnly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	write := func(src string) {
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(testScripts)
	s, _, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(s, DefaultOptions())
	logs := &logtest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { Watch(ctx, dir, e, slog.New(slog.NewTextHandler(logs, nil))); close(done) }()
	time.Sleep(100 * time.Millisecond) // let the watcher start

	reply := func() string {
		j := journey.New("c", monday10)
		return texts(e.Handle(j, Input{Kind: InText, Text: "xyz"}, monday10))[0]
	}
	write(strings.Replace(testScripts, "Não entendi ({{ misses }})", "Como?", 1))
	eventually(t, "the new fallback text", func() bool { return reply() == "Como?" })

	write(strings.Replace(testScripts, "goto: found", "goto: nowhere", 1))
	eventually(t, "the refusal in the log", func() bool {
		return strings.Contains(logs.String(), "s.yaml:") && strings.Contains(logs.String(), `step \"nowhere\" does not exist`)
	})
	if got := reply(); got != "Como?" {
		t.Fatalf("broken scripts replaced the running ones: %q", got)
	}
	cancel()
	<-done
}

// A reload logs the warnings it has not logged before, not every one again.
func TestReloadDoesNotRepeatWarnings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	warn := strings.Replace(testScripts, `"Dica 1"`, `"Dica {{ name }}"`, 1)
	if err := os.WriteFile(file, []byte(warn), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(s, DefaultOptions())
	logs := &logtest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { Watch(ctx, dir, e, slog.New(slog.NewTextHandler(logs, nil))); close(done) }()
	time.Sleep(100 * time.Millisecond)
	for i, text := range []string{"Como?", "Hã?"} {
		src := strings.Replace(warn, "Não entendi ({{ misses }})", text, 1)
		if i == 1 {
			src = strings.Replace(src, `"Dica 2"`, `"Dica {{ email }}"`, 1)
		}
		os.WriteFile(file, []byte(src), 0o644)
		want := strings.Count(logs.String(), "scripts reloaded") + 1
		eventually(t, "a reload", func() bool { return strings.Count(logs.String(), "scripts reloaded") >= want })
	}
	cancel()
	<-done
	out := logs.String()
	if strings.Contains(out, "{{ name }}") {
		t.Errorf("the warning of the first load was logged again on reload:\n%s", out)
	}
	if strings.Count(out, "{{ email }}") != 1 {
		t.Errorf("a new warning is logged once:\n%s", out)
	}
}
