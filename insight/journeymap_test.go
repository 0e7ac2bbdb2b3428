package insight

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"journeybot/conversations"
)

func shippedScripts(t *testing.T) *conversations.Scripts {
	t.Helper()
	s, _, err := conversations.LoadDir("../scripts")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The map of the shipped scripts, in Mermaid: a golden file, so a change to
// the scripts or to the drawing shows up in review.
func TestMapShippedScriptsMermaidGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMap(&b, "mermaid", BuildMap(shippedScripts(t), nil)); err != nil {
		t.Fatal(err)
	}
	golden(t, "journey.mmd", b.Bytes())
}

// Every stage, transition, flow, step and button of the shipped scripts is
// on the map.
func TestMapDrawsEverything(t *testing.T) {
	s := shippedScripts(t)
	m := BuildMap(s, nil)
	var b bytes.Buffer
	if err := WriteMap(&b, "mermaid", m); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, st := range s.Stages {
		if !strings.Contains(out, `(["`+st.ID) {
			t.Errorf("stage %s is not drawn", st.ID)
		}
	}
	stageEdges := 0
	for _, e := range m.Edges {
		if e.Kind == EdgeStage && strings.HasPrefix(e.From, "st") {
			stageEdges++
		}
	}
	want := 0
	for _, tr := range s.Transitions {
		want += max(len(tr.From), 1)
	}
	if stageEdges != want {
		t.Errorf("%d transition edges, want %d (one per from-stage of every transition)", stageEdges, want)
	}
	if len(m.Flows) != len(s.Flows) {
		t.Fatalf("%d flows drawn of %d", len(m.Flows), len(s.Flows))
	}
	buttons := 0
	for i, f := range s.Flows {
		if len(m.Flows[i].Steps) != len(f.Steps) {
			t.Errorf("flow %s: %d steps drawn of %d", f.ID, len(m.Flows[i].Steps), len(f.Steps))
		}
		for _, st := range f.Steps {
			buttons += len(st.Buttons)
		}
	}
	drawn := 0
	for _, e := range m.Edges {
		if strings.HasPrefix(e.Label, "button ") {
			drawn++
		}
	}
	// A value button no flow starts on goes on to the next step instead.
	if drawn == 0 || drawn > buttons {
		t.Errorf("%d button edges for %d buttons", drawn, buttons)
	}
}

// A small script whose every kind of edge is known.
func TestMapEdges(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "j.yaml", `
settings: {languages: [en], fallback: fb}
stages:
  - {id: new, initial: true}
  - {id: fan}
transitions:
  - {on: order.paid, from: [new], to: fan}
  - {after: 2d, since: order.paid, to: new}
flows:
  - id: fb
    steps:
      - say: {en: "?"}
  - id: ask
    triggers: [{intent: hi}, {event: order.paid}]
    steps:
      - id: q
        survey: nps
        text: {en: "Score?"}
        promoter: yay
        detractor: sorry
      - id: sorry
        say: {en: "Sorry"}
        buttons:
          - {label: {en: "Talk"}, flow: fb}
          - {label: {en: "Stop"}, command: stop}
          - {label: {en: "Again"}, goto: q}
        end: true
      - id: yay
        set_stage: fan
      - id: later
        wait: 1h
      - id: check
        branch:
          - {if: answers.nps >= 9, goto: yay}
        else: bye
      - id: bye
        goto: fb
intents:
  - {id: hi, keywords: [hi]}
`)
	s, probs, err := conversations.LoadDir(dir)
	if err != nil {
		t.Fatalf("%v %v", err, probs)
	}
	m := BuildMap(s, nil)
	got := map[string]bool{}
	for _, e := range m.Edges {
		got[e.From+" "+e.Kind+" "+e.Label+" "+e.To] = true
	}
	// f1 is the flow "ask": s0 q, s1 sorry, s2 yay, s3 later, s4 check, s5 bye.
	for _, want := range []string{
		"st0 stage on order.paid st1",
		"st_any stage 2d after order.paid st0",
		"f1_start next  f1_s0",
		"f1_s0 jump promoter f1_s2",
		"f1_s0 jump detractor f1_s1",
		"f1_s0 next  f1_s1", // a passive goes on to the next step
		"f1_s1 flow button “Talk” f0_start",
		"f1_s1 jump button “Stop” cmd_stop",
		"f1_s1 jump button “Again” f1_s0",
		"f1_s2 stage set stage st1",
		"f1_s2 next  f1_s3",
		"f1_s3 next wait 1h f1_s4",
		"f1_s4 jump if answers.nps >= 9 f1_s2",
		"f1_s4 jump else f1_s5",
		"f1_s5 flow goto f0_start",
	} {
		if !got[want] {
			t.Errorf("no edge %q; edges: %v", want, m.Edges)
		}
	}
	for e := range got {
		if strings.HasPrefix(e, "f1_s1 next") || strings.HasPrefix(e, "f1_s4 next") || strings.HasPrefix(e, "f1_s5 next") {
			t.Errorf("edge %q: the step does not go on by itself", e)
		}
	}
	var dot bytes.Buffer
	if err := WriteMap(&dot, "dot", m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dot.String(), "f1_s4 -> f1_s5 [label=\"else\"];") || !strings.HasPrefix(dot.String(), "digraph journey {") {
		t.Errorf("dot:\n%s", dot.String())
	}
}

// With a report, steps carry their counts and drop-off.
func TestMapReportOverlay(t *testing.T) {
	s := shippedScripts(t)
	r := &Report{}
	fl := s.Flows[0]
	drop := 0.25
	r.Flows = []Flow{{ID: fl.ID, Started: 8, Completed: 5, Abandoned: 2, Steps: []Step{{ID: fl.Steps[0].ID, Reached: 8, Abandoned: 2, DropOff: &drop}}}}
	r.Stages.List = []Stage{{ID: s.Stages[0].ID, Entered: 11, Now: 4}}
	var b bytes.Buffer
	if err := WriteMap(&b, "mermaid", BuildMap(s, r)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"reached 8 · drop-off 25%", "started 8 · completed 5 · abandoned 2", "entered 11 · now 4"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("map lacks %q", want)
		}
	}
}

func TestMapUnknownFormat(t *testing.T) {
	err := WriteMap(&bytes.Buffer{}, "png", &Map{})
	if err == nil || !strings.Contains(err.Error(), `"png"`) || !strings.Contains(err.Error(), "mermaid, dot, html") {
		t.Fatalf("err = %v", err)
	}
}

func writeScript(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// An experiment step: its variants and holdout in its box, each variant
// offer's on_expiry an edge into that flow.
func TestMapExperimentStep(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "j.yaml", `
settings: {languages: [en], fallback: fb}
stages:
  - {id: new, initial: true}
flows:
  - id: fb
    steps:
      - say: {en: "?"}
  - id: again
    steps:
      - say: {en: "Still there?"}
  - id: gift
    triggers: [{event: order.paid}]
    steps:
      - id: pick
        experiment: gift_test
        goal: order.paid
        window: 7d
        holdout: 10%
        variants:
          - name: ten
            offer: {code: TEN, expires: 7d, on_expiry: again}
            say: {en: "10% off: {{ coupon }}"}
          - name: plain
            say: {en: "Come back!"}
      - id: bye
        say: {en: "Bye"}
`)
	s, probs, err := conversations.LoadDir(dir)
	if err != nil {
		t.Fatalf("%v %v", err, probs)
	}
	m := BuildMap(s, nil)
	if got := m.Flows[2].Steps[0].Label; got != "pick · experiment gift_test: ten (TEN) | plain | holdout 10% → order.paid in 7d" {
		t.Errorf("label %q", got)
	}
	got := map[string]bool{}
	for _, e := range m.Edges {
		got[e.From+" "+e.Kind+" "+e.Label+" "+e.To] = true
	}
	for _, want := range []string{"f2_s0 flow ten: expired after 7d f1_start", "f2_s0 next  f2_s1"} {
		if !got[want] {
			t.Errorf("no edge %q: %v", want, m.Edges)
		}
	}
}
