package conversations

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// How customers' words meet the keywords of the scripts. Both sides go
// through the same steps, so a keyword written "enviado" also meets
// "enviar", "envio" and "enviadoo":
//
//  1. words: lower case, no accents; "don't" is one word (dont); commas
//     and full stops end a clause.
//  2. abbreviations: vc → voce, pq → porque, nf → nota fiscal (the table below).
//  3. repeated letters squeezed: "diaa" → "dia", "obrigadooo" → "obrigado".
//  4. a light stem for Portuguese and English: the longest known ending is
//     cut, again and again, leaving at least three letters ("chegada",
//     "chegou", "chegar" → "cheg").
//
// A word of the text meets a word of a keyword when they are the same
// (exact, abbrev, repeat), share the stem (stem; both words of four
// letters or more), or differ by one edit, both five letters or more
// (typo). See matchWord for the weights.

// abbreviations are written the way customers type them in chat.
var abbreviations = map[string]string{
	// pt-BR
	"vc": "voce", "vcs": "voces", "c": "voce", "ce": "voce", "pq": "porque", "pk": "porque",
	"qdo": "quando", "qndo": "quando", "qnd": "quando", "qd": "quando", "qnt": "quanto", "qto": "quanto", "qnto": "quanto", "qts": "quantos",
	"td": "tudo", "tds": "todos", "pfv": "por favor", "pfvr": "por favor", "pf": "por favor", "porfa": "por favor", "pfvor": "por favor",
	"obg": "obrigado", "obgd": "obrigado", "obgda": "obrigada", "obgdo": "obrigado", "obrg": "obrigado", "brigado": "obrigado", "brigada": "obrigada",
	"vlw": "valeu", "vlws": "valeu", "blz": "beleza", "msg": "mensagem", "msgs": "mensagens", "mensage": "mensagem",
	"hj": "hoje", "tb": "tambem", "tbm": "tambem", "n": "nao", "nn": "nao", "q": "que", "oq": "o que", "cmg": "comigo",
	"mt": "muito", "mto": "muito", "mta": "muita", "mts": "muitos", "ngm": "ninguem", "nd": "nada", "kd": "cade", "cd": "cade",
	"pra": "para", "pro": "para o", "dps": "depois", "agr": "agora", "aq": "aqui", "aki": "aqui", "vdd": "verdade",
	"ta": "esta", "tah": "esta", "tao": "estao", "tou": "estou", "tava": "estava", "eh": "e", "sla": "sei la",
	"pgto": "pagamento", "pagto": "pagamento", "pgt": "pagamento", "pgmto": "pagamento",
	"nf": "nota fiscal", "nfe": "nota fiscal", "danfe": "nota fiscal", "2a": "segunda", "2ª": "segunda", "2º": "segundo",
	"ped": "pedido", "prod": "produto", "info": "informacao", "infos": "informacoes", "ender": "endereco", "end": "endereco",
	"zap": "whatsapp", "wpp": "whatsapp", "zapzap": "whatsapp", "tel": "telefone", "cel": "celular",
	"rastreiamento": "rastreamento", "encomeda": "encomenda", "promo": "promocao", "promos": "promocoes",
	// en
	"u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "plis": "please", "pliz": "please",
	"thx": "thanks", "thnx": "thanks", "tks": "thanks", "tnx": "thanks", "ty": "thank you", "tysm": "thank you",
	"im": "i am", "wanna": "want to", "gimme": "give me", "pkg": "package", "addr": "address", "rn": "right now",
	"bc": "because", "cuz": "because", "coz": "because", "abt": "about", "pymt": "payment", "pmt": "payment",
	"recd": "received", "2day": "today", "b4": "before", "wheres": "where is", "whats": "what is", "hasnt": "has not",
	"havent": "have not", "didnt": "did not", "doesnt": "does not", "isnt": "is not", "wont": "will not", "cant": "can not",
	"dont": "do not", "arent": "are not", "wasnt": "was not", "cannot": "can not",
}

// stopwords are optional in a keyword ("falar com uma pessoa" also meets
// "falar com a pessoa") and are skipped between a negation and what it denies.
var stopwords = set("o", "a", "os", "as", "um", "uma", "uns", "umas", "de", "do", "da", "dos", "das", "no", "na", "nos", "nas",
	"em", "com", "por", "e", "ou", "se", "me", "te", "eu", "meu", "minha", "meus", "minhas", "seu", "sua", "seus", "suas",
	"voce", "voces", "esse", "essa", "este", "esta", "ja", "ai", "la", "ele", "ela", "pelo", "pela", "ao", "aos", "vou", "vai",
	"the", "an", "my", "your", "of", "to", "for", "in", "on", "at", "is", "it", "i", "this", "that", "these", "those",
	"and", "or", "our", "you", "we", "be", "with", "am", "are", "was", "will", "any", "some", "please")

// negations deny the word that follows them (past stopwords and helpers):
// "nao quero mais receber" denies "receber".
var negations = set("nao", "nem", "nunca", "jamais", "not", "never", "nor")

// helpers are skipped between a negation and the word it denies.
var helpers = set("quero", "queria", "quer", "vou", "vai", "mais", "mesmo", "ainda", "want", "more", "anymore",
	"do", "does", "did", "will", "can", "ever", "going", "gonna")

// unstemmed words keep their form: short function words whose stems would
// meet real keywords ("para" is not "parar", "como" not "comer").
var unstemmed = set("para", "como", "onde", "quando", "mais", "esta", "isso", "nota", "note", "mesmo", "menu", "bom", "boa",
	"have", "does", "this", "there", "where", "here", "very", "some", "more", "sobre", "seria", "pode", "posso", "pois")

// set holds words squeezed, as tokens are ("will" is "wil").
func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[squeeze(w)] = true
	}
	return m
}

// suffixes are cut, longest first, while at least three letters remain.
var suffixes = func() []string {
	s := []string{
		// pt-BR
		"amentos", "imentos", "amento", "imento", "acoes", "icoes", "acao", "icao", "coes", "cao", "agem", "agens",
		"ando", "endo", "indo", "adas", "ados", "idas", "idos", "ada", "ado", "ida", "ido", "aram", "eram", "iram",
		"ava", "avam", "aria", "eria", "iria", "asse", "esse", "isse", "emos", "amos", "imos",
		"ou", "eu", "iu", "ei", "ar", "er", "ir", "am", "em", "ens", "as", "es", "is", "os", "us", "a", "e", "i", "o", "s",
		// en
		"ations", "ation", "ings", "ing", "ied", "ies", "ed", "ly", "y",
	}
	// longest first, so "amento" is tried before "o"
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}()

// stem cuts known endings until none fits (keeping three letters or more).
func stem(w string) string {
	if unstemmed[w] || !isWord(w) {
		return w
	}
	if strings.HasSuffix(w, "ns") && len(w) > 4 { // cupons → cupom, itens → item
		w = w[:len(w)-2] + "m"
	}
	for range 4 {
		cut := false
		for _, s := range suffixes {
			if len(w)-len(s) >= 3 && strings.HasSuffix(w, s) {
				w = w[:len(w)-len(s)]
				cut = true
				break
			}
		}
		// troque → troqu → troc, paguei → pagu → pag
		if strings.HasSuffix(w, "qu") && len(w) > 3 {
			w = w[:len(w)-2] + "c"
		} else if strings.HasSuffix(w, "gu") && len(w) > 3 {
			w = w[:len(w)-1]
		}
		if !cut {
			break
		}
	}
	return w
}

func isWord(w string) bool {
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return w != ""
}

// squeeze collapses repeated letters: "diaa" → "dia". Digits stay ("1001").
func squeeze(w string) string {
	var b strings.Builder
	var prev rune
	for _, r := range w {
		if r == prev && unicode.IsLetter(r) {
			continue
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// token is one word of a text or keyword after the steps above.
type token struct {
	typed   string // as typed, lower case without accents
	form    string // after abbreviations and squeezing
	stem    string
	abbrev  bool // came from the abbreviation table
	clause  int
	negated bool // a negation came right before it
}

// words splits s into lower-case words without accents; a clause number
// rises at punctuation that ends a clause.
func words(s string) (ws []string, clauses []int) {
	var b strings.Builder
	clause := 0
	flush := func() {
		if b.Len() > 0 {
			ws = append(ws, b.String())
			clauses = append(clauses, clause)
			b.Reset()
		}
	}
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’':
			// don't → dont: the apostrophe joins
		default:
			flush()
			if strings.ContainsRune(",.;!?\n", r) {
				clause++
			}
		}
	}
	flush()
	return ws, clauses
}

// tokenize runs the steps on a text (or keyword).
func tokenize(s string) []token {
	ws, clauses := words(s)
	var out []token
	for i, w := range ws {
		exp, ok := abbreviations[w]
		if !ok {
			exp, ok = abbreviations[squeeze(w)]
		}
		if !ok {
			f := squeeze(w)
			out = append(out, token{typed: w, form: f, stem: stem(f), clause: clauses[i]})
			continue
		}
		for _, e := range strings.Fields(exp) {
			out = append(out, token{typed: w, form: e, stem: stem(squeeze(e)), abbrev: e != w, clause: clauses[i]})
		}
	}
	// A negation denies the first word after it that is not a stopword or
	// a helper, in the same clause.
	for i := range out {
		if !negations[out[i].form] {
			continue
		}
		for j := i + 1; j < len(out) && out[j].clause == out[i].clause; j++ {
			if stopwords[out[j].form] || helpers[out[j].form] || negations[out[j].form] {
				continue
			}
			out[j].negated = true
			break
		}
	}
	return out
}

// Weights of the rules: an exact word counts 1; a shared stem or a typo a
// little less, so the keyword written exactly wins a tie.
const (
	weightExact   = 1.0
	weightStem    = 0.9
	weightTypo    = 0.75
	weightPattern = 1.5 // a pattern counts more than one word, less than two
	weightExtra   = 0.2 // each further word of the text another keyword of the intent covers
)

// matchWord tells how text word t meets keyword word k: the rule and its
// weight, or "" when it does not.
func matchWord(t, k token) (string, float64) {
	switch {
	case t.form == k.form:
		switch {
		case t.abbrev && !k.abbrev:
			return "abbrev", weightExact
		case t.typed != k.typed && squeeze(t.typed) == squeeze(k.typed):
			return "repeat", weightExact
		}
		return "exact", weightExact
	case len(t.form) >= 4 && len(k.form) >= 4 && t.stem == k.stem:
		return "stem", weightStem
	case len(t.form) >= 5 && len(k.form) >= 5 && isWord(t.form) && (oneEdit(t.form, k.form) || len(t.stem) >= 5 && len(k.stem) >= 5 && oneEdit(t.stem, k.stem)):
		return "typo", weightTypo
	}
	return "", 0
}

// oneEdit reports whether a and b differ by exactly one insertion, deletion,
// substitution or swap of two neighbouring letters.
func oneEdit(a, b string) bool {
	if a == b {
		return false
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // swap
	case la > lb:
		return a[i+1:] == b[i:]
	default:
		return a[i:] == b[i+1:]
	}
}
