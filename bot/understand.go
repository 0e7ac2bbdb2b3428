package bot

import (
	"context"
	"strings"
	"unicode"

	"journeybot/conversations"
	"journeybot/llm"
)

// IntentRouter sorts a text no keyword matched into one of the scripts'
// intents (a language model). It returns an id from intents or ok=false;
// never free text. Optional: without it, unmatched texts get the fallback.
type IntentRouter interface {
	RouteIntent(ctx context.Context, text string, intents []llm.IntentChoice) (id string, ok bool)
}

// maxAbout bounds how many keywords describe an intent to the model.
const maxAbout = 12

// routeIntent returns the intent a router picks for a customer's text, or
// "" when there is no router, the scripts match the text themselves, or
// the text has too little to go on. It runs before the journey update: the
// engine is pure and may run more than once (an optimistic retry), so the
// model is asked once, here, and the engine gets the answer in Input.Intent.
func (b *Bot) routeIntent(ctx context.Context, text string) string {
	if b.router == nil || letters(text) < 3 {
		return ""
	}
	s := b.engine.Scripts()
	if s.Match(text).Intent != "" {
		return ""
	}
	id, ok := b.router.RouteIntent(ctx, text, intentChoices(s))
	if !ok {
		return ""
	}
	return id
}

// intentChoices describes each intent by its first keywords, as written.
func intentChoices(s *conversations.Scripts) []llm.IntentChoice {
	out := make([]llm.IntentChoice, 0, len(s.Intents))
	for _, in := range s.Intents {
		var kws []string
		for _, k := range in.Keywords {
			if len(kws) == maxAbout {
				break
			}
			kws = append(kws, k.Text)
		}
		out = append(out, llm.IntentChoice{ID: in.ID, About: strings.Join(kws, ", ")})
	}
	return out
}

// letters counts the letters of s: "10" or "👍" are answers and reactions,
// not requests worth a model call.
func letters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}
