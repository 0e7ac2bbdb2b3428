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

// wordIndex holds every distinct word of the keywords once, so a text's
// words are compared with each of them once per text, not once per keyword.
type wordIndex struct {
	words  []token
	byForm map[string][]int
	byStem map[string][]int
	long   []int // words of five letters or more: typo candidates
}

func indexWords(intents []*Intent) *wordIndex {
	ix := &wordIndex{byForm: map[string][]int{}, byStem: map[string][]int{}}
	seen := map[string]int{}
	for _, in := range intents {
		for _, k := range in.Keywords {
			k.ids = k.ids[:0]
			for _, t := range k.required {
				key := t.typed + "\x00" + t.form
				id, ok := seen[key]
				if !ok {
					id = len(ix.words)
					seen[key] = id
					ix.words = append(ix.words, t)
					ix.byForm[t.form] = append(ix.byForm[t.form], id)
					if len(t.form) >= 4 {
						ix.byStem[t.stem] = append(ix.byStem[t.stem], id)
					}
					if len(t.form) >= 5 {
						ix.long = append(ix.long, id)
					}
				}
				k.ids = append(k.ids, id)
			}
		}
	}
	return ix
}

// meet is one way a text word meets a keyword word.
type meet struct {
	tok  int // the text word
	rule string
	w    float64
}

// meetings lists, for each word of the index, the text words that meet it.
func (ix *wordIndex) meetings(toks []token) map[int][]meet {
	out := map[int][]meet{}
	add := func(id, i int) {
		for _, m := range out[id] {
			if m.tok == i {
				return
			}
		}
		if rule, w := matchWord(toks[i], ix.words[id]); w > 0 {
			out[id] = append(out[id], meet{i, rule, w})
		}
	}
	for i, t := range toks {
		for _, id := range ix.byForm[t.form] {
			add(id, i)
		}
		if len(t.form) >= 4 {
			for _, id := range ix.byStem[t.stem] {
				add(id, i)
			}
		}
		// Typos only for words that are no keyword word as they are: a real
		// word of the scripts ("troca") is never someone's typo of another.
		if len(t.form) >= 5 && len(ix.byForm[t.form]) == 0 && len(ix.byStem[t.stem]) == 0 {
			for _, id := range ix.long {
				w := ix.words[id]
				if near(w.form, t.form) || len(t.stem) >= 5 && near(w.stem, t.stem) {
					add(id, i)
				}
			}
		}
	}
	return out
}

// near is a cheap test before oneEdit: lengths within one.
func near(a, b string) bool { d := len(a) - len(b); return d >= -1 && d <= 1 }

// Match finds the intent text reaches in these scripts.
func (s *Scripts) Match(raw string) Match {
	var m Match
	toks := tokenize(raw)
	if len(toks) == 0 {
		return m
	}
	ix := s.words
	if ix == nil {
		ix = indexWords(s.Intents)
	}
	meets := ix.meetings(toks)
	// Patterns see the text as typed, then with its words in their matched
	// form ("Pedidoo #1234" → "pedido 1234").
	forms := make([]string, len(toks))
	for i, t := range toks {
		forms[i] = t.form
	}
	texts := []string{raw, strings.Join(forms, " ")}
	for _, in := range s.Intents {
		r, ok := s.matchIntent(in, toks, meets, texts, &m)
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
func (s *Scripts) matchIntent(in *Intent, toks []token, meets map[int][]meet, texts []string, m *Match) (Ranked, bool) {
	var best Ranked
	bestUsed := map[int]bool{}
	covered := map[int]bool{}
	for _, k := range in.Keywords {
		score, words, used, denied := matchKeyword(k, toks, meets)
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
func matchKeyword(k *Keyword, toks []token, meets map[int][]meet) (score float64, words []WordMatch, used []int, denied string) {
	for _, id := range k.ids {
		if len(meets[id]) == 0 {
			return 0, nil, nil, ""
		}
	}
	taken := make([]bool, len(toks))
	for n, id := range k.ids {
		best := meet{tok: -1}
		for _, mt := range meets[id] {
			if !taken[mt.tok] && mt.w > best.w {
				best = mt
			}
		}
		if best.tok < 0 {
			return 0, nil, nil, ""
		}
		taken[best.tok] = true
		used = append(used, best.tok)
		score += best.w
		words = append(words, WordMatch{Text: toks[best.tok].typed, Keyword: k.required[n].typed, Rule: best.rule})
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
