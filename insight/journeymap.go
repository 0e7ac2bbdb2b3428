package insight

import (
	"fmt"
	"strings"
	"time"

	"journeybot/conversations"
)

// The journey map: a graph drawn exactly from the scripts. Stages are nodes
// joined by their transitions; every flow is a cluster of its steps, started
// by its triggers, with an edge for every way a step leads on (the next step,
// a branch arm, a button, a survey answer, an ask that failed, a wait, a goto
// to another flow, a stage change, an offer's expiry). With a Report, steps,
// flows, stages and transitions carry their counts.

// Map is the journey as a graph.
type Map struct {
	Stages []MapNode
	Flows  []MapFlow
	Edges  []MapEdge
}

// MapFlow is one flow: its start (its triggers) and its steps in order.
type MapFlow struct {
	ID    string
	Label string // the flow's id and the stages it runs in
	Note  string // its figures from a report, or ""
	Start MapNode
	Steps []MapNode
}

// MapNode is a stage, a flow's start or a step.
type MapNode struct {
	ID    string // safe in Mermaid and DOT: letters, digits, _
	Label string
	Note  string // figures from a report, or ""
	// DropOff is the step's drop-off from a report (nil without).
	DropOff *float64
}

// Edge kinds: how the map draws them.
const (
	EdgeNext  = "next"  // the flow goes on
	EdgeJump  = "jump"  // a button, branch arm, survey answer, failed ask
	EdgeFlow  = "flow"  // into another flow
	EdgeStage = "stage" // a stage change or a transition
)

// MapEdge is one way from a node to another.
type MapEdge struct {
	From, To string
	Label    string
	Kind     string
}

// BuildMap draws s; r (may be nil) overlays its figures.
func BuildMap(s *conversations.Scripts, r *Report) *Map {
	m := &Map{}
	stageID := map[string]string{}
	for i, st := range s.Stages {
		id := fmt.Sprintf("st%d", i)
		stageID[st.ID] = id
		n := MapNode{ID: id, Label: st.ID}
		if st.Initial {
			n.Label += " (initial)"
		}
		if r != nil {
			for _, x := range r.Stages.List {
				if x.ID == st.ID {
					n.Note = fmt.Sprintf("entered %d · now %d", x.Entered, x.Now)
				}
			}
		}
		m.Stages = append(m.Stages, n)
	}
	anyStage := ""
	for _, t := range s.Transitions {
		to, ok := stageID[t.To]
		if !ok {
			continue
		}
		label := "on " + t.On
		if t.On == "" {
			label = durationText(t.After) + " after " + t.Since
		}
		from := t.From
		if len(from) == 0 {
			if anyStage == "" {
				anyStage = "st_any"
				m.Stages = append(m.Stages, MapNode{ID: anyStage, Label: "any stage"})
			}
			from = []string{""}
		}
		for _, f := range from {
			fid := anyStage
			if f != "" {
				if fid, ok = stageID[f]; !ok {
					continue
				}
			}
			l := label
			if moved := funnelMoved(r, f, t.To); moved != "" {
				l += " · " + moved
			}
			m.Edges = append(m.Edges, MapEdge{From: fid, To: to, Label: l, Kind: EdgeStage})
		}
	}

	flowStart := map[string]string{}
	for i, f := range s.Flows {
		flowStart[f.ID] = fmt.Sprintf("f%d_start", i)
	}
	// Flows a button value starts (triggers: button: VALUE).
	byValue := map[string][]string{}
	for _, f := range s.Flows {
		for _, t := range f.Triggers {
			if t.Button != "" {
				byValue[t.Button] = append(byValue[t.Button], f.ID)
			}
		}
	}
	for i, f := range s.Flows {
		mf := MapFlow{ID: f.ID, Label: f.ID}
		if len(f.Stages) > 0 {
			mf.Label += " · in " + strings.Join(f.Stages, ", ")
		}
		var rf *Flow
		if r != nil {
			for k := range r.Flows {
				if r.Flows[k].ID == f.ID {
					rf = &r.Flows[k]
				}
			}
		}
		if rf != nil {
			mf.Note = fmt.Sprintf("started %d · completed %d · abandoned %d", rf.Started, rf.Completed, rf.Abandoned)
		}
		var trig []string
		for _, t := range f.Triggers {
			trig = append(trig, triggerText(t))
		}
		if len(trig) == 0 {
			trig = []string{"started from other flows"}
		}
		mf.Start = MapNode{ID: flowStart[f.ID], Label: strings.Join(trig, " | ")}
		stepID := func(j int) string { return fmt.Sprintf("f%d_s%d", i, j) }
		idOf := func(step string) (string, bool) {
			j := f.Step(step)
			if j < 0 {
				return "", false
			}
			return stepID(j), true
		}
		edge := func(from, to, label, kind string) {
			m.Edges = append(m.Edges, MapEdge{From: from, To: to, Label: label, Kind: kind})
		}
		jump := func(from, step, label string) {
			if to, ok := idOf(step); ok {
				edge(from, to, label, EdgeJump)
			}
		}
		toFlow := func(from, flow, label string) {
			if to, ok := flowStart[flow]; ok {
				edge(from, to, label, EdgeFlow)
			}
		}
		if len(f.Steps) > 0 {
			edge(mf.Start.ID, stepID(0), "", EdgeNext)
		}
		for j, st := range f.Steps {
			n := MapNode{ID: stepID(j), Label: st.ID + " · " + stepDetail(st)}
			if rf != nil {
				for _, x := range rf.Steps {
					if x.ID == st.ID {
						n.Note = fmt.Sprintf("reached %d · drop-off %s", x.Reached, pct(x.DropOff))
						n.DropOff = x.DropOff
					}
				}
			}
			mf.Steps = append(mf.Steps, n)
			from := n.ID
			// next is where the step goes on by itself ("" at the end).
			next := ""
			if !st.End {
				if st.Next != "" {
					next = st.Next
				} else if j+1 < len(f.Steps) {
					next = f.Steps[j+1].ID
				}
			}
			goesOn := true
			switch st.Kind {
			case conversations.KindBranch:
				for _, c := range st.Branch {
					jump(from, c.Goto, "if "+condText(c.If))
				}
				if st.Else != "" {
					jump(from, st.Else, "else")
					goesOn = false
				}
			case conversations.KindGoto:
				toFlow(from, st.Goto, "goto")
				goesOn = false
			case conversations.KindEnd:
				goesOn = false
			case conversations.KindSurvey:
				answered := 0
				for _, a := range []struct{ label, step string }{{"promoter", st.Promoter}, {"passive", st.Passive}, {"detractor", st.Detractor}} {
					if a.step != "" {
						jump(from, a.step, a.label)
						answered++
					}
				}
				goesOn = answered < 3
			case conversations.KindAsk:
				if st.OnFail != "" {
					jump(from, st.OnFail, "failed")
				}
			case conversations.KindSetStage:
				if to, ok := stageID[st.SetStage]; ok {
					edge(from, to, "set stage", EdgeStage)
				}
			case conversations.KindOffer:
				if st.Offer != nil && st.Offer.OnExpiry != "" {
					toFlow(from, st.Offer.OnExpiry, "expired after "+durationText(st.Offer.Expires))
				}
			case conversations.KindExperiment:
				// Every variant's offer may run a flow when it expires; the
				// holdout gets nothing more from the flow (said in the box).
				if e := st.Experiment; e != nil {
					for _, v := range e.Variants {
						if v.Offer != nil && v.Offer.OnExpiry != "" {
							toFlow(from, v.Offer.OnExpiry, v.Name+": expired after "+durationText(v.Offer.Expires))
						}
					}
				}
				fallthrough // buttons as a say's
			case conversations.KindSay:
				// A say with buttons waits for a press: each button leads
				// somewhere; only a value no flow is triggered by goes on.
				if len(st.Buttons) > 0 {
					goesOn = false
				}
				for _, b := range st.Buttons {
					label := "button " + buttonLabel(b, s.Languages)
					switch {
					case b.Goto != "":
						jump(from, b.Goto, label)
					case b.Flow != "":
						toFlow(from, b.Flow, label)
					case b.Command != "":
						m.Edges = append(m.Edges, MapEdge{From: from, To: "cmd_" + safeID(b.Command), Label: label, Kind: EdgeJump})
						m.addCommand(b.Command)
					case b.Value != "":
						if flows := byValue[b.Value]; len(flows) > 0 {
							for _, g := range flows {
								toFlow(from, g, label)
							}
						} else {
							goesOn = true
						}
					}
				}
			}
			if goesOn && next != "" {
				label := ""
				if st.Kind == conversations.KindWait {
					label = "wait " + durationText(st.Wait)
				}
				if to, ok := idOf(next); ok {
					edge(from, to, label, EdgeNext)
				}
			}
		}
		m.Flows = append(m.Flows, mf)
	}
	return m
}

// addCommand adds the node a command button leads to (/stop), once.
func (m *Map) addCommand(cmd string) {
	id := "cmd_" + safeID(cmd)
	for _, n := range m.Stages {
		if n.ID == id {
			return
		}
	}
	m.Stages = append(m.Stages, MapNode{ID: id, Label: "/" + cmd})
}

func funnelMoved(r *Report, from, to string) string {
	if r == nil || from == "" {
		return ""
	}
	for _, f := range r.Stages.Funnel {
		if f.From == from && f.To == to {
			return fmt.Sprintf("moved %d", f.Moved)
		}
	}
	return ""
}

func triggerText(t *conversations.Trigger) string {
	switch {
	case t.Intent != "":
		return "intent " + t.Intent
	case t.Command != "":
		return "/" + t.Command
	case t.Button != "":
		return "button " + t.Button
	case t.Event != "":
		return "event " + t.Event
	case t.Since != "":
		return durationText(t.After) + " after " + t.Since
	case t.Inactive > 0:
		return "inactive " + durationText(t.Inactive)
	}
	return "trigger"
}

func stepDetail(st *conversations.Step) string {
	switch st.Kind {
	case conversations.KindSay:
		if len(st.Say) > 1 {
			pick := st.Pick
			if pick == "" {
				pick = "random"
			}
			return fmt.Sprintf("say (%d variants, %s)", len(st.Say), pick)
		}
	case conversations.KindAsk:
		if st.Save != "" {
			return "ask → " + st.Save
		}
	case conversations.KindSurvey:
		return "survey " + st.Survey
	case conversations.KindSetStage:
		return "set stage " + st.SetStage
	case conversations.KindWait:
		return "wait " + durationText(st.Wait)
	case conversations.KindEscalate:
		if st.Escalate != "" {
			return "escalate: " + st.Escalate
		}
	case conversations.KindOffer:
		if st.Offer != nil {
			return "offer " + st.Offer.Code
		}
	case conversations.KindGoto:
		return "goto " + st.Goto
	case conversations.KindExperiment:
		if e := st.Experiment; e != nil {
			var arms []string
			for _, v := range e.Variants {
				arm := v.Name
				if v.Offer != nil {
					arm += " (" + v.Offer.Code + ")"
				}
				arms = append(arms, arm)
			}
			if e.Holdout > 0 {
				arms = append(arms, fmt.Sprintf("holdout %.0f%%", e.Holdout*100))
			}
			d := "experiment " + e.ID + ": " + strings.Join(arms, " | ")
			if e.Goal != nil {
				d += " → " + e.Goal.Raw + " in " + durationText(e.Window)
			}
			return d
		}
	}
	return st.Kind
}

func condText(c *conversations.Cond) string {
	if c == nil {
		return "?"
	}
	if c.Op == "" {
		return c.Path
	}
	return c.Path + " " + c.Op + " " + c.Value
}

func buttonLabel(b *conversations.ButtonDef, langs []string) string {
	if b.Label != nil {
		for _, l := range langs {
			if t, ok := b.Label.ByLang[l]; ok && t != nil {
				return "“" + t.Source + "”"
			}
		}
	}
	return b.Key()
}

// durationText writes 336h as 14d and 90m as 1h30m.
func durationText(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}

func safeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
