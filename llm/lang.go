package llm

import (
	"strings"
	"unicode"
)

// langDetector tells the customer's language from others in short texts,
// from words frequent in one language and rare in the ones it is told from,
// and from the script the letters are written in.
type langDetector struct {
	words map[string]map[string]bool // language code → its marker words
}

// Marker words: each list leaves out words that another language shares
// with the customer's languages (pt: "de", "para", "que"; en: "a", "no",
// "me", "do"), so one hit means something. Spanish, French, Italian and
// German only need to differ from pt and en, not from each other.
var markerWords = map[string]string{
	"pt": "não nao com em um uma uns umas seu sua seus suas você voce vocês voces foi são sao muito muita " +
		"obrigado obrigada olá ola oi também tambem já isso isto ao aos pela pelo pelos pelas nosso nossa " +
		"agora até ainda hoje é está estão estao aqui tem têm pode vai quer sem bem tudo só às " +
		"dia boa bom depois assim então entao sim te deixe qualquer cada seja mesmo ficou fica pra " +
		"gente nós num numa dúvida dúvidas duvida duvidas lhe meu minha ele ela dele dela frete prazo " +
		"dica lave saudade voltar novidades aproveite chamar ajudar vou eu onde qual quando chega chegou vamos " +
		"estou fazer ver precisa sobre pagamento rastreio loja ótimo legal beleza tá né informe envie envio " +
		"segue cadastro mensagem atendimento equipe pergunta resposta desculpe infelizmente deseja obrigada",
	"en": "the and you your yours is are to of for with it this that we our be has have was will at " +
		"thanks thank hello hi order my can just now here please get been from by an if or not " +
		"today purchase it's you're we'll i'm i'll what how there they would could should any all " +
		"some back out up so more new over days business shipping free happy help great tip questions " +
		"reply wash enjoy anything else yes sure let keep",
	"es": "el los las y en tu tus su sus usted ustedes gracias hola es del al muy pero mi mis nuestro nuestra " +
		"también aquí envío qué cómo hoy ya puedes puede tiene tienes hay con un la lo días " +
		"gusto llega camino consejo jabón jabon déjalo dejalo déjala fría dudas hábiles habiles",
	"fr": "le la les et vous votre vos est pour avec une des du au aux bonjour merci sur pas ne nous notre " +
		"c'est qui dans ce cette très eau lavez laissez sécher l'ombre ombre froide chemise",
	"it": "il lo gli della dello di che è sono ciao grazie un una la spedizione ordini sopra questo " +
		"questa anche molto",
	"de": "der die und ist sie ihr ihre mit nicht ein eine bitte danke hallo für wir sich auf im zu dem den " +
		"von wasser lassen waschen trocknen hemd",
}

func newLangDetector() *langDetector {
	d := &langDetector{words: map[string]map[string]bool{}}
	for code, ws := range markerWords {
		d.words[code] = wordSet(ws)
	}
	return d
}

// latinOnly are the customer languages written in the Latin script.
var latinOnly = map[string]bool{"pt": true, "en": true}

// foreignScript returns the first letter of s outside the script of lang
// (Han, Cyrillic, Greek... in a pt or en reply).
func foreignScript(s, lang string) (rune, bool) {
	if !latinOnly[lang] {
		return 0, false
	}
	for _, r := range s {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return r, true
		}
	}
	return 0, false
}

// score counts the marker words of each language in s (lower case).
func (d *langDetector) score(s string) map[string]int {
	out := map[string]int{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	}) {
		w = strings.Trim(w, "'")
		for code, set := range d.words {
			if set[w] {
				out[code]++
			}
		}
	}
	// Marks only Spanish writes, and letters Portuguese writes and Spanish,
	// Italian and English do not (a word with "ã" or "ç" is one hit).
	out["es"] += strings.Count(s, "¡") + strings.Count(s, "¿") + strings.Count(s, "ñ")
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if strings.ContainsAny(w, "ãõçêôâ") && !d.words["pt"][w] {
			out["pt"]++
		}
	}
	return out
}

// wrongLanguage reports the language s reads as when it is not lang: another
// language has more marker words than lang, or a text of eight words or
// more has none of lang's.
func (d *langDetector) wrongLanguage(s, lang string) (string, bool) {
	if d.words[lang] == nil {
		return "", false
	}
	sc := d.score(s)
	best, bestScore := "", 0
	for code, n := range sc {
		if code != lang && n > bestScore {
			best, bestScore = code, n
		}
	}
	if bestScore > 0 && bestScore > sc[lang] {
		return best, true
	}
	words := 0
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len([]rune(w)) > 1 {
			words++
		}
	}
	if sc[lang] == 0 && words >= 8 {
		return "unknown", true
	}
	return "", false
}

// language guesses "pt" or "en" (or another marked language) from marker
// words; "" when unsure.
func (d *langDetector) language(s string) string {
	sc := d.score(s)
	best, bestScore, tie := "", 0, false
	for code, n := range sc {
		switch {
		case n > bestScore:
			best, bestScore, tie = code, n, false
		case n == bestScore:
			tie = true
		}
	}
	if bestScore < 2 || tie {
		return ""
	}
	return best
}
