package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"journeybot/internal/openaitest"
)

// `journeybot chat` with a model configured (llm.*): a marketer sees the
// model's texts in the terminal, a personalised step's rephrase and a free
// answer, and the model saw only what the checks allow.
func TestChatUsesTheConfiguredModel(t *testing.T) {
	const (
		rephrase = "Ana, agora não tenho um cupom ativo para você, mas fique de olho: eu aviso aqui quando aparecer um! 😉"
		answer   = "Claro, Ana! Posso te ajudar com isso por aqui."
	)
	model := openaitest.New(t)
	model.SetHandler(func(r openaitest.Request) openaitest.Response {
		sys := strings.Join(r.ContentsByRole("system"), "\n")
		switch {
		case strings.Contains(sys, "You rewrite a scripted message"):
			return openaitest.Reply(rephrase)
		case strings.Contains(sys, "You answer a customer's question"):
			return openaitest.Reply(answer)
		}
		return openaitest.Reply("none") // intent routing: nothing fits
	})
	scripts, _ := filepath.Abs("../../scripts")
	p := start(t, []string{
		"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL=",
		"JOURNEYBOT_LLM_BASE_URL=" + model.BaseURL(), "JOURNEYBOT_LLM_API_KEY=sk-test-chat", "JOURNEYBOT_LLM_MODEL=test-model",
	}, "chat", "--lang", "pt-BR", "--name", "Ana")
	p.stdout.waitFor(t, "Language model test-model on")
	fmt.Fprintln(p.stdin, "tem cupom?") // the offers flow: a personalised step
	p.stdout.waitFor(t, rephrase)
	fmt.Fprintln(p.stdin, "xyzzy plugh") // nothing matches: the stage's topics allow a free answer
	p.stdout.waitFor(t, answer)
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatalf("chat exit: %v\n%s", err, p.stderr.String())
	}
	if strings.Contains(p.stdout.String()+p.stderr.String(), "sk-test-chat") {
		t.Error("the API key was printed")
	}
	if model.Calls() < 2 {
		t.Errorf("model calls = %d, want the rephrase and the answer at least", model.Calls())
	}
}
