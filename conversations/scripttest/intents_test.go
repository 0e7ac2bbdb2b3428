package scripttest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"journeybot/conversations"
	"journeybot/internal/openaitest"
	"journeybot/llm"
)

const exampleScripts = `
settings: {languages: [pt-BR], fallback: fallback}
stages: [{id: s, initial: true}]
intents:
  - {id: order_status, keywords: [pedido]}
  - {id: thanks, keywords: [obrigado]}
flows:
  - {id: fallback, steps: [{say: "?"}]}
  - {id: a, triggers: [{intent: order_status}], steps: [{say: a}]}
  - {id: b, triggers: [{intent: thanks}], steps: [{say: b}]}
`

const exampleSrc = `language: pt-BR
min_accuracy: 0.8
examples:
  order_status:
    - cade meu pedido
    - meu pedidoo
  thanks:
    - obg
    - valeu
  none:
    - kkkk
`

func TestExamplesReport(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(exampleScripts), 0o644)
	os.WriteFile(filepath.Join(dir, "intents_test.yaml"), []byte(exampleSrc), 0o644)
	// Above the minimum, the run fails.
	os.WriteFile(filepath.Join(dir, "strict_test.yaml"), []byte(strings.Replace(exampleSrc, "0.8", "0.9", 1)), 0o644)
	if rep, err := RunDir(context.Background(), dir, ""); err != nil || rep.Failed != 1 {
		t.Fatalf("4 of 5 with min_accuracy 0.9: failed %v, err %v; want 1 failure", rep, err)
	}
	os.Remove(filepath.Join(dir, "strict_test.yaml"))
	rep, err := RunDir(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Intents) != 1 {
		t.Fatalf("%d example reports, want 1", len(rep.Intents))
	}
	ir := rep.Intents[0]
	if ir.Right != 4 || len(ir.File.Examples) != 5 || !ir.Passed() || rep.Failed != 0 {
		t.Errorf("right %d of %d, passed %v, failed %d; want 4 of 5, passing at the minimum (80%%)", ir.Right, len(ir.File.Examples), ir.Passed(), rep.Failed)
	}
	var out strings.Builder
	rep.Print(&out)
	for _, want := range []string{"intent accuracy 4/5 = 80.0%", "intents_test.yaml:9: \"valeu\" want thanks, got none", "thanks               2     1   50.0%  none 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExampleFileErrors(t *testing.T) {
	s, probs := conversations.Load(map[string][]byte{"s.yaml": []byte(exampleScripts)})
	if len(probs.Errors()) > 0 {
		t.Fatal(probs)
	}
	cases := map[string]string{
		"examples:\n  refund:\n    - quero reembolso\n": `f_test.yaml:3: intent "refund" does not exist`,
		"examples:\n  thanks: obrigado\n":               `must be a list`,
		"min_accuracy: 95\nexamples: {}\n":              `min_accuracy must be a number from 0 to 1`,
		"langauge: en\nexamples: {}\n":                  `unknown field "langauge"`,
	}
	for src, want := range cases {
		f, ok, err := exampleFile("f_test.yaml", []byte(src))
		if err == nil && ok {
			_, err = CheckExamples(s, f, nil)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

// The shipped examples with model routing, measured against the loopback
// OpenAI server: an oracle model (it knows every expected intent) gives the
// best routing can do; a model that always answers one intent, the worst.
func TestShippedExamplesWithModelRouting(t *testing.T) {
	s, _, err := conversations.LoadDir("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../scripts/intents_*_test.yaml")
	if len(files) == 0 {
		t.Fatal("no shipped example files")
	}
	var all []*ExampleFile
	truth := map[string]string{}
	for _, p := range files {
		src, _ := os.ReadFile(p)
		f, ok, err := exampleFile(p, src)
		if err != nil || !ok {
			t.Fatalf("%s: %v", p, err)
		}
		all = append(all, f)
		for _, ex := range f.Examples {
			truth[ex.Text] = ex.Want
		}
	}
	var choices []llm.IntentChoice
	for _, in := range s.Intents {
		choices = append(choices, llm.IntentChoice{ID: in.ID, About: in.Keywords[0].Text})
	}
	srv := openaitest.New(t)
	// A client per run: the routing cache must not carry answers over.
	router := func() Router {
		client, err := llm.New(llm.Config{APIKey: "k", BaseURL: srv.BaseURL(), Model: "m", Timeout: 2 * time.Second}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		return func(text string) string {
			id, _ := client.RouteIntent(context.Background(), text, choices)
			return id
		}
	}
	for _, f := range all {
		plain, err := CheckExamples(s, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetHandler(func(r openaitest.Request) openaitest.Response {
			u := strings.Join(r.ContentsByRole("user"), "")
			text := u[strings.Index(u, "<<<\n")+4 : strings.LastIndex(u, "\n>>>")]
			return openaitest.Reply(truth[text]) // "" for none: rejected, like none
		})
		oracle, _ := CheckExamples(s, f, router())
		srv.SetReply("order_status")
		always, _ := CheckExamples(s, f, router())
		t.Logf("%s: keywords only %.1f%%; with an oracle model %.1f%% (%d routed); with a model that always says order_status %.1f%%",
			f.Language, 100*plain.Accuracy(), 100*oracle.Accuracy(), oracle.Routed, 100*always.Accuracy())
		if oracle.Accuracy() < plain.Accuracy() {
			t.Errorf("%s: routing made it worse with a perfect model: %.3f < %.3f", f.Path, oracle.Accuracy(), plain.Accuracy())
		}
		if !plain.Passed() {
			t.Errorf("%s: %.1f%% without a model, below %.0f%%", f.Path, 100*plain.Accuracy(), 100*plain.MinAccuracy)
		}
	}
}
