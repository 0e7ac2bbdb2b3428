package llm

import (
	"encoding/json"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

// FuzzChecker runs the model-output checks on an arbitrary script text and
// an arbitrary reply: never a panic, and a reply equal to the text loses no
// fact of it.
func FuzzChecker(f *testing.F) {
	c := newChecker()
	f.Add("Seu pedido #1234 está enviado. Rastreio: https://t.example/1234", "Seu pedido 1234 foi enviado!")
	f.Add("Use o cupom VOLTA10 até 10/03.", "Use o cupom VOLTA11")
	f.Add("Ligue para (11) 91234-5678 ou ana@example.com", "www.example.com/x?y=1")
	f.Add("", "\x00\xff http://")
	f.Fuzz(func(t *testing.T, text, reply string) {
		want := c.extract(text)
		a := c.allowedFrom(text)
		c.missingFact(want, reply)
		if reason, detail := c.vet(a, reply, "pt-BR", true); reason == "" && detail != "" {
			t.Fatalf("a reply allowed with a detail %q", detail)
		}
		if f, lost := c.missingFact(want, text); lost {
			t.Fatalf("the text itself loses %q of %q", f, text)
		}
	})
}

// FuzzModelResponse decodes an arbitrary chat completion body the way the
// client does and reads the reply and the intent out of it: never a panic,
// and an intent picked is one of the choices.
func FuzzModelResponse(f *testing.F) {
	intents := []IntentChoice{{ID: "order_status"}, {ID: "refund"}}
	f.Add(`{"choices":[{"message":{"role":"assistant","content":"order_status"},"finish_reason":"stop"}]}`)
	f.Add(`{"choices":[{"message":{"content":"\"Olá, Ana!\""},"finish_reason":"stop"}]}`)
	f.Add(`{"choices":[{"message":{"refusal":"no"}}]}`)
	f.Add(`{"choices":[{"finish_reason":"length","message":{"content":"abc"}}]}`)
	f.Add(`{"choices":[]}`)
	f.Add(`{"choices":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		var resp openai.ChatCompletionResponse
		if json.Unmarshal([]byte(body), &resp) != nil {
			return
		}
		text, reason, _ := pickChoice(resp)
		if text == "" && reason == "" {
			t.Fatalf("no text and no reason for %q", body)
		}
		out := unquote(text, "Olá")
		if len(out) > len(text) {
			t.Fatalf("unquote grew %q to %q", text, out)
		}
		id, valid := pickIntent(text, intents)
		if valid && id != "" && id != "order_status" && id != "refund" {
			t.Fatalf("picked %q, not a choice", id)
		}
		if !valid && id != "" {
			t.Fatalf("invalid reply gave id %q", id)
		}
	})
}
