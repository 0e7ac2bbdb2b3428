package slack

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEscKeepsCustomerTextInert(t *testing.T) {
	const zw = "\u200b"
	for _, c := range []struct{ in, want string }{
		{"*bold*", "*" + zw + "bold*" + zw},
		{"_it_ ~st~ `code`", "_" + zw + "it_" + zw + " ~" + zw + "st~" + zw + " `" + zw + "code`" + zw},
		{"@here and @channel, @Everyone", "@" + zw + "here and @" + zw + "channel, @" + zw + "Everyone"},
		{"<!here> <!channel> <@U1> <https://evil.example|bank>", "&lt;!here&gt; &lt;!channel&gt; &lt;@U1&gt; &lt;https://evil.example|bank&gt;"},
		{"ana_souza@example.com", "ana_souza@example.com"},
		{"R$ 10 & 20", "R$ 10 &amp; 20"},
	} {
		if got := esc(c.in); got != c.want {
			t.Errorf("esc(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A customer's name and messages reach the case and its thread as text:
// no formatting, no broadcast, no link; the blocks are verbatim (no
// auto-linking) and links are not unfurled.
func TestCustomerTextInCasesIsEscapedAndVerbatim(t *testing.T) {
	e := newEnv(t, setup{})
	e.customer()
	e.say("<!channel> *URGENTE* pague em https://pix.evil.example @here")
	e.say("/human")
	msgs := e.sl.Messages(e.channel)
	if len(msgs) == 0 {
		t.Fatal("no case posted")
	}
	card := string(msgs[0].Blocks)
	for _, bad := range []string{"<!channel>", `\u003c!channel\u003e`, "*URGENTE*", "@here", `"verbatim":false`} {
		if strings.Contains(card, bad) {
			t.Errorf("case message holds %q:\n%s", bad, card)
		}
	}
	if !strings.Contains(card, `"verbatim":true`) {
		t.Errorf("case text is not verbatim:\n%s", card)
	}
	e.say("veja *isto* @channel https://evil.example")
	eventually(t, "the mirror", func() bool { return e.threadHas(msgs[0].TS, "veja") })
	for _, m := range e.sl.Thread(e.channel, msgs[0].TS) {
		if !strings.Contains(m.Text, "veja") {
			continue
		}
		var blocks []map[string]any
		json.Unmarshal(m.Blocks, &blocks)
		if len(blocks) != 1 || !strings.Contains(string(m.Blocks), `"verbatim":true`) {
			t.Errorf("mirror is not one verbatim block: %s", m.Blocks)
		}
		if strings.Contains(m.Text, "*isto*") || strings.Contains(m.Text, "@channel") {
			t.Errorf("mirror text keeps formatting or a broadcast: %q", m.Text)
		}
	}
}
