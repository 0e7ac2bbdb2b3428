package conversations

import (
	"strings"
	"testing"

	"journeybot/journey"
)

// FuzzLoad feeds arbitrary bytes to the script loader and checker: they
// may report problems, never panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(testScripts))
	f.Add([]byte("flows:\n  - id: x\n    steps:\n      - say: {pt-BR: '{{ if a }}', en: b}\n"))
	f.Add([]byte("stages: [a, b]\ntransitions: [{after: 3d}]\n"))
	f.Add([]byte("{{{{"))
	f.Add([]byte("- - - :"))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, probs := Load(map[string][]byte{"f.yaml": src})
		if s == nil {
			t.Fatal("Load returned no scripts value")
		}
		for _, p := range probs {
			if p.Pos.File != "f.yaml" {
				t.Fatalf("problem without its file: %v", p)
			}
		}
	})
}

// FuzzCustomerText sends arbitrary customer text through the shipped
// scripts: never a panic, never a template shown to the customer.
func FuzzCustomerText(f *testing.F) {
	s, _, err := LoadDir("../scripts")
	if err != nil {
		f.Fatalf("shipped scripts: %v", err)
	}
	e := NewEngine(s, DefaultOptions())
	for _, seed := range []string{"oi", "cadê meu pedido #1234", "", "🙂", strings.Repeat("a", 10000), "\x00\xff", "falar com atendente", "10", "/start"} {
		f.Add(seed, uint8(0))
	}
	f.Fuzz(func(t *testing.T, text string, kind uint8) {
		j := journey.New("fuzz", monday10)
		j.UpsertOrder(journey.Order{ID: "1234", Status: "shipped", Items: []journey.Item{{Name: "Tênis"}}})
		in := Input{Kind: InText, Text: text}
		switch kind % 4 {
		case 1:
			in = Input{Kind: InButton, Data: text}
		case 2:
			in = Input{Kind: InCommand, Command: text}
		}
		for i := 0; i < 3; i++ {
			r := e.Handle(j, in, monday10)
			for _, m := range r.Messages {
				if strings.Contains(m.Text, "{{") || strings.Contains(m.Text, "}}") {
					t.Fatalf("template shown to the customer: %q", m.Text)
				}
			}
		}
	})
}
