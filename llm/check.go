package llm

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checker extracts the facts of a text and detects its language. It holds
// compiled patterns so the package keeps no global state.
type checker struct {
	url, domain, email, price, date, orderID *regexp.Regexp
	statuses                                 []string
	ptWords, enWords                         map[string]bool
}

// facts are the parts of a text a rewrite must not change or invent.
type facts struct {
	// literals must appear verbatim: URLs, e-mails, prices, dates, #ids.
	literals []string
	// links are URLs, bare domains and e-mail addresses.
	links []string
	// tokens are words that contain a digit or look like a code (VOLTA10,
	// FRETEGRATIS); numbers inside prices and dates show up here too, so an
	// invented price or date is caught as an unknown number.
	tokens map[string]bool
	// statuses are order status words (lower case) such as "enviado".
	statuses []string
}

func newChecker() *checker {
	return &checker{
		url: regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'` + "`" + `]+`),
		// Bare domains matter because "cupom-gratis.com" is as bad as a full
		// invented link. Limited to common TLDs to avoid matching "e.g.".
		domain: regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|br|io|me|ly|app|shop|store|link|info|co|biz|site|online|xyz|gg|to|tv|ai)\b(?:/[^\s<>"'` + "`" + `]*)?`),
		email:  regexp.MustCompile(`(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b`),
		price:  regexp.MustCompile(`(?:R\$|US\$|\$|€|£)\s?\d{1,3}(?:[.,]\d{3})*(?:[.,]\d{1,2})?|\b\d+(?:[.,]\d{1,2})?\s?(?:reais|BRL|USD)\b`),
		date: regexp.MustCompile(`(?i)\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{1,2}:\d{2}\b|` +
			`\b\d{1,2} de (?:janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro)\b|` +
			`\b(?:january|february|march|april|may|june|july|august|september|october|november|december) \d{1,2}(?:st|nd|rd|th)?\b|` +
			`\b\d{1,2} (?:january|february|march|april|may|june|july|august|september|october|november|december)\b`),
		orderID: regexp.MustCompile(`#[\p{L}\p{N}_-]+`),
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
		// Words frequent in one language and rare in the other; ambiguous ones
		// ("a", "as", "no", "me", "do") are left out on purpose.
		ptWords: wordSet("o e de que não nao para com um uma seu sua seus suas você voce " +
			"da dos das em na os por mais foi está esta são muito obrigado obrigada " +
			"olá ola pedido também já aqui isso como quando ao pela pelo nosso nossa " +
			"agora seja até ainda hoje compra"),
		enWords: wordSet("the and you your is are to of for with it this that we our be has " +
			"have was will on in at thanks thank hello hi order my can just now here " +
			"please get been from by an if or not today purchase"),
	}
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
	for _, re := range []*regexp.Regexp{c.price, c.date, c.orderID} {
		f.literals = append(f.literals, re.FindAllString(rest, -1)...)
	}
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

// allowed is what a reply may mention without it counting as invented.
type allowed struct {
	links    []string
	hosts    map[string]bool
	tokens   map[string]bool
	statuses map[string]bool
}

func (c *checker) allowedFrom(texts ...string) allowed {
	a := allowed{hosts: map[string]bool{}, tokens: map[string]bool{}, statuses: map[string]bool{}}
	for _, t := range texts {
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
	}
	return a
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
	reply = normalizeSpaces(reply)
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

// inventedFact returns the first link, code or number of reply that is not
// allowed. A bare host of an allowed URL ("loja.com.br") is fine.
func (c *checker) inventedFact(a allowed, reply string, checkStatuses bool) (string, bool) {
	got := c.extract(reply)
	for _, l := range got.links {
		bareHost := !strings.ContainsAny(l, "/@")
		if !containsString(a.links, l) && !(bareHost && a.hosts[hostOf(l)]) {
			return l, true
		}
	}
	for tok := range got.tokens {
		if !a.tokens[tok] {
			return tok, true
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

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// language guesses "pt" or "en" from stopword counts; "" when unsure
// (too few hits or a tie), in which case no language check is made.
func (c *checker) language(s string) string {
	pt, en := 0, 0
	for _, w := range tokenize(strings.ToLower(s)) {
		if c.ptWords[w] {
			pt++
		}
		if c.enWords[w] {
			en++
		}
	}
	switch {
	case pt >= 2 && pt > en:
		return "pt"
	case en >= 2 && en > pt:
		return "en"
	}
	return ""
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
	out := []string{strconv.Itoa(cc.Points)}
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
