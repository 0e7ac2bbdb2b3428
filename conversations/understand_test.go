package conversations

import (
	"slices"
	"strings"
	"testing"

	"journeybot/journey"
)

func TestStemsMeet(t *testing.T) {
	same := [][]string{
		{"enviado", "enviar", "envio", "enviou", "enviada", "enviaram"},
		{"chegou", "chega", "chegada", "chegar", "chegando", "chegaram"},
		{"cancelar", "cancelado", "cancelamento", "cancela", "cancelei", "cancelled", "cancellation", "cancel"},
		{"shipped", "shipping", "ship", "ships"},
		{"cupom", "cupons"},
		{"pontos", "ponto"},
		{"troca", "trocar", "troque", "trocou"},
		{"devolver", "devolvido", "devolvam"},
		{"paguei", "pago", "pagar", "pagamento"},
	}
	for _, group := range same {
		want := stem(squeeze(group[0]))
		for _, w := range group[1:] {
			if got := stem(squeeze(w)); got != want {
				t.Errorf("stem(%q) = %q, want %q like %q", w, got, want, group[0])
			}
		}
	}
	differ := [][2]string{{"para", "parar"}, {"como", "comer"}, {"saiu", "sair"}, {"nota", "not"}}
	for _, d := range differ {
		if a, b := stem(squeeze(d[0])), stem(squeeze(d[1])); a == b {
			t.Errorf("%q and %q share the stem %q", d[0], d[1], a)
		}
	}
}

func TestOneEdit(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"pedido", "pedidi", true},    // substitution
		{"cancelar", "cancelr", true}, // deletion
		{"rastreio", "rastreiro", true},
		{"entrega", "entrgea", true},     // swap
		{"entrega", "emtrgea", false},    // two edits
		{"reembolso", "reembolos", true}, // swap
		{"pedido", "pedido", false},
		{"pix", "pixxxx", false},
	}
	for _, c := range cases {
		if got := oneEdit(c.a, c.b); got != c.want {
			t.Errorf("oneEdit(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	cases := []struct {
		text    string
		forms   string // the words as the matcher sees them
		negated []string
	}{
		{"Qdo chega, vc sabe?", "quando chega voce sabe", nil},
		{"bom diaaa!!", "bom dia", nil},
		{"n quero mais receber msg", "nao quero mais receber mensagem", []string{"receber"}},
		{"não quero cancelar, quero trocar", "nao quero cancelar quero trocar", []string{"cancelar"}},
		{"i don't want these messages", "i do not want these mesages", []string{"mesages"}},
		{"preciso da nf", "preciso da nota fiscal", nil},
	}
	for _, c := range cases {
		toks := tokenize(c.text)
		var forms, neg []string
		for _, tk := range toks {
			forms = append(forms, tk.form)
			if tk.negated {
				neg = append(neg, tk.form)
			}
		}
		if got := strings.Join(forms, " "); got != c.forms {
			t.Errorf("tokenize(%q) = %q, want %q", c.text, got, c.forms)
		}
		if !slices.Equal(neg, c.negated) {
			t.Errorf("tokenize(%q) negated %v, want %v", c.text, neg, c.negated)
		}
	}
}

const matchScripts = `
settings: {languages: [pt-BR], fallback: fallback}
stages: [{id: s, initial: true}]
intents:
  - {id: cancel_order, keywords: [cancelar pedido, cancelar]}
  - {id: optout, keywords: [nao quero mais receber]}
  - {id: order_status, keywords: [cade meu pedido, pedido, enviado, quando chega], patterns: ['pedido\s*#?(?P<order>[0-9]{3,})']}
  - {id: greeting, keywords: [bom dia, oi]}
flows:
  - {id: fallback, steps: [{say: "?"}]}
  - {id: a, triggers: [{intent: cancel_order}], steps: [{say: a}]}
  - {id: b, triggers: [{intent: optout}], steps: [{say: b}]}
  - {id: c, triggers: [{intent: order_status}], steps: [{say: c}]}
  - {id: d, triggers: [{intent: greeting}], steps: [{say: d}]}
`

func TestMatchExplains(t *testing.T) {
	s, probs := Load(map[string][]byte{"m.yaml": []byte(matchScripts)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		text, intent, keyword string
		rules                 []string
		order, negated        string
	}{
		{"Cadê meu PEDIDO?", "order_status", "cade meu pedido", []string{"exact"}, "", ""},
		{"meu pedido cade", "order_status", "cade meu pedido", []string{"exact"}, "", ""}, // word order
		{"qdo chega", "order_status", "quando chega", []string{"abbrev", "exact"}, "", ""},
		{"bom diaa", "greeting", "bom dia", []string{"exact", "repeat"}, "", ""},
		{"ja foi enviada?", "order_status", "enviado", []string{"stem"}, "", ""},
		{"quero cancelr", "cancel_order", "cancelar", []string{"typo"}, "", ""},
		{"cancelar o pedido 1234", "cancel_order", "cancelar pedido", []string{"exact"}, "1234", ""},
		{"n quero mais receber", "optout", "nao quero mais receber", []string{"abbrev", "exact"}, "", ""},
		{"não quero cancelar", "", "", nil, "", "cancelar"},
		{"qual a capital da frança", "", "", nil, "", ""},
	}
	for _, c := range cases {
		m := s.Match(c.text)
		if m.Intent != c.intent || m.Keyword != c.keyword {
			t.Errorf("Match(%q) = %s %q, want %s %q", c.text, m.Intent, m.Keyword, c.intent, c.keyword)
			continue
		}
		if !slices.Equal(m.Rules(), c.rules) {
			t.Errorf("Match(%q) rules %v, want %v (%+v)", c.text, m.Rules(), c.rules, m.Words)
		}
		if m.Order != c.order {
			t.Errorf("Match(%q) order %q, want %q", c.text, m.Order, c.order)
		}
		if c.negated != "" && (len(m.Negated) == 0 || m.Negated[0].Word != c.negated) {
			t.Errorf("Match(%q) negated %+v, want %q", c.text, m.Negated, c.negated)
		}
		if m.Intent != "" && m.At.Line == 0 {
			t.Errorf("Match(%q) does not say where the keyword is", c.text)
		}
	}
}

// The messages issue 19 quotes must reach their topic in the shipped scripts.
func TestIssueExamples(t *testing.T) {
	s, _, err := LoadDir("../scripts")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ja foi enviado?": "order_status", "quando chega minha compra?": "order_status", "onde ta meu pacote": "order_status",
		"comprei semana passada e nada até agora": "order_status", "o produto veio quebrado": "order_problem",
		"quero meu dinheiro de volta": "refund", "para de me mandar mensagem": "optout", "sair": "optout",
		"como indico um amigo?": "referral", "o pagamento foi aprovado?": "payment_status", "posso pagar com pix?": "payment_methods",
		"meu boleto venceu": "boleto_copy", "preciso da nota fiscal": "invoice", "como lavo a capa?": "product_care",
		"quero mudar o endereço de entrega": "address_change", "any discounts?": "offers", "it arrived broken": "order_problem",
		"stop messaging me": "optout", "não quero mais receber": "optout",
	}
	for text, intent := range want {
		if m := s.Match(text); m.Intent != intent {
			t.Errorf("%q reaches %q (keyword %q), want %q", text, m.Intent, m.Keyword, intent)
		}
	}
}

func TestRoutedIntentOnlyWhenNothingMatches(t *testing.T) {
	e := testEngine(t)
	cases := []struct {
		text, routed, want string
	}{
		{"blá blá", "coupon", "Cupom VOLTE10"},          // nothing matched: the model's pick
		{"quero ver meu pedido", "coupon", "Não achei"}, // keywords first
		{"blá blá", "nonexistent", "Não entendi (1)"},   // an intent without a flow: fallback
		{"blá blá", "", "Não entendi (1)"},
	}
	for _, c := range cases {
		j := journey.New("c1", monday10)
		got := texts(e.Handle(j, Input{Kind: InText, Text: c.text, Intent: c.routed}, monday10))
		if len(got) == 0 || !strings.HasPrefix(got[0], c.want) {
			t.Errorf("%q routed to %q: %q, want %q...", c.text, c.routed, got, c.want)
		}
	}
}

func TestButtonRunsCommand(t *testing.T) {
	src := `
settings: {languages: [pt-BR], fallback: fallback}
stages: [{id: s, initial: true}]
intents: [{id: optout, keywords: [sair]}]
flows:
  - {id: fallback, steps: [{say: "?"}]}
  - id: confirm
    triggers: [{intent: optout}]
    steps:
      - id: ask
        say: "Parar?"
        buttons: [{label: "Sim", command: stop}, {label: "Não", goto: keep}]
      - {id: keep, say: "Ok, sigo"}
  - {id: stopped, triggers: [{command: stop}], steps: [{say: "Parei"}]}
`
	s, probs := Load(map[string][]byte{"b.yaml": []byte(src)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	e := NewEngine(s, DefaultOptions())
	j := journey.New("c1", monday10)
	say(e, j, "sair", monday10)
	if got := say(e, j, "sim", monday10); len(got) != 1 || got[0] != "Parei" || j.Profile.OptedOut == 0 {
		t.Errorf("pressing the stop button: %q, opted out %v", got, j.Profile.OptedOut != 0)
	}
}

func TestLintWarnsSharedKeyword(t *testing.T) {
	src := `
settings: {languages: [pt-BR], fallback: fallback}
stages: [{id: s, initial: true}]
intents:
  - {id: a, keywords: [meu pedido]}
  - {id: b, keywords: [troca, Pedido meu]}
flows:
  - {id: fallback, steps: [{say: "?"}]}
  - {id: fa, triggers: [{intent: a}], steps: [{say: a}]}
  - {id: fb, triggers: [{intent: b}], steps: [{say: b}]}
`
	_, probs := Load(map[string][]byte{"k.yaml": []byte(src)})
	want := `k.yaml:6:31: warning: keyword "Pedido meu" of intent "b" is also a keyword of intent "a" (k.yaml:5:24)`
	for _, p := range probs {
		if strings.HasPrefix(p.String(), want) {
			return
		}
	}
	t.Errorf("no warning %q in:\n%v", want, probs)
}
