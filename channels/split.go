package channels

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitText cuts text into parts of at most limit UTF-16 code units (the
// measure of Telegram and WhatsApp), at a paragraph break when there is one,
// else a line break, else the end of a sentence, else a space; a word longer
// than limit is cut (a character wider than limit is a part of its own).
// limit <= 0 returns the trimmed text whole.
func SplitText(text string, limit int) []string {
	text = strings.TrimSpace(text)
	if limit <= 0 {
		if text == "" {
			return nil
		}
		return []string{text}
	}
	var parts []string
	for text != "" {
		if Units(text) <= limit {
			parts = append(parts, text)
			break
		}
		// prefix is the longest byte prefix within limit code units, and at
		// least one character (an emoji is two units: a limit of one would
		// otherwise never advance).
		n, prefix := 0, 0
		for i := 0; i < len(text); {
			// The size read, not utf8.RuneLen: a byte that is not UTF-8
			// reads as U+FFFD, three bytes long, and would cut past the end.
			r, size := utf8.DecodeRuneInString(text[i:])
			w := 1
			if r >= 0x10000 {
				w = 2
			}
			if n+w > limit && i > 0 {
				break
			}
			n += w
			i += size
			prefix = i
		}
		cut := bestCut(text[:prefix])
		if cut <= 0 {
			cut = prefix
		}
		parts = append(parts, strings.TrimRightFunc(text[:cut], unicode.IsSpace))
		text = strings.TrimLeftFunc(text[cut:], unicode.IsSpace)
	}
	return parts
}

// bestCut returns where to end a part within s (0 when no boundary is found
// in its second half, so parts do not come out tiny).
func bestCut(s string) int {
	half := len(s) / 2
	if i := strings.LastIndex(s, "\n\n"); i > half {
		return i
	}
	if i := strings.LastIndex(s, "\n"); i > half {
		return i
	}
	best := -1
	for _, end := range []string{". ", "! ", "? ", "… ", ".\n", "!\n", "?\n"} {
		if i := strings.LastIndex(s, end); i > best {
			best = i + len(end) - 1
		}
	}
	if best > half {
		return best
	}
	if i := strings.LastIndexFunc(s, unicode.IsSpace); i > half {
		return i
	}
	return 0
}

// Units is the length of s in UTF-16 code units.
func Units(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// Shorten cuts s to at most limit characters, ending it with "…" when cut.
func Shorten(s string, limit int) string {
	if limit <= 0 || utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:limit-1]), unicode.IsSpace) + "…"
}
