package conversations

import (
	"slices"
	"sort"
	"strings"
)

// Match is what a customer's text reaches among the intents, and why: the
// intent, the keyword (or pattern) that decided, and how each word matched.
type Match struct {
	Intent  string  // "" when no intent matched
	Score   float64 // how strongly; the best score wins
	Keyword string  // the keyword as written in the script, or "/pattern/"
	At      Pos     // where that keyword or pattern is written
	Words   []WordMatch
	// Order is an order number a pattern captured (?P<order>...).
	Order string
	// Negated lists keywords that were found but did not count because a
	// negation came right before them ("não quero mais receber").
	Negated []Negated
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
	// Extra are further words of the text other keywords of the intent
	// met; each adds a little to the score.
	Extra []string
}

// WordMatch says how a word of the customer's text met a word of a keyword.
type WordMatch struct {
	Text    string // the customer's word, as typed (lower case, no accents)
	Keyword string // the keyword's word
	Rule    string // exact, abbrev, repeat, stem, typo, pattern
}

// Negated is a keyword that a negation cancelled.
type Negated struct {
	Intent, Keyword, Word string
	At                    Pos
}

// Rules lists the distinct rules the deciding keyword used.
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

// newKeyword prepares a keyword as written for matching; nil when it has no words.
func newKeyword(text string, pos Pos) *Keyword {
	k := &Keyword{Pos: pos, Text: text}
	for _, t := range tokenize(text) {
		t.negated = false
		if stopwords[t.form] {
			k.optional = append(k.optional, t)
		} else {
			k.required = append(k.required, t)
		}
		if negations[t.form] {
			k.negates = true
		}
	}
	if len(k.required) == 0 { // a keyword of stopwords only ("oi" is not one): all of them count
		k.required, k.optional = k.optional, nil
	}
	if len(k.required) == 0 {
		return nil
	}
	return k
}

// key identifies what a keyword matches, for lint's duplicate check.
func (k *Keyword) key() string {
	var fs []string
	for _, t := range k.required {
		fs = append(fs, t.form)
	}
	sort.Strings(fs)
	return strings.Join(fs, " ")
}

// Match finds the intent text reaches in these scripts.
func (s *Scripts) Match(raw string) Match {
	var m Match
	toks := tokenize(raw)
	if len(toks) == 0 {
		return m
	}
	// Patterns see the text as typed, normalised, and with its words in
	// their matched form ("pedidoo #1234" → "pedido 1234").
	forms := make([]string, len(toks))
	for i, t := range toks {
		forms[i] = t.form
	}
	texts := []string{raw, Normalize(raw), strings.Join(forms, " ")}
	for _, in := range s.Intents {
		r, ok := s.matchIntent(in, toks, texts, &m)
		if ok {
			m.Ranked = append(m.Ranked, r)
		}
	}
	// Best first; a tie goes to the intent written first.
	sort.SliceStable(m.Ranked, func(a, b int) bool { return m.Ranked[a].Score > m.Ranked[b].Score })
	if len(m.Ranked) > 0 {
		b := m.Ranked[0]
		m.Intent, m.Score, m.Keyword, m.At, m.Words = b.Intent, b.Score, b.Keyword, b.At, b.Words
	}
	return m
}

// matchIntent scores one intent: its best keyword (or pattern), plus a
// little for each further word its other keywords meet.
func (s *Scripts) matchIntent(in *Intent, toks []token, texts []string, m *Match) (Ranked, bool) {
	var best Ranked
	bestUsed := map[int]bool{}
	covered := map[int]bool{}
	for _, k := range in.Keywords {
		score, words, used, denied := matchKeyword(k, toks)
		if score == 0 {
			continue
		}
		if denied != "" {
			m.Negated = append(m.Negated, Negated{Intent: in.ID, Keyword: k.Text, Word: denied, At: k.Pos})
			continue
		}
		for _, i := range used {
			covered[i] = true
		}
		if score > best.Score {
			best = Ranked{Intent: in.ID, Score: score, Keyword: k.Text, At: k.Pos, Words: words}
			bestUsed = map[int]bool{}
			for _, i := range used {
				bestUsed[i] = true
			}
		}
	}
	for _, re := range in.Patterns {
		var sub []string
		for _, t := range texts {
			if sub = re.FindStringSubmatch(t); sub != nil {
				break
			}
		}
		if sub == nil {
			continue
		}
		if i := re.SubexpIndex("order"); i > 0 && sub[i] != "" && m.Order == "" {
			m.Order = strings.TrimPrefix(sub[i], "#")
		}
		if weightPattern > best.Score {
			src := strings.TrimPrefix(re.String(), "(?i)")
			best = Ranked{Intent: in.ID, Score: weightPattern, Keyword: "/" + src + "/", At: in.Pos,
				Words: []WordMatch{{Text: strings.TrimSpace(sub[0]), Keyword: "/" + src + "/", Rule: "pattern"}}}
			bestUsed = map[int]bool{}
		}
	}
	if best.Score == 0 {
		return best, false
	}
	for i := range toks {
		if covered[i] && !bestUsed[i] {
			best.Extra = append(best.Extra, toks[i].typed)
			best.Score += weightExtra
		}
	}
	return best, true
}

// matchKeyword meets every required word of k with a different word of
// the text, in any order, taking the best rule for each. It returns the
// score (0: no match), how each word met, the text words used and, when a
// negation denies one of them, that word.
func matchKeyword(k *Keyword, toks []token) (score float64, words []WordMatch, used []int, denied string) {
	taken := make([]bool, len(toks))
	for _, kt := range k.required {
		bi, brule, bw := -1, "", 0.0
		for i, t := range toks {
			if taken[i] {
				continue
			}
			if rule, w := matchWord(t, kt); w > bw {
				bi, brule, bw = i, rule, w
			}
		}
		if bi < 0 {
			return 0, nil, nil, ""
		}
		taken[bi] = true
		used = append(used, bi)
		score += bw
		words = append(words, WordMatch{Text: toks[bi].typed, Keyword: kt.typed, Rule: brule})
	}
	if !k.negates {
		for _, i := range used {
			if toks[i].negated {
				return score, words, used, toks[i].typed
			}
		}
	}
	return score, words, used, ""
}
