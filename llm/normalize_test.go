package llm

import "testing"

func TestNormalize(t *testing.T) {
	n := newNormalizer()
	tests := []struct{ name, in, want string }{
		{"fullwidth", "code \uff26\uff32\uff25\uff25", "code FREE"},
		{"mathematical bold", "\U0001d405\U0001d411\U0001d404\U0001d404", "FREE"},
		{"cyrillic look-alike", "FRETEGR\u0410TIS", "FRETEGRATIS"},
		{"greek look-alike", "\u039fFF", "OFF"},
		{"accents kept", "promoção grátis à vista", "promoção grátis à vista"},
		{"zero-width removed", "VOLTA\u200b10", "VOLTA10"},
		{"markdown link", "[loja](https://evil.example.ru/x)", "loja https://evil.example.ru/x"},
		{"autolink", "<https://evil.example.ru>", "https://evil.example.ru"},
		{"defanged dot", "boleto-loja[.]pro e loja (dot) cc", "boleto-loja.pro e loja.cc"},
		{"spaced capitals", "cupom M E T A D E", "cupom METADE"},
		{"spaced with one mark", "f.r.e.t.e", "frete"},
		{"spaced domain", "e a r l y - s h o p . x y z", "early-shop.xyz"},
		{"article next to spaced capitals", "o P I N do", "o PIN do"},
		{"words apart", "f r e t e   é   g r á t i s", "frete   é   grátis"},
		{"small numbers stay", "de 1 a 5 e de 3 a 5 dias", "de 1 a 5 e de 3 a 5 dias"},
		{"spaced digits join", "9 8 7 6", "9876"},
		{"single letters inside words stay", "Pix e boleto", "Pix e boleto"},
		{"nbsp", "R$\u00a099,90", "R$ 99,90"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.normalize(tt.in); got != tt.want {
				t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHiddenRune(t *testing.T) {
	for in, want := range map[string]bool{
		"VOLTA\u200b10":     true,  // zero-width space
		"abc\u202edcba":     true,  // right-to-left override
		"so\u00adft":        true,  // soft hyphen
		"👩\u200d💻 ok":       false, // emoji joiner
		"Olá, tudo bem? ❤️": false,
	} {
		if _, got := hiddenRune(in); got != want {
			t.Errorf("hiddenRune(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestWrongLanguage(t *testing.T) {
	d := newLangDetector()
	tests := []struct {
		text, lang string
		wrong      bool
	}{
		{"Oi, Ana! Seu pedido foi enviado.", "pt", false},
		{"Obrigado!", "pt", false},
		{"Ok 👍", "pt", false},
		{"Para confirmar o pagamento, informe o número do cartão.", "pt", false},
		{"Seu pedido está on the way!", "pt", false}, // a tie is not a verdict
		{"¡Gracias, Ana!", "pt", true},
		{"Hola Ana, tu pedido está en camino.", "pt", true},
		{"Thanks, Ana! Your order has shipped.", "pt", true},
		{"Ciao Ana, la spedizione è gratuita.", "pt", true},
		{"Bonjour, votre commande est partie.", "en", true},
		{"Hallo, danke für die Bestellung.", "en", true},
		{"Oi Olivia, lave a camisa com água fria.", "en", true},
		{"Hi Olivia! Wash it in cold water.", "en", false},
		{"Great!", "en", false},
		// Eight words and none of the customer's language: Dutch, say.
		{"Bedankt voor uw bestelling, tot snel weer ziens vriend", "en", true},
		{"O código de rastreio chega por e-mail.", "pt", false},
	}
	for _, tt := range tests {
		if _, got := d.wrongLanguage(tt.text, tt.lang); got != tt.wrong {
			t.Errorf("wrongLanguage(%q, %s) = %v, want %v (scores %v)", tt.text, tt.lang, got, tt.wrong, d.score(tt.text))
		}
	}
}

func TestForeignScript(t *testing.T) {
	for in, want := range map[string]bool{
		"您好 Ana":           true,
		"Привет":           true,
		"c\u043ede":        true, // one Cyrillic letter is enough
		"ação, café, über": false,
		"R$ 10 😊":          false,
	} {
		if _, got := foreignScript(in, "pt"); got != want {
			t.Errorf("foreignScript(%q) = %v, want %v", in, got, want)
		}
	}
	if _, got := foreignScript("您好", ""); got {
		t.Error("no script rule for a language the bot does not know")
	}
}
