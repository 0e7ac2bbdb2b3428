package llm

import (
	"reflect"
	"sort"
	"testing"
)

func TestExtractFacts(t *testing.T) {
	c := newChecker()
	tests := []struct {
		name     string
		in       string
		literals []string
		tokens   []string
		statuses []string
	}{
		{
			name:     "pt order message",
			in:       "Seu pedido #12345 foi enviado! Cupom VOLTA10 até 15/08/2025, R$ 1.299,90 em https://loja.com.br/p?c=VOLTA10.",
			literals: []string{"https://loja.com.br/p?c=VOLTA10", "R$ 1.299,90", "15/08/2025", "#12345"},
			tokens:   []string{"08", "1", "12345", "15", "2025", "299", "90", "VOLTA10"},
			statuses: []string{"enviado"},
		},
		{
			name:     "en with email, time and textual date",
			in:       "Your order #A77 is out for delivery, arriving March 3 by 14:30. Questions: help@shop.com. Use FREESHIP for $10.00 off.",
			literals: []string{"help@shop.com", "$10.00", "March 3", "14:30", "#A77"},
			tokens:   []string{"00", "10", "14", "3", "30", "A77", "FREESHIP"},
			statuses: []string{"out for delivery"},
		},
		{
			name:     "pt textual date and multi-word status",
			in:       "Olá! Seu pacote está em trânsito e chega em 12 de março.",
			literals: []string{"12 de março"},
			tokens:   []string{"12"},
			statuses: []string{"em trânsito"},
		},
		{
			name:     "bare domain, NBSP in price, no shouting under 4 letters",
			in:       "Pague via PIX: R$\u00a099,90. Veja loja.com.br/faq",
			literals: []string{"loja.com.br/faq", "R$ 99,90"},
			tokens:   []string{"90", "99"},
		},
		{
			name:     "commands and words to type",
			in:       "Escreva \"troca\" aqui. (Para sair, envie /stop; e/ou R$ 5/mês.)",
			literals: []string{"R$ 5", "/stop", `"troca"`},
			tokens:   []string{"5"},
		},
		{
			name:   "accented all-caps words are not codes",
			in:     "ATENÇÃO: PROMOÇÃO hoje",
			tokens: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.extract(tt.in)
			if !reflect.DeepEqual(f.literals, tt.literals) {
				t.Errorf("literals = %q, want %q", f.literals, tt.literals)
			}
			tokens := []string{}
			for tok := range f.tokens {
				tokens = append(tokens, tok)
			}
			sort.Strings(tokens)
			if tt.tokens == nil {
				tt.tokens = []string{}
			}
			if !reflect.DeepEqual(tokens, tt.tokens) {
				t.Errorf("tokens = %q, want %q", tokens, tt.tokens)
			}
			if !reflect.DeepEqual(f.statuses, tt.statuses) {
				t.Errorf("statuses = %q, want %q", f.statuses, tt.statuses)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	c := newChecker().lang
	tests := []struct{ in, want string }{
		{"Olá Ana, seu pedido foi enviado e chega em breve. Obrigado pela compra!", "pt"},
		{"Hi Ana, your order has shipped and will arrive soon. Thanks for your purchase!", "en"},
		{"Ana 🎉 #12345", ""},
		{"Obrigado!", ""}, // one hit is too little to judge
	}
	for _, tt := range tests {
		if got := c.language(tt.in); got != tt.want {
			t.Errorf("language(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLangCode(t *testing.T) {
	for in, want := range map[string]string{"pt-BR": "pt", "pt": "pt", "PT_br": "pt", "en": "en", "en-US": "en", "es": "", "": ""} {
		if got := langCode(in); got != want {
			t.Errorf("langCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainsWord(t *testing.T) {
	tests := []struct {
		s, w string
		want bool
	}{
		{"foi enviado.", "enviado", true},
		{"reenviado", "enviado", false},
		{"pago, obrigado", "pago", true},
		{"pagos", "pago", false},
		{"está em trânsito", "em trânsito", true},
	}
	for _, tt := range tests {
		if got := containsWord(tt.s, tt.w); got != tt.want {
			t.Errorf("containsWord(%q, %q) = %v", tt.s, tt.w, got)
		}
	}
}

func TestInventedFactHosts(t *testing.T) {
	c := newChecker()
	a := c.allowedFrom("Acesse https://www.loja.com.br/volta")
	for reply, want := range map[string]bool{
		"Veja https://www.loja.com.br/volta": false,
		"Veja loja.com.br":                   false,
		"Veja www.loja.com.br":               false,
		"Veja loja.com":                      true,
		"Veja https://www.loja.com.br/outra": true,
		"Veja https://evil.com/?loja.com.br": true,
	} {
		if _, got := c.inventedFact(a, reply, false); got != want {
			t.Errorf("inventedFact(%q) = %v, want %v", reply, got, want)
		}
	}
}

func TestNumberFacts(t *testing.T) {
	c := newChecker()
	a := c.allowedFrom("Frete grátis acima de R$ 1.299,90, entrega em 3 a 5 dias, até 15/08. Pedido #1001.")
	for n, want := range map[string]bool{
		"1.299,90": true, "1299,90": true, "1299.9": true, // the same amount
		"3": true, "5": true, "1001": true, "15/08": true, "15/8": true,
		"1,90": false, "99,00": false, "16": false, "15/09": false, "1002": false,
	} {
		if got := a.numbers.allows(n); got != want {
			t.Errorf("allows(%q) = %v, want %v", n, got, want)
		}
	}
}

func TestVet(t *testing.T) {
	c := newChecker()
	pt := c.allowedFrom("loyalty points: 150", "Ana", "Frete grátis acima de R$ 199,00. Nunca pedimos sua senha.")
	en := c.allowedFrom("loyalty points: 0", "John", "Returns within 30 days, refunded to the card. Arrives by Friday.")
	tests := []struct {
		name   string
		a      allowed
		lang   string
		reply  string
		reason string
	}{
		{"generic text", pt, "pt", "Oi, Ana! Como posso ajudar hoje?", ""},
		{"fact kept", pt, "pt", "O frete é grátis acima de R$ 199,00.", ""},
		{"points from the profile", pt, "pt", "Você tem 150 pontos.", ""},
		{"points in words", pt, "pt", "Você tem cento e cinquenta pontos.", reasonInventedFact},
		{"quantity in words from digits", c.allowedFrom("prazo de 10 dias"), "pt", "O prazo é de dez dias.", ""},
		{"lower-case code after cupom", pt, "pt", "Use o cupom fretelivre.", reasonInventedFact},
		{"tracking code is a word", c.allowedFrom("rastreio"), "pt", "O código de rastreio chega por e-mail.", ""},
		{"quoted code", pt, "pt", `Digite "superpromo" no carrinho.`, reasonInventedFact},
		{"unknown name", pt, "pt", "A Joana também comprou.", reasonInventedFact},
		{"handle", pt, "pt", "Fale com @loja_ajuda.", reasonInventedFact},
		{"any TLD", pt, "pt", "Pague em loja-pix.top.", reasonInventedFact},
		{"secret said to be never asked", pt, "pt", "Lembre-se: nunca pedimos sua senha.", ""},
		{"secret asked", pt, "pt", "Me passe sua senha, por favor.", reasonSecret},
		{"card number", en, "en", "Please send your card number.", reasonSecret},
		{"free not in facts", en, "en", "Shipping is free!", reasonPromise},
		{"refund in facts", en, "en", "We refund it to the card.", ""},
		{"discount not in facts", en, "en", "You get a discount next time.", reasonPromise},
		{"delivery day in facts", en, "en", "It arrives by Friday.", ""},
		{"delivery day not in facts", en, "en", "It will be delivered tomorrow.", reasonPromise},
		{"today without a delivery", en, "en", "How can I help you today?", ""},
		{"zero-width", pt, "pt", "Oi\u200b Ana", reasonObfuscated},
		{"other script", pt, "pt", "Oi Ana 您好", reasonWrongLanguage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, detail := c.vet(tt.a, tt.reply, tt.lang, false); got != tt.reason {
				t.Errorf("vet(%q) = %q (%s), want %q", tt.reply, got, detail, tt.reason)
			}
		})
	}
}
