package llm

import (
	"regexp"
	"strconv"
	"strings"
)

// A promise is something a business must honour once said: free shipping
// or a free gift, a refund, a discount or coupon, points, cashback, a
// multiplied benefit. A reply may make one only when the trusted facts make
// the same kind. Patterns read unaccent()ed text.
type promise struct {
	kind string
	re   *regexp.Regexp
}

func newPromises() []promise {
	p := func(kind, expr string) promise { return promise{kind, regexp.MustCompile(`\b(?:` + expr + `)\b`)} }
	return []promise{
		p("free", `gratis|gratuit[oa]s?|de graca|free|for free|free of charge|sem custo|sem cobranca|no charge|no cost|por nossa conta|on us|on the house|frete zero`),
		p("gift", `brindes?|mimos?|gifts?|amostras? gratis|free samples?|presentinhos?`),
		p("refund", `reembols\w*|estorn\w*|dinheiro de volta|devolv\w* (?:o|seu) (?:dinheiro|valor)|devolucao do (?:dinheiro|valor)|refund\w*|money back|reimburs\w*`),
		p("discount", `descontos?|cupo[mn]s?|cupons|coupons?|discount\w*|vouchers?|promocod\w*|promo codes?|\d+ ?% ?off|percent off|por cento|abatimento|off your`),
		p("points", `pontos|points?|milhas|miles`),
		p("cashback", `cashback|cash back|credito na (?:loja|carteira)|store credit`),
		p("multiplier", `dobr\w*|em dobro|tripl\w*|doubl\w*|twice the|2x (?:mais|more)`),
	}
}

// Delivery-date terms: a reply may tie a delivery to a day only when the
// facts name that day. Keys are shared across languages.
var timeTerms = []struct{ key, expr string }{
	{"tomorrow", `amanha|tomorrow`},
	{"today", `hoje|today|tonight|hoje a noite`},
	{"this_week", `esta semana|essa semana|this week`},
	{"next_week", `semana que vem|proxima semana|next week`},
	{"weekend", `fim de semana|final de semana|weekend`},
	{"mon", `segunda(?:-feira)?|monday`},
	{"tue", `terca(?:-feira)?|tuesday`},
	{"wed", `quarta(?:-feira)?|wednesday`},
	{"thu", `quinta(?:-feira)?|thursday`},
	{"fri", `sexta(?:-feira)?|friday`},
	{"sat", `sabado|saturday`},
	{"sun", `domingo|sunday`},
}

type timeTerm struct {
	key string
	re  *regexp.Regexp
}

func newTimeTerms() []timeTerm {
	out := make([]timeTerm, 0, len(timeTerms))
	for _, t := range timeTerms {
		out = append(out, timeTerm{t.key, regexp.MustCompile(`\b(?:` + t.expr + `)\b`)})
	}
	return out
}

// deliveryVerb marks a clause about a delivery.
var deliveryVerbExpr = `\b(?:cheg\w*|entreg\w*|receb\w*|envi\w*|postad\w*|despach\w*|sai\w* para entrega|estara ai|arriv\w*|deliver\w*|ship\w*|get it|dispatch\w*|reach(?:es)? you)\b`

// Secrets a reply must never ask for. A fact may mention one only to say it
// is never asked ("nunca pedimos sua senha"): see secretAllowed.
var secretExprs = []string{
	`senhas?`, `passwords?`, `passcodes?`, `pin`, `cvv2?`, `cvc`, `codigo de seguranca`, `security code`,
	`numeros? do (?:seu )?cartao`, `dados do (?:seu )?cartao`, `digitos do (?:seu )?cartao`, `verso do (?:seu )?cartao`,
	`validade do (?:seu )?cartao`, `card numbers?`, `card details`, `card digits`, `back of (?:your|the) card`,
	`codigo de verificacao`, `codigo (?:que chegou|enviado|recebido) (?:por|via) sms`, `codigo do sms`, `verification code`,
	`one.time (?:code|password)`, `otp`, `2fa`, `sms code`, `codigo de acesso`, `access code`, `login code`,
	`expiry date`, `expiration date`,
}

var negationExpr = regexp.MustCompile(`\b(?:nunca|jamais|nao|nem|never|not|don't|do not|won't|will not|no one)\b`)

// Quantities in words. "um", "uma", "one" and "a" are left out: they are
// articles far more often than numbers.
var numberWords = map[string]int{
	"dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6, "sete": 7, "oito": 8, "nove": 9,
	"dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14, "quinze": 15,
	"dezesseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19, "vinte": 20, "trinta": 30,
	"quarenta": 40, "cinquenta": 50, "sessenta": 60, "setenta": 70, "oitenta": 80, "noventa": 90,
	"cem": 100, "cento": 100, "duzentos": 200, "trezentos": 300, "quatrocentos": 400, "quinhentos": 500,
	"seiscentos": 600, "setecentos": 700, "oitocentos": 800, "novecentos": 900, "mil": 1000,
	"milhao": 1000000, "milhoes": 1000000, "metade": -1, "meia": -1,
	"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
	"seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
	"fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
	"thousand": 1000, "million": 1000000, "dozen": 12, "half": -1,
}

// numberWordAllowed: a quantity in words is a fact when the facts have the
// same word or the same number in digits ("dez" and "10").
func numberWordAllowed(word string, n int, a *allowed) bool {
	if a.words[word] {
		return true
	}
	return n > 0 && a.numbers.values[strconv.Itoa(n)]
}

// clauses splits unaccented text into clauses for the delivery-date and
// negation rules.
func clauses(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == '.' || r == '!' || r == '?' || r == ';' || r == '\n' || r == ','
	})
}
