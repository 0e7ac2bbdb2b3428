package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"journeybot/bot"
	"journeybot/conversations"
	"journeybot/conversations/scripttest"
	"journeybot/internal/redistest"
	"journeybot/journey"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// `journeybot preview FIXTURE`: the month of a customer whose order just
// shipped late in the evening, with the shipped scripts and the default
// send rules (quiet hours move the evening's message to 09:00).
func TestPreviewFixtureGolden(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	fixture, _ := filepath.Abs("testdata/preview/helena.yaml")
	cmd := exec.Command(binary(t), "preview", fixture, "--days", "30")
	cmd.Env = append(os.Environ(), "JOURNEYBOT_SCRIPTS_DIR="+scripts)
	cmd.Dir = t.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("preview: %v\n%s", err, stderr.String())
	}
	golden := "testdata/preview/helena.golden"
	if *updateGolden {
		os.WriteFile(golden, out, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(want) {
		t.Errorf("preview differs from %s (go test -run TestPreviewFixtureGolden -update to accept):\n%s", golden, out)
	}
}

// A bad fixture names its file; a missing customer in Redis is an error.
func TestPreviewErrors(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("customer: {name: Ana}\nstesp: []\n"), 0o600)
	r := redistest.New(t)
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown key", []string{"preview", bad}, nil, "stesp"},
		{"no such customer", []string{"preview", "--redis", "nobody-here"}, []string{"JOURNEYBOT_REDIS_URL=" + r.URL, "JOURNEYBOT_REDIS_PREFIX=" + r.Prefix}, `no customer "nobody-here"`},
		{"redis without url", []string{"preview", "--redis", "c1"}, []string{"JOURNEYBOT_REDIS_URL="}, "needs redis.url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(binary(t), c.args...)
			cmd.Env = append(append(os.Environ(), "JOURNEYBOT_SCRIPTS_DIR="+scripts), c.env...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("%v: %v\n%s", c.args, err, out)
			}
		})
	}
}

// `journeybot preview --redis ID` previews a copy of a real customer's
// journey from now, and leaves the real one as it was.
func TestPreviewFromRedis(t *testing.T) {
	r := redistest.New(t)
	ctx := context.Background()
	scriptsDir, _ := filepath.Abs("../../scripts")
	s, _, err := conversations.LoadDir(scriptsDir)
	if err != nil {
		t.Fatal(err)
	}
	store := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	id := "preview-" + r.Prefix
	now := time.Now()
	if err := scripttest.Seed(ctx, store, id, scripttest.Customer{Name: "Bruna Lima", Orders: []scripttest.Order{{ID: "2200", Status: "shipped", Items: []scripttest.Item{{Name: "Tênis Corrida Leve", SKU: "TENIS-01", Qty: 1}}}}}, now); err != nil {
		t.Fatal(err)
	}
	b := bot.New(bot.Options{Store: store, Engine: conversations.NewEngine(s, conversations.DefaultOptions())})
	if _, err := b.HandleEvent(ctx, journey.Event{ID: "e1", Type: "order.delivered", At: now, Customer: journey.EventCustomer{ID: id}, Order: &journey.Order{ID: "2200"}}); err != nil {
		t.Fatal(err)
	}
	before, _, _ := store.Get(ctx, id)
	cmd := exec.Command(binary(t), "preview", "--redis", id, "--days", "10")
	cmd.Env = append(os.Environ(), "JOURNEYBOT_SCRIPTS_DIR="+scriptsDir, "JOURNEYBOT_REDIS_URL="+r.URL, "JOURNEYBOT_REDIS_PREFIX="+r.Prefix)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("preview --redis: %v\n%s", err, out)
	}
	for _, want := range []string{"preview: Bruna Lima (" + id + ")", "Dica do primeiro dia com Tênis Corrida Leve", "de 1 a 5"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
	store2 := journey.NewStore(r.Client, journey.Options{Prefix: r.Prefix})
	after, _, _ := store2.Get(ctx, id)
	if len(after.Timers) != len(before.Timers) || after.Counters != before.Counters {
		t.Errorf("the real journey changed: timers %d -> %d", len(before.Timers), len(after.Timers))
	}
}
