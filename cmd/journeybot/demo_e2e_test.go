package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// `journeybot chat --demo` through stdin: the sample customer's orders,
// the store's events, the clock, a numbered press and /pedido.
func TestChatDemo(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	p := start(t, []string{"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL="}, "chat", "--demo")
	p.stdout.waitFor(t, "order #1001: paid")
	steps := []struct{ in, want string }{
		{"cadê meu pedido?", "Seu pedido #1001 está pago"},
		{"/event order.shipped", "seu pedido #1001 saiu para entrega"},
		{"/advance 3d", "(the clock is now Thu 2026-03-05 10:00)"},
		{"/event order.delivered", "[2] Tive um problema"},
		{"/advance 2d", "bot Sat 07 Mar 10:00: Ana, uma pergunta rápida: de 1 a 5"},
		{"5", "Que bom saber!"}, // the last message's button 5
		{"/pedido 1001 ana@example.com", "Pronto, encontrei você!"},
		{"/pedido 1001 outra@example.com", "Não consegui confirmar esse pedido"},
		{"/event Order Shipped!", "refused as POST /events would refuse it"},
		{"/demo", "order #1001: delivered"},
	}
	for _, s := range steps {
		fmt.Fprintln(p.stdin, s.in)
		p.stdout.waitFor(t, s.want)
	}
	out := p.stdout.String()
	// The delivery question's buttons were numbered while they were the
	// last; once the CSAT came, only its buttons were.
	csat := out[strings.Index(out, "uma pergunta rápida"):]
	csat = csat[:strings.Index(csat, "Que bom saber")]
	if !strings.Contains(csat, "[5] 5") || strings.Contains(csat, "Tive um problema") {
		t.Errorf("the CSAT turn:\n%s", csat)
	}
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
}

// In English, with another name: the sample customer takes them.
func TestChatDemoEnglish(t *testing.T) {
	scripts, _ := filepath.Abs("../../scripts")
	p := start(t, []string{"JOURNEYBOT_SCRIPTS_DIR=" + scripts, "JOURNEYBOT_REDIS_URL="}, "chat", "--demo", "--lang", "en", "--name", "Olivia Brown")
	p.stdout.waitFor(t, "customer Olivia Brown")
	fmt.Fprintln(p.stdin, "/event order.shipped")
	p.stdout.waitFor(t, "#1001")
	fmt.Fprintln(p.stdin, "where is my order?")
	p.stdout.waitFor(t, "Your order #1001")
	p.stdin.Close()
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
}
