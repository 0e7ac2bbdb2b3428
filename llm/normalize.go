package llm

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
)

// normalizer undoes the ways a text can hide a code, a link or a word from
// the checks: Unicode compatibility forms (fullwidth, mathematical letters),
// look-alike letters of other scripts, markdown links, defanged dots and
// spaced-out letters. The checks read its output; the customer gets the
// model's text as it was (or nothing).
type normalizer struct {
	mdLink, autoLink, defang, spaced *regexp.Regexp
}

func newNormalizer() *normalizer {
	return &normalizer{
		// [label](target) and [label]: the label and the target both count.
		mdLink:   regexp.MustCompile(`\[([^\]\n]*)\]\(([^)\s]*)\)`),
		autoLink: regexp.MustCompile(`<((?:https?://|www\.|mailto:)[^>\s]*)>`),
		// boleto-loja[.]pro, loja(.)com, loja [dot] com, loja (ponto) com
		defang: regexp.MustCompile(`(?i)\s?[\[(]\s*(?:\.|dot|ponto)\s*[\])]\s?`),
		// Single letters or digits each followed by one separator: "F R E T E",
		// "f.r.e.t.e", "s h o p . x y z".
		spaced: regexp.MustCompile(`(?:[\p{L}\p{N}](?: ?[._*\-] ?| )){2,}[\p{L}\p{N}]`),
	}
}

// hiddenRune reports the first invisible formatting character of s (zero
// width spaces, bidirectional overrides, soft hyphens...). The joiner of
// emoji sequences (U+200D) is allowed.
func hiddenRune(s string) (rune, bool) {
	for _, r := range s {
		if r != '\u200d' && (unicode.Is(unicode.Cf, r) || r == '\u034f' || r == '\u115f' || r == '\u1160' || r == '\u3164') {
			return r, true
		}
	}
	return 0, false
}

// compat removes invisible characters and applies NFKC (fullwidth and
// mathematical letters become ASCII, ligatures split).
func compat(s string) string {
	s = strings.Map(func(r rune) rune {
		if r != '\u200d' && unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	return norm.NFKC.String(s)
}

// fold is compat plus look-alikes: a letter outside ASCII whose Unicode
// confusable skeleton is ASCII (Cyrillic "а", Greek "Ο", small capitals)
// becomes that ASCII. Accented Latin letters (ã, ç, é) are kept.
func (n *normalizer) fold(s string) string {
	s = compat(s)
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			b.WriteRune(r)
			continue
		}
		if d := norm.NFD.String(string(r)); d != "" && d[0] < 0x80 {
			b.WriteRune(r) // a Latin letter with diacritics
			continue
		}
		if sk := confusables.Skeleton(string(r)); isASCIIAlnum(sk) {
			b.WriteString(sk)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCIIAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// normalize is the text the fact checks read.
func (n *normalizer) normalize(s string) string {
	s = normalizeSpaces(n.fold(s))
	s = n.mdLink.ReplaceAllString(s, "$1 $2")
	s = n.autoLink.ReplaceAllString(s, "$1")
	s = n.defang.ReplaceAllString(s, ".")
	return n.joinSpacedRuns(s)
}

// joinSpacedRuns joins every run of spaced-out characters that stands as
// words of its own ("de 3 a 5 dias" has none: "e" and "d" belong to words).
func (n *normalizer) joinSpacedRuns(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range n.spaced.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		// Drop a first character that ends a word, and a last one that
		// starts a word.
		if r, _ := utf8.DecodeLastRuneInString(s[:start]); start > 0 && isAlnum(r) {
			_, size := utf8.DecodeRuneInString(s[start:])
			start += size
			for start < end && !isAlnum(firstRune(s[start:])) {
				start++
			}
		}
		if r, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && isAlnum(r) {
			_, size := utf8.DecodeLastRuneInString(s[:end])
			end -= size
			for end > start && !isAlnum(lastRune(s[:end])) {
				end--
			}
		}
		// "o P I N": a small article next to capitals is a word of its own.
		if run := []rune(s[start:end]); len(run) > 4 && unicode.IsLower(run[0]) && run[1] == ' ' && unicode.IsUpper(run[2]) {
			start += utf8.RuneLen(run[0]) + 1
		}
		if run := []rune(s[start:end]); len(run) > 4 && unicode.IsLower(run[len(run)-1]) && run[len(run)-2] == ' ' && unicode.IsUpper(run[len(run)-3]) {
			end -= utf8.RuneLen(run[len(run)-1]) + 1
		}
		if start >= end {
			continue
		}
		if units := countAlnum(s[start:end]); units < 3 {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(joinSpaced(s[start:end]))
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func firstRune(s string) rune { r, _ := utf8.DecodeRuneInString(s); return r }

func lastRune(s string) rune { r, _ := utf8.DecodeLastRuneInString(s); return r }

func countAlnum(s string) int {
	n := 0
	for _, r := range s {
		if isAlnum(r) {
			n++
		}
	}
	return n
}

// joinSpaced joins a run of spaced-out characters. A run with digits must be
// four long and have no small letters, so "de 1 a 5 e" stays as written. When every separator is the same
// mark ("f.r.e.t.e") the marks go too; otherwise only the spaces do, so
// "s h o p . x y z" reads "shop.xyz".
func joinSpaced(run string) string {
	var chars, seps []rune
	digits := false
	for _, r := range run {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			chars = append(chars, r)
			digits = digits || unicode.IsDigit(r)
		case r != ' ':
			seps = append(seps, r)
		}
	}
	if digits && len(chars) < 4 {
		return run
	}
	if digits && strings.ToUpper(string(chars)) != string(chars) {
		return run // "1 a 5 e": small words between numbers, not a code
	}
	if len(seps) > 0 && len(seps) == len(chars)-1 && strings.Count(string(seps), string(seps[0])) == len(seps) {
		return string(chars)
	}
	return strings.ReplaceAll(run, " ", "")
}

// unaccent lowers s and strips diacritics, for matching phrases however the
// model spells them ("grátis", "gratis").
func unaccent(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return unicode.ToLower(r)
		}
		d := []rune(norm.NFD.String(string(r)))
		for _, m := range d[1:] {
			if !unicode.Is(unicode.Mn, m) {
				return unicode.ToLower(r)
			}
		}
		return unicode.ToLower(d[0])
	}, s)
}
