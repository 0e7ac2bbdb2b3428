package telegram

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"journeybot/channels"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		name, text string
		limit      int
		want       []string
	}{
		{"short", "  olá  ", 10, []string{"olá"}},
		{"empty", " \n ", 10, nil},
		{"paragraph", "Primeira parte aqui.\n\nSegunda parte.", 30, []string{"Primeira parte aqui.", "Segunda parte."}},
		{"sentence", "Uma frase curta. Outra frase longa demais", 30, []string{"Uma frase curta.", "Outra frase longa demais"}},
		{"space", "palavras sem ponto nenhum aqui", 20, []string{"palavras sem ponto", "nenhum aqui"}},
		{"hard cut", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		// An emoji is two UTF-16 units; it must never be cut in half.
		{"surrogates", "😊😊😊", 4, []string{"😊😊", "😊"}},
	}
	for _, c := range cases {
		got := Split(c.text, c.limit)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("%s: Split(%q, %d) = %q, want %q", c.name, c.text, c.limit, got, c.want)
		}
		for _, p := range got {
			if n := len(utf16.Encode([]rune(p))); n > c.limit {
				t.Errorf("%s: part %q has %d units, limit %d", c.name, p, n, c.limit)
			}
		}
	}
}

func TestKeyboardLayout(t *testing.T) {
	var nps []channels.Button
	for i := 0; i <= 10; i++ {
		nps = append(nps, channels.Button{Label: strconv.Itoa(i), Data: "b:nps:ask:" + strconv.Itoa(i)})
	}
	kb, err := keyboard(nps)
	if err != nil {
		t.Fatal(err)
	}
	if len(kb.InlineKeyboard) != 2 || len(kb.InlineKeyboard[0]) != 6 {
		t.Fatalf("11 score buttons: %d rows (first of %d), want 2 rows of up to 6", len(kb.InlineKeyboard), len(kb.InlineKeyboard[0]))
	}
	kb, err = keyboard([]channels.Button{{Label: "Meu pedido", Data: "a"}, {Label: "Meus pontos", Data: "b"}})
	if err != nil || len(kb.InlineKeyboard) != 2 {
		t.Fatalf("long labels must go one per row: %v %v", kb, err)
	}
	if _, err := keyboard([]channels.Button{{Label: "x", Data: strings.Repeat("d", 65)}}); err == nil {
		t.Fatal("65 bytes of button data must be refused")
	}
}
