package conversations

import (
	"os"
	"strings"
	"testing"
)

// The README's table of step kinds is the one the loader and lint work
// from.
func TestREADMEStepReferenceIsTheTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := StepReference(); !strings.Contains(string(readme), want) {
		t.Errorf("README.md's table of step kinds is not the one in stepspec.go; put this in its place:\n%s", want)
	}
}

// A key belongs to the kinds whose table entry has it; elsewhere it is an
// error that says where it goes.
func TestMisplacedStepKeys(t *testing.T) {
	cases := []struct{ step, want string }{
		{`{wait: 1d, personalize: true}`, `personalize does not belong to a wait step (it goes with say, experiment)`},
		{`{escalate: help, validate: email}`, `validate does not belong to an escalate step (it goes with ask)`},
		{`{set_stage: purchase, whatsapp_template: {name: x}}`, `whatsapp_template does not belong to a set_stage step (it goes with say, ask, survey, experiment)`},
		{`{say: {pt-BR: "Oi", en: "Hi"}, buttons: [{label: {pt-BR: "a", en: "a"}, goto: x}], id: x}`, ``},
		{`{ask: {pt-BR: "Oi", en: "Hi"}, buttons: [{label: {pt-BR: "a", en: "a"}, goto: x}], save: a, id: x}`, `buttons does not belong to an ask step (it goes with say, experiment)`},
	}
	for _, tc := range cases {
		src := meaningBase + "  - id: x\n    triggers: [{command: x}]\n    steps:\n      - " + tc.step + "\n"
		_, probs := Load(map[string][]byte{"s.yaml": []byte(src)})
		got := probs.Error()
		if tc.want == "" {
			if strings.Contains(got, "does not belong") {
				t.Errorf("%s: %s", tc.step, got)
			}
			continue
		}
		if !strings.Contains(got, "s.yaml:14:") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: want %q at line 14 in:\n%s", tc.step, tc.want, got)
		}
	}
}
