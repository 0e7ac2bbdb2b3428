package channels

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// noSpace drops the blanks of s and keeps every other byte as it is
// (bytes that are not UTF-8 included).
func noSpace(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// FuzzSplitText: every part is within the limit and not empty, and the parts
// keep all of the text but the blanks at the cuts, in order.
func FuzzSplitText(f *testing.F) {
	f.Add("Olá! Seu pedido #1234 foi enviado.\n\nRastreio: https://t.example/1234", 20)
	f.Add(strings.Repeat("palavra ", 1000), 4096)
	f.Add("🙂🙂🙂🙂", 3)
	f.Add("a\u00a0b\u2028c", 1)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		limit = limit%5000 + 1
		if limit <= 0 {
			limit += 5000
		}
		parts := SplitText(text, limit)
		for _, p := range parts {
			if p == "" {
				t.Fatalf("an empty part of %q", text)
			}
			// Only a lone character wider than the limit (an emoji at 1) is over it.
			if Units(p) > limit && utf8.RuneCountInString(p) > 1 {
				t.Fatalf("part of %d units over the limit %d", Units(p), limit)
			}
		}
		got := ""
		for _, p := range parts {
			got += noSpace(p)
		}
		if want := noSpace(text); got != want {
			t.Fatalf("the parts lost text: %q, want %q", got, want)
		}
	})
}
