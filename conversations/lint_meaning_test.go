package conversations

import (
	"strings"
	"testing"
)

// meaningBase is a small clean set; each case below adds one mistake.
const meaningBase = `settings: {languages: [pt-BR, en], fallback: fallback}
stages:
  - {id: purchase, initial: true}
  - {id: onboarding}
transitions:
  - {on: order.delivered, to: onboarding}
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
`

// TestLintFindsWhatMisleadsAuthors: each case is a script that looked fine
// to lint before and did not do what its author meant.
func TestLintFindsWhatMisleadsAuthors(t *testing.T) {
	cases := []struct {
		name, add string
		other     string   // a second file
		whole     string   // the whole file instead of meaningBase + add
		want      []string // problems, as printed
		not       []string // texts no problem may have
	}{
		{
			name: "misspelt event trigger",
			add: `  - id: shipped
    triggers: [{event: order.shiped}]
    steps:
      - say: {pt-BR: "Enviado", en: "Shipped"}
`,
			want: []string{`s.yaml:12:24: warning: event: event type "order.shiped" is not one the bot knows (did you mean "order.shipped"?)`},
		},
		{
			name: "misspelt since and transition",
			add: `  - id: later
    triggers: [{after: 2d, since: order.delivred}]
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
`,
			other: "transitions:\n  - {on: order.delivred, to: onboarding}\n",
			want: []string{
				`s.yaml:12:35: warning: since: event type "order.delivred" is not one the bot knows (did you mean "order.delivered"?)`,
				`t.yaml:2:10: warning: on: event type "order.delivred" is not one the bot knows (did you mean "order.delivered"?)`,
			},
		},
		{
			name: "custom event used once",
			add: `  - id: tier
    triggers: [{event: loyalty.tier_up}]
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
`,
			want: []string{`s.yaml:12:24: warning: event: custom event type "loyalty.tier_up" is used nowhere else in the scripts`},
		},
		{
			name: "custom event declared in settings",
			add: `  - id: tier
    triggers: [{event: loyalty.tier_up}]
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
`,
			other: "settings:\n  events: [loyalty.tier_up]\n",
			not:   []string{"loyalty.tier_up"},
		},
		{
			name: "coupon right after an offer",
			add: `  - id: coupon
    triggers: [{command: cupom}]
    steps:
      - offer: {code: VOLTE10, expires: 2d}
      - say: {pt-BR: "Cupom {{ coupon }} até {{ coupon_expires }}", en: "Coupon {{ coupon }} until {{ coupon_expires }}"}
      - say: {pt-BR: "De novo: {{ coupon }}", en: "Again: {{ coupon }}"}
`,
			want: []string{`s.yaml:16:22: warning: say: {{ coupon }} may have no data`}, // two steps on it may have expired
			not:  []string{`s.yaml:15:`},
		},
		{
			name: "error in the en text, at the en line",
			add: `  - id: hi
    triggers: [{command: hi}]
    steps:
      - say:
          pt-BR: "Oi, {{ first_name | default \"\" }}"
          en: "Hi, {{ frist_name }}"
`,
			want: []string{`s.yaml:16:15: say: template uses unknown field "frist_name" (did you mean "first_name"?)`},
		},
		{
			name: "unknown template field gets a did you mean",
			add: `  - id: hi
    triggers: [{command: hi}]
    steps:
      - say: {pt-BR: "Cupom {{ cupon | default \"\" }}", en: "Coupon {{ coupon | default \"\" }}"}
`,
			want: []string{`s.yaml:14:22: say: template uses unknown field "cupon" (did you mean "coupon"?)`},
		},
		{
			name: "misspelt step key gets a did you mean, not the list",
			add: `  - id: hi
    triggers: [{command: hi}]
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
        buttns:
          - {label: {pt-BR: "Sim", en: "Yes"}, goto: hi}
`,
			want: []string{`s.yaml:15:9: unknown field "buttns" in a step (did you mean "buttons"?)`},
			not:  []string{"known: id, say"},
		},
		{
			name: "stages typo at its line",
			add: `  - id: hi
    stages:
      - purchase
      - onbording
    triggers: [{command: hi}]
    steps:
      - say: {pt-BR: "Oi", en: "Hi"}
`,
			want: []string{`s.yaml:14:9: stages: stage "onbording" does not exist (did you mean "onboarding"?)`},
		},
		{
			name:  "a tab at its own line",
			whole: "settings: {languages: [pt-BR], fallback: fallback}\nstages:\n  - {id: s, initial: true}\nflows:\n  - id: fallback\n    steps:\n      - id: a\n\t\tsay: {pt-BR: \"oi\"}\n",
			want:  []string{"s.yaml:8:1: not valid YAML: found a tab character that violates indentation"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := meaningBase + tc.add
			if tc.whole != "" {
				src = tc.whole
			}
			files := map[string][]byte{"s.yaml": []byte(src)}
			if tc.other != "" {
				files["t.yaml"] = []byte(tc.other)
			}
			_, probs := Load(files)
			got := probs.Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing\n  %s\nin:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("unexpected %q in:\n%s", n, got)
				}
			}
		})
	}
}
