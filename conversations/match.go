package conversations

import (
	"slices"
	"strings"
)

// Match is what a customer's text reaches among the intents, and why: the
// intent, the keyword (or pattern) that decided, and how each word matched.
type Match struct {
	Intent  string  // "" when no intent matched
	Score   float64 // how strongly; the best score wins
	Keyword string  // the keyword as written in the script, or "pattern /.../"
	At      Pos     // where that keyword or pattern is written
	Words   []WordMatch
	// Order is an order number a pattern captured (?P<order>...).
	Order string
	// Negated lists keywords that were found but did not count because a
	// negation came right before them ("não quero mais receber").
	Negated []string
	// Ranked lists every intent that matched, best first (the first is this
	// match). The engine takes the best one with a flow for the stage.
	Ranked []Ranked
}

// Ranked is one intent that matched, with its score and deciding keyword.
type Ranked struct {
	Intent  string
	Score   float64
	Keyword string
	At      Pos
	Words   []WordMatch
}

// WordMatch says how a word of the customer's text met a word of a keyword.
type WordMatch struct {
	Text    string // the customer's word, normalised
	Keyword string // the keyword's word
	Rule    string // exact, abbrev, repeat, stem, typo, pattern
}

// Rules lists the distinct rules used, in order of first use.
func (m Match) Rules() []string {
	var out []string
	for _, w := range m.Words {
		if !slices.Contains(out, w.Rule) {
			out = append(out, w.Rule)
		}
	}
	return out
}

// Match finds the intent a customer's text reaches, with the reasons. It
// is pure: the same scripts and text always give the same match.
func (e *Engine) Match(text string) Match { return e.Scripts().Match(text) }

// Match finds the intent text reaches in these scripts.
func (s *Scripts) Match(raw string) Match {
	norm := Normalize(raw)
	var m Match
	for _, in := range s.Intents {
		score := 0
		kw := ""
		for _, k := range in.Keywords {
			if len(k) > score && containsPhrase(norm, k) {
				score = len(k)
				kw = k
			}
		}
		for _, re := range in.Patterns {
			sub := re.FindStringSubmatch(raw)
			if sub == nil {
				sub = re.FindStringSubmatch(norm)
			}
			if sub != nil {
				if score < 100 {
					kw = "pattern /" + strings.TrimPrefix(re.String(), "(?i)") + "/"
				}
				score = max(score, 100)
				if i := re.SubexpIndex("order"); i > 0 && sub[i] != "" {
					m.Order = strings.TrimPrefix(sub[i], "#")
				}
			}
		}
		if score == 0 {
			continue
		}
		r := Ranked{Intent: in.ID, Score: float64(score), Keyword: kw, At: in.Pos}
		i := 0
		for i < len(m.Ranked) && m.Ranked[i].Score >= r.Score {
			i++
		}
		m.Ranked = append(m.Ranked[:i], append([]Ranked{r}, m.Ranked[i:]...)...)
	}
	if len(m.Ranked) > 0 {
		b := m.Ranked[0]
		m.Intent, m.Score, m.Keyword, m.At, m.Words = b.Intent, b.Score, b.Keyword, b.At, b.Words
	}
	return m
}
