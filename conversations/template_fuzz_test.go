package conversations

import (
	"strings"
	"testing"
)

// FuzzTemplate parses an arbitrary template and renders it with arbitrary
// data: a template that parses renders without a panic, data is written as
// it is (never read as a template), and what the data says never leaves
// "{{" that the template did not have.
func FuzzTemplate(f *testing.F) {
	f.Add("Olá, {{ first_name | default \"cliente\" }}!", "Ana")
	f.Add("{{ if order.tracking_url }}Rastreio: {{ order.tracking_url }}{{ else }}sem rastreio{{ end }}", "https://t.example/1")
	f.Add("{{ if a }}{{ if b }}x{{ end }}{{ end }}", "{{ b }}")
	f.Add("{{", "")
	f.Add("{{ facts.x | default \"}}\" }}", "0")
	f.Fuzz(func(t *testing.T, src, data string) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		tpl.Fields()
		out := tpl.Render(func(string) (string, bool) { return data, true })
		none := tpl.Render(func(string) (string, bool) { return "", false })
		if !strings.Contains(src, "{{") && out != strings.TrimSpace(src) {
			t.Fatalf("plain text %q rendered as %q", src, out)
		}
		if strings.Count(none, "{{") > strings.Count(src, "{{") {
			t.Fatalf("rendering without data made a template: %q from %q", none, src)
		}
	})
}
