package conversations

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize lowers case, removes accents and collapses spaces and
// punctuation, so "Cadê meu PEDIDO?!" matches the keyword "cade meu pedido".
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r): // accent marks
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case r == '#' || r == '@' || r == '.' && !space:
			b.WriteRune(r)
			space = false
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return strings.TrimRight(b.String(), " .")
}

// containsPhrase reports whether the normalized text holds the normalized
// phrase as whole words.
func containsPhrase(text, phrase string) bool {
	if phrase == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(text[i:], phrase)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(phrase)
		if (start == 0 || text[start-1] == ' ') && (end == len(text) || text[end] == ' ' || text[end] == '.') {
			return true
		}
		i = start + 1
	}
}
