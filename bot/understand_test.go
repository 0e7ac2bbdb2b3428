package bot_test

import (
	"context"
	"strings"
	"testing"

	"journeybot/bot"
	"journeybot/internal/openaitest"
	"journeybot/llm"
)

// routerFixture runs the shipped scripts with a model router on the
// loopback OpenAI server.
func routerFixture(t *testing.T) (*fixture, *openaitest.Server) {
	return modelFixture(t, "../scripts", func(o *bot.Options, c *llm.Client) { o.Router = c })
}

func TestModelRouting(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		reply string
		calls int    // model calls
		want  string // in the bot's answer
	}{
		{"keywords first: no model call", "cadê meu pedido?", "refund", 0, "Ainda não encontrei pedidos seus"},
		{"an unmatched text goes to the intent the model picks", "o negócio que mandaram tá todo torto", "order_problem", 1, "Sinto muito!"},
		{"the model says none: the fallback", "qual a capital da frança", "none", 1, "opções"},
		{"an id that does not exist is none", "qual a capital da frança", "weather", 1, "opções"},
		{"prose is never sent", "qual a capital da frança", "A capital é Paris.", 1, "opções"},
		{"a number is not routed", "10", "order_status", 0, "opções"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, srv := routerFixture(t)
			srv.SetReply(c.reply)
			addr := "r" + itoa(i)
			if err := f.bot.HandleInbound(context.Background(), text(addr, c.text)); err != nil {
				t.Fatal(err)
			}
			if n := srv.Calls(); n != c.calls {
				t.Errorf("%d model calls, want %d", n, c.calls)
			}
			got := strings.Join(f.rec.Texts(addr), "\n")
			if !strings.Contains(got, c.want) {
				t.Errorf("answer %q, want it to contain %q", got, c.want)
			}
			if strings.Contains(got, "Paris") {
				t.Errorf("model text reached the customer: %q", got)
			}
		})
	}
}
