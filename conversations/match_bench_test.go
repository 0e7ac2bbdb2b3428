package conversations

import "testing"

// BenchmarkMatch is the matcher's cost per customer text on the shipped scripts.
func BenchmarkMatch(b *testing.B) {
	s, _, err := LoadDir("../scripts")
	if err != nil {
		b.Fatal(err)
	}
	texts := []string{"cadê meu pedido?", "qdo chega meu pedidoo #1234?", "não quero mais receber mensagens de vcs", "qual a capital da frança", "o produto veio quebrado e quero trocar"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if m := s.Match(texts[i%len(texts)]); i%len(texts) == 0 && m.Intent == "" {
			b.Fatal("no match")
		}
	}
}
