package telegram

import (
	"strconv"
	"strings"
	"testing"
	"time"
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

func TestPacer(t *testing.T) {
	p := newPacer(time.Second, 30)
	t0 := time.Unix(1000, 0)
	if d := p.chatSlot(1, t0); d != 0 {
		t.Fatalf("first message to a chat waits %v", d)
	}
	if d := p.chatSlot(1, t0); d != time.Second {
		t.Fatalf("second message to the same chat waits %v, want 1s", d)
	}
	if d := p.chatSlot(2, t0); d != 0 {
		t.Fatalf("another chat waits %v for the first one", d)
	}
	p.hold(3, t0.Add(5*time.Second))
	if d := p.chatSlot(3, t0); d != 5*time.Second {
		t.Fatalf("a chat held by a 429 waits %v, want 5s", d)
	}
	// 30 messages a second overall: the 31st at the same instant waits.
	for i := 0; i < 30; i++ {
		if d := p.token(t0); d != 0 {
			t.Fatalf("message %d of a burst waits %v", i+1, d)
		}
	}
	if d := p.token(t0); d <= 0 || d > 100*time.Millisecond {
		t.Fatalf("the 31st message in one second waits %v, want about 1/30s", d)
	}
	if d := p.token(t0.Add(2 * time.Second)); d != 0 {
		t.Fatalf("after two quiet seconds a message waits %v", d)
	}
}
