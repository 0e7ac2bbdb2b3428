package conversations

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"journeybot/channels"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The checker's report on a file full of mistakes is compared with a golden
// file: every problem must be found, at its FILE:LINE:COL.
func TestLintReportsEveryProblemWithPosition(t *testing.T) {
	_, probs, err := LoadDir("testdata/bad")
	if err == nil {
		t.Fatal("bad scripts loaded without error")
	}
	var b strings.Builder
	for _, p := range probs {
		b.WriteString(p.String() + "\n")
	}
	golden := filepath.Join("testdata", "bad.golden")
	if *update {
		os.WriteFile(golden, []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("lint report differs from %s (go test -update to accept):\n--- got\n%s--- want\n%s", golden, b.String(), want)
	}
}

func TestShippedScriptsLintClean(t *testing.T) {
	s, probs, err := LoadDir("../scripts")
	if err != nil {
		t.Fatalf("shipped scripts do not lint:\n%v", err)
	}
	for _, p := range probs {
		t.Errorf("warning in shipped scripts: %s", p)
	}
	if len(s.Flows) == 0 {
		t.Fatal("no flows")
	}
}

func TestTemplates(t *testing.T) {
	data := map[string]string{"name": "Ana", "order.id": "123"}
	look := func(f string) (string, bool) { v, ok := data[f]; return v, ok }
	cases := []struct{ src, want, err string }{
		{"Olá, {{ name }}!", "Olá, Ana!", ""},
		{"{{ missing | default \"cliente\" }}", "cliente", ""},
		{"{{ if order.id }}#{{ order.id }}{{ else }}sem pedido{{ end }}", "#123", ""},
		{"{{ if coupon }}{{ coupon }}{{ else }}sem cupom{{ end }}", "sem cupom", ""},
		{"{{ missing }}.", ".", ""},
		{"{{ if name }}x", "", "has no {{ end }}"},
		{"{{ name", "", "never closed"},
		{"{{ end }}", "", "without {{ if }}"},
		{"{{ name | upper }}", "", "unknown filter"},
		{"{{ .name }}", "", "bad field"},
	}
	for _, c := range cases {
		tpl, err := ParseTemplate(c.src)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err = %v, want %q", c.src, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if got := tpl.Render(look); got != c.want {
			t.Errorf("%q renders %q, want %q", c.src, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"Cadê meu PEDIDO?!":     "cade meu pedido",
		"  Olá,   tudo bem? 😀 ": "ola tudo bem",
		"pedido #1234":          "pedido #1234",
		"":                      "",
		"ÇÃO":                   "cao",
	}
	for in, want := range cases {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if !containsPhrase("quero falar com atendente agora", "falar com atendente") {
		t.Error("phrase not found")
	}
	if containsPhrase("pedidos", "pedido") {
		t.Error("matched inside a word")
	}
}

func TestParseDuration(t *testing.T) {
	for in, ok := range map[string]bool{"3d": true, "2w": true, "90s": true, "1h30m": true, "3 days": false, "-1d": false, "": false} {
		_, err := ParseDuration(in)
		if (err == nil) != ok {
			t.Errorf("ParseDuration(%q) err = %v", in, err)
		}
	}
}

// Lint warns where a step meets a channel's limits: a label the channel
// cuts (as a button, or as a list row when there are more than its buttons),
// more buttons than it can offer (then nothing is cut: the choices go as
// text); a channel without the limits says nothing.
func TestLintChannels(t *testing.T) {
	s, _, err := LoadDir("testdata/channels")
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string]channels.Capabilities{
		"narrow": {MaxButtons: 3, MaxList: 10, MaxLabel: 20, MaxListLabel: 24},
		"wide":   {},
	}
	var got []string
	for _, p := range LintChannels(s, caps) {
		if !p.Warning {
			t.Errorf("an error, want warnings only: %s", p)
		}
		got = append(got, p.String())
	}
	want := []string{
		`testdata/channels/s.yaml:7:9: warning: 11 buttons: narrow shows at most 10; there its customers get the choices as text and type one`,
		`testdata/channels/s.yaml:28:13: warning: button label "Um rótulo de vinte e dois" (pt-BR) has 25 characters; narrow buttons show 20 and cut the rest`,
		`testdata/channels/s.yaml:37:13: warning: button label "Um rótulo de vinte e dois" (pt-BR) has 25 characters; narrow list rows show 24 and cut the rest`,
		`testdata/channels/s.yaml:38:13: warning: button label "Este rótulo tem trinta letras!" (pt-BR) has 30 characters; narrow list rows show 24 and cut the rest`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
