package conversations

import (
	"slices"
	"testing"

	"journeybot/journey"
)

const staffScripts = `
settings: {languages: [pt-BR, en], fallback: fallback}
stages:
  - {id: purchase, initial: true}
intents:
  - {id: human, keywords: [atendente]}
flows:
  - id: fallback
    steps:
      - say: {pt-BR: "Não entendi", en: "Did not get it"}
  - id: handoff
    triggers: [{intent: human}, {command: human}]
    steps:
      - branch:
          - if: staff.available
            goto: open
        else: nobody
      - id: open
        escalate: asked
      - say: {pt-BR: "Já chamei a equipe", en: "I called the team"}
        end: true
      - id: nobody
        say: {pt-BR: "Ninguém da equipe atende por aqui", en: "Nobody from the team answers here"}
`

// staff.available follows the engine's NoStaff: with a staff desk the
// handoff opens a case; without one it says so and opens none, /human included.
func TestStaffAvailableCondition(t *testing.T) {
	s, probs := Load(map[string][]byte{"staff.yaml": []byte(staffScripts)})
	if errs := probs.Errors(); len(errs) > 0 {
		t.Fatalf("scripts do not lint:\n%v", errs)
	}
	for _, c := range []struct {
		name    string
		noStaff bool
		input   Input
		want    string
		escal   bool
	}{
		{"desk, words", false, Input{Kind: InText, Text: "atendente"}, "Já chamei a equipe", true},
		{"desk, /human", false, Input{Kind: InCommand, Command: "human"}, "Já chamei a equipe", true},
		{"no desk, words", true, Input{Kind: InText, Text: "atendente"}, "Ninguém da equipe atende por aqui", false},
		{"no desk, /human", true, Input{Kind: InCommand, Command: "human"}, "Ninguém da equipe atende por aqui", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			o.NoStaff = c.noStaff
			e := NewEngine(s, o)
			j := journey.New("c1", monday10)
			r := e.Handle(j, c.input, monday10)
			if got := texts(r); !slices.Equal(got, []string{c.want}) {
				t.Errorf("messages %q, want %q", got, c.want)
			}
			if (j.Case != nil) != c.escal {
				t.Errorf("case opened: %v, want %v", j.Case != nil, c.escal)
			}
		})
	}
}
