package llm

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checker extracts the facts of a text and vets model replies against the
// facts they were given. It holds compiled patterns so the package keeps no
// global state.
type checker struct {
	url, domain, email, price, date, orderID *regexp.Regexp
	handle, number, word, quoted             *regexp.Regexp
	command, typeThis                        *regexp.Regexp
	deliveryVerb                             *regexp.Regexp
	statuses                                 []string
	norm                                     *normalizer
	lang                                     *langDetector
	promises                                 []promise
	times                                    []timeTerm
	secrets                                  []*regexp.Regexp
	// codeWords announce a code ("cupom X"); codeFillers may stand between
	// them and it ("o cupom exclusivo é X").
	codeWords, codeFillers map[string]bool
	// common are ordinary words a code-like position may hold ("código de
	// rastreio"); properNouns are names any store text may use.
	common, properNouns map[string]bool
}

// facts are the parts of a text a rewrite must not change or invent.
type facts struct {
	// literals must appear verbatim: URLs, e-mails, prices, dates, #ids,
	// commands (/stop) and words in double quotes.
	literals []string
	// links are URLs, bare domains and e-mail addresses.
	links []string
	// tokens are words that contain a digit or look like a code (VOLTA10,
	// FRETEGRATIS); numbers inside prices and dates show up here too.
	tokens map[string]bool
	// statuses are order status words (lower case) such as "enviado".
	statuses []string
}

func newChecker() *checker {
	c := &checker{
		url: regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'` + "`" + `]+`),
		// Any dotted name whose last label is letters is a domain: an
		// invented "boleto-loja.pro" is as bad as an invented full link.
		domain: regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}\b(?:/[^\s<>"'` + "`" + `]*)?`),
		email:  regexp.MustCompile(`(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b`),
		price:  regexp.MustCompile(`(?:R\$|US\$|\$|€|£)\s?\d{1,3}(?:[.,]\d{3})*(?:[.,]\d{1,2})?|\b\d+(?:[.,]\d{1,2})?\s?(?:reais|BRL|USD)\b`),
		date: regexp.MustCompile(`(?i)\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{1,2}:\d{2}\b|` +
			`\b\d{1,2} de (?:janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro)\b|` +
			`\b(?:january|february|march|april|may|june|july|august|september|october|november|december) \d{1,2}(?:st|nd|rd|th)?\b|` +
			`\b\d{1,2} (?:january|february|march|april|may|june|july|august|september|october|november|december)\b`),
		orderID:      regexp.MustCompile(`#[\p{L}\p{N}_-]+`),
		command:      regexp.MustCompile(`(?:^|\B)/[a-z][a-z_]{1,31}\b`),
		typeThis:     regexp.MustCompile(`"[^"\n]{1,30}"`),
		handle:       regexp.MustCompile(`(?:^|[^\p{L}\p{N}_.])@[\p{L}\p{N}_.]{2,}`),
		number:       regexp.MustCompile(`\d+(?:[.,:/-]\d+)*`),
		word:         regexp.MustCompile(`[\p{L}][\p{L}\p{M}'’-]*`),
		quoted:       regexp.MustCompile("(?:\"|“|`|\\*\\*)([^\"”`*\n]{1,40})(?:\"|”|`|\\*\\*)"),
		deliveryVerb: regexp.MustCompile(deliveryVerbExpr),
		// Multi-word statuses first so "em trânsito" is found as a whole.
		statuses: []string{
			"saiu para entrega", "aguardando pagamento", "em separação", "em separacao",
			"em trânsito", "em transito", "em processamento", "out for delivery",
			"awaiting payment", "in transit", "on hold",
			"enviado", "enviada", "entregue", "aprovado", "aprovada", "pago", "paga",
			"cancelado", "cancelada", "pendente", "devolvido", "devolvida",
			"reembolsado", "reembolsada", "confirmado", "confirmada", "processando",
			"postado", "postada", "faturado", "faturada", "estornado", "estornada",
			"expirado", "expirada", "recusado", "recusada", "atrasado", "atrasada",
			"shipped", "delivered", "approved", "paid", "canceled", "cancelled",
			"pending", "processing", "returned", "refunded", "confirmed",
			"dispatched", "declined", "expired", "delayed",
		},
		norm:     newNormalizer(),
		lang:     newLangDetector(),
		promises: newPromises(),
		times:    newTimeTerms(),
		codeWords: wordSet("cupom cupons cupon cupones codigo codigos cod code codes coupon coupons voucher vouchers " +
			"promocode promocodes"),
		codeFillers: wordSet("o a os as e de do da seu sua teu tua meu minha the is your my this that esse este essa " +
			"promocional promocionais exclusivo exclusiva especial special exclusive abaixo below aqui here"),
		common: wordSet("rastreio rastreamento tracking postagem desconto descontos discount discounts valido valida " +
			"valid barras barcode pix boleto checkout carrinho cart site loja store aplicado applied copiado copied " +
			"funciona works expirou expired vence expires"),
		properNouns: wordSet("pix whatsapp telegram instagram facebook google brasil brazil natal i i'm i'll i've i'd ok"),
	}
	for _, e := range secretExprs {
		c.secrets = append(c.secrets, regexp.MustCompile(`\b(?:`+e+`)\b`))
	}
	return c
}

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// normalizeSpaces turns non-breaking and other Unicode spaces into plain
// spaces, so "R$\u00a099,90" in a template and "R$ 99,90" from the model
// compare equal.
func normalizeSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
}

func trimLinkPunct(s string) string {
	return strings.TrimRight(s, ".,;:!?)]}*_")
}

// extract finds the facts in s.
func (c *checker) extract(s string) facts {
	s = normalizeSpaces(s)
	f := facts{tokens: map[string]bool{}}
	rest := s
	// Links are removed before looking for tokens so the pieces of a URL are
	// not treated as separate codes.
	for _, re := range []*regexp.Regexp{c.url, c.email, c.domain} {
		for _, m := range re.FindAllString(rest, -1) {
			m = trimLinkPunct(m)
			f.links = append(f.links, m)
			f.literals = append(f.literals, m)
		}
		rest = re.ReplaceAllString(rest, " ")
	}
	for _, re := range []*regexp.Regexp{c.price, c.date, c.orderID, c.command} {
		f.literals = append(f.literals, re.FindAllString(rest, -1)...)
	}
	// What a script tells the customer to type ("escreva \"troca\"") must
	// reach them as written, or the bot would not understand the answer.
	f.literals = append(f.literals, c.typeThis.FindAllString(strings.NewReplacer("“", `"`, "”", `"`).Replace(rest), -1)...)
	for _, tok := range tokenize(rest) {
		if isFactToken(tok) {
			f.tokens[tok] = true
		}
	}
	lower := strings.ToLower(rest)
	for _, st := range c.statuses {
		if containsWord(lower, st) {
			f.statuses = append(f.statuses, st)
			// Remove it so "em trânsito" does not also count as a later match.
			lower = strings.ReplaceAll(lower, st, " ")
		}
	}
	return f
}

// tokenize splits s into words of letters, digits, '-' and '_', trimming
// '-' and '_' at the ends (so "VOLTA-10" stays one token).
func tokenize(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_'
	})
	out := fields[:0]
	for _, f := range fields {
		if f = strings.Trim(f, "-_"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// isFactToken reports whether a word must be kept verbatim: anything with a
// digit, or an all-caps ASCII word of 4+ characters (coupon codes such as
// FRETEGRATIS). All-caps shouting is rejected as a side effect, which the
// prompt forbids anyway.
func isFactToken(tok string) bool {
	hasUpper := false
	allCaps := true
	for _, r := range tok {
		switch {
		case r >= '0' && r <= '9':
			return true
		case unicode.IsDigit(r):
			return true
		case r >= 'A' && r <= 'Z':
			hasUpper = true
		case r == '-' || r == '_':
		default:
			allCaps = false
		}
	}
	return allCaps && hasUpper && utf8.RuneCountInString(tok) >= 4
}

// containsWord reports whether word occurs in s bounded by non-letters.
func containsWord(s, word string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		before, _ := utf8.DecodeLastRuneInString(s[:start])
		after, _ := utf8.DecodeRuneInString(s[end:])
		if (start == 0 || !isWordRune(before)) && (end == len(s) || !isWordRune(after)) {
			return true
		}
		i = start + 1
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// allowed is what a reply may mention without it counting as invented:
// everything found in the trusted texts (a rephrase's template, an answer's
// topics, the profile, what the bot said before).
type allowed struct {
	links    []string
	hosts    map[string]bool
	tokens   map[string]bool
	statuses map[string]bool
	// words are every word of the trusted texts, lower case: names, and
	// anything the model may quote ("cupom VOLTA10" allows "volta10").
	words   map[string]bool
	numbers numberFacts
	// text is the trusted texts, unaccented, for promises and secrets.
	text string
	// times are the delivery-date keys the facts name (tomorrow, fri...).
	times map[string]bool
}

// numberFacts are the numbers of the trusted texts: as written ("1.299,90"),
// their parts ("15" and "8" of "15/08"), and their values ("1299.9").
type numberFacts struct {
	spans, parts, values map[string]bool
}

func (c *checker) allowedFrom(texts ...string) allowed {
	a := allowed{
		hosts: map[string]bool{}, tokens: map[string]bool{}, statuses: map[string]bool{}, words: map[string]bool{},
		numbers: numberFacts{spans: map[string]bool{}, parts: map[string]bool{}, values: map[string]bool{}},
		times:   map[string]bool{},
	}
	var all []string
	for _, t := range texts {
		t = c.norm.normalize(t)
		all = append(all, t)
		f := c.extract(t)
		a.links = append(a.links, f.links...)
		for _, l := range f.links {
			if h := hostOf(l); h != "" {
				a.hosts[h] = true
			}
		}
		for tok := range f.tokens {
			a.tokens[tok] = true
		}
		for _, st := range f.statuses {
			a.statuses[st] = true
		}
		for _, w := range tokenize(t) {
			a.words[strings.ToLower(w)] = true
			a.words[unaccent(w)] = true
		}
		for _, n := range c.number.FindAllString(t, -1) {
			a.numbers.spans[n] = true
			for _, p := range numberParts(n) {
				a.numbers.parts[p] = true
			}
			for _, v := range numberValues(n) {
				a.numbers.values[v] = true
			}
		}
	}
	a.text = unaccent(strings.Join(all, "\n"))
	for _, t := range c.times {
		if t.re.MatchString(a.text) {
			a.times[t.key] = true
		}
	}
	return a
}

// numberParts are the digit groups of a number without leading zeros.
func numberParts(n string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(n, func(r rune) bool { return r < '0' || r > '9' }) {
		if q := strings.TrimLeft(p, "0"); q != "" {
			out = append(out, q)
		} else {
			out = append(out, "0")
		}
	}
	return out
}

// numberValues reads a number the ways it may be meant: "1.299,90" is
// 1299.9; "1,900" is 1.9 in Brazil and 1900 in English.
func numberValues(n string) []string {
	if strings.ContainsAny(n, "/:-") {
		return nil // dates, times, phones: compared by parts
	}
	var out []string
	add := func(s string) {
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	dot, comma := strings.LastIndex(n, "."), strings.LastIndex(n, ",")
	switch {
	case dot < 0 && comma < 0:
		add(n)
	case dot >= 0 && comma >= 0:
		if comma > dot {
			add(strings.ReplaceAll(strings.ReplaceAll(n, ".", ""), ",", "."))
		} else {
			add(strings.ReplaceAll(n, ",", ""))
		}
	default:
		add(strings.ReplaceAll(strings.ReplaceAll(n, ".", ""), ",", ""))   // thousands
		add(strings.ReplaceAll(strings.ReplaceAll(n, ".", "."), ",", ".")) // decimal
	}
	return out
}

func (nf numberFacts) allows(n string) bool {
	if nf.spans[n] {
		return true
	}
	for _, v := range numberValues(n) {
		if nf.values[v] {
			return true
		}
	}
	if strings.ContainsAny(n, ".,") {
		return false // an amount is allowed whole or not at all
	}
	for _, p := range numberParts(n) {
		if !nf.parts[p] {
			return false
		}
	}
	return true
}

// hostOf returns the lower-case host of a URL or bare domain, without "www.".
func hostOf(link string) string {
	l := strings.ToLower(link)
	if i := strings.Index(l, "@"); i >= 0 && !strings.Contains(l, "://") {
		return "" // e-mail addresses only match exactly
	}
	if !strings.Contains(l, "://") {
		l = "http://" + l
	}
	u, err := url.Parse(l)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Hostname(), "www.")
}

// missingFact returns the first fact of want that got lost in reply.
func (c *checker) missingFact(want facts, reply string) (string, bool) {
	reply = strings.NewReplacer("“", `"`, "”", `"`).Replace(normalizeSpaces(reply))
	for _, l := range want.literals {
		if !strings.Contains(reply, l) {
			return l, true
		}
	}
	got := c.extract(reply)
	for tok := range want.tokens {
		if !got.tokens[tok] {
			return tok, true
		}
	}
	lower := strings.ToLower(reply)
	for _, st := range want.statuses {
		if !containsWord(lower, st) {
			return st, true
		}
	}
	return "", false
}

// vet checks a model reply against what is allowed; reason is "" when the
// reply may reach the customer. It allows rather than hunts: every link,
// e-mail, handle, number, quantity in words, code-like word and name must
// come from the facts, and so must every promise; a request for a secret
// and a language other than lang are never allowed.
func (c *checker) vet(a allowed, reply, lang string, checkStatuses bool) (reason, detail string) {
	if r, ok := hiddenRune(reply); ok {
		return reasonObfuscated, fmt.Sprintf("U+%04X", r)
	}
	text := c.norm.normalize(reply)
	plain := unaccent(text)
	if s, ok := c.secretRequest(a, plain); ok {
		return reasonSecret, s
	}
	if f, invented := c.inventedFact(a, text, checkStatuses); invented {
		return reasonInventedFact, f
	}
	if p, ok := c.unbackedPromise(a, plain); ok {
		return reasonPromise, p
	}
	if r, ok := foreignScript(compat(reply), lang); ok {
		return reasonWrongLanguage, "script of " + string(r)
	}
	if got, wrong := c.lang.wrongLanguage(text, lang); lang != "" && wrong {
		return reasonWrongLanguage, got
	}
	return "", ""
}

// inventedFact returns the first link, code, number, name or quantity of
// text (normalised) that is not allowed. A bare host of an allowed URL
// ("loja.com.br") is fine.
func (c *checker) inventedFact(a allowed, text string, checkStatuses bool) (string, bool) {
	got := c.extract(text)
	for _, l := range got.links {
		bareHost := !strings.ContainsAny(l, "/@")
		if !containsString(a.links, l) && !(bareHost && a.hosts[hostOf(l)]) {
			return l, true
		}
	}
	rest := text
	for _, re := range []*regexp.Regexp{c.url, c.email, c.domain} {
		rest = re.ReplaceAllString(rest, " ")
	}
	for _, h := range c.handle.FindAllString(rest, -1) {
		if !a.words[strings.ToLower(strings.TrimPrefix(h, "@"))] {
			return h, true
		}
	}
	for _, n := range c.number.FindAllString(rest, -1) {
		if !a.numbers.allows(n) {
			return n, true
		}
	}
	words := tokenize(rest)
	for i, w := range words {
		lw := strings.ToLower(w)
		if isFactToken(w) || mixedCase(w) || hasLetterAndDigit(w) {
			if !a.tokens[w] && !a.words[lw] {
				return w, true
			}
		}
		if n, ok := numberWords[unaccent(w)]; ok && !numberWordAllowed(unaccent(w), n, &a) {
			return w, true
		}
		// The word after "cupom", "code"... is a code unless the facts or
		// ordinary words explain it: "metadegratis" is not generic text.
		if c.codeWords[unaccent(w)] {
			for _, next := range words[i+1:] {
				ln := strings.ToLower(next)
				if c.codeFillers[unaccent(next)] {
					continue
				}
				if !a.words[ln] && !c.isCommonWord(ln) {
					return next, true
				}
				break
			}
		}
	}
	if name, ok := c.unknownName(a, rest); ok {
		return name, true
	}
	for _, q := range c.quoted.FindAllStringSubmatch(rest, -1) {
		for _, w := range tokenize(q[1]) {
			if lw := strings.ToLower(w); !a.words[lw] && !c.isCommonWord(lw) {
				return w, true
			}
		}
	}
	if checkStatuses {
		for _, st := range got.statuses {
			if !a.statuses[st] {
				return st, true
			}
		}
	}
	return "", false
}

// mixedCase is a word with a capital after a small letter ("SaveMore",
// "metadeGRATIS"): codes and handles look like that, words do not.
func mixedCase(w string) bool {
	prevLower := false
	for _, r := range w {
		if unicode.IsUpper(r) && prevLower {
			return true
		}
		prevLower = unicode.IsLower(r)
	}
	return false
}

func hasLetterAndDigit(w string) bool {
	l, d := false, false
	for _, r := range w {
		l = l || unicode.IsLetter(r)
		d = d || unicode.IsDigit(r)
	}
	return l && d
}

func (c *checker) isCommonWord(w string) bool {
	for _, set := range c.lang.words {
		if set[w] {
			return true
		}
	}
	return c.common[w] || c.common[unaccent(w)]
}

// unknownName returns a capitalised word inside a sentence that the facts do
// not name: a person, a street, a city the model made up.
func (c *checker) unknownName(a allowed, text string) (string, bool) {
	for _, m := range c.word.FindAllStringIndex(text, -1) {
		w := text[m[0]:m[1]]
		r, size := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) || utf8.RuneCountInString(w) < 2 || strings.ToUpper(w[size:]) == w[size:] {
			continue // not Title case (ALL CAPS codes are checked apart)
		}
		if sentenceStart(text[:m[0]]) {
			continue
		}
		lw := strings.ToLower(w)
		if a.words[lw] || a.words[unaccent(w)] || c.properNouns[lw] {
			continue
		}
		return w, true
	}
	return "", false
}

// sentenceStart reports whether a word after before starts a sentence (or a
// line, a quote, a list item).
func sentenceStart(before string) bool {
	before = strings.TrimRightFunc(before, unicode.IsSpace)
	if before == "" {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(before)
	switch r {
	case '.', '!', '?', '…', ':', '"', '“', '(', '-', '–', '—', '•', '*', '>', '¡', '¿', '\'':
		return true
	}
	return unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) || r == '\uFE0F'
}

// secretRequest finds a password, PIN, card number or security code in a
// reply. It is allowed only where the facts mention it too and the reply
// says, in the same clause, that it is never asked for.
func (c *checker) secretRequest(a allowed, plain string) (string, bool) {
	for _, cl := range clauses(plain) {
		for _, re := range c.secrets {
			m := re.FindString(cl)
			if m == "" {
				continue
			}
			if re.MatchString(a.text) && negationExpr.MatchString(cl) {
				continue
			}
			return m, true
		}
	}
	return "", false
}

// unbackedPromise finds a promise whose kind the facts do not make, or a
// delivery tied to a day the facts do not name.
func (c *checker) unbackedPromise(a allowed, plain string) (string, bool) {
	for _, p := range c.promises {
		if m := p.re.FindString(plain); m != "" && !p.re.MatchString(a.text) {
			return p.kind + ": " + m, true
		}
	}
	for _, cl := range clauses(plain) {
		if !c.deliveryVerb.MatchString(cl) {
			continue
		}
		for _, t := range c.times {
			if t.re.MatchString(cl) && !a.times[t.key] {
				return "delivery " + t.key, true
			}
		}
	}
	return "", false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// langCode maps "pt-BR", "pt", "en-US"... to "pt" or "en"; "" if unknown.
func langCode(tag string) string {
	t := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case t == "pt" || strings.HasPrefix(t, "pt-") || strings.HasPrefix(t, "pt_"):
		return "pt"
	case t == "en" || strings.HasPrefix(t, "en-") || strings.HasPrefix(t, "en_"):
		return "en"
	}
	return ""
}

// contextFacts are the customer profile values a reply may mention. The
// first name comes from the customer (their Telegram name), so it counts only
// when it is a plain name: "FREE100/cupom.com" must not let a made-up coupon
// or link through. Products come from the store.
func contextFacts(cc CustomerContext) []string {
	out := []string{"loyalty points: " + strconv.Itoa(cc.Points)}
	if plainName(cc.FirstName) {
		out = append(out, cc.FirstName)
	}
	return append(out, cc.Products...)
}

// plainName reports whether s is letters with at most spaces, hyphens and
// apostrophes between them.
func plainName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 40 {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && r != ' ' && r != '-' && r != '\'' {
			return false
		}
	}
	return true
}
