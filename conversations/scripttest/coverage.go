package scripttest

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"

	"journeybot/conversations"
)

// Coverage is what the script tests exercised of the scripts: flows that
// ran, steps that ran, buttons pressed, branch arms taken (a branch's cases,
// its else or its fall-through; an experiment's variants and holdout; a
// survey's promoter, passive and detractor follow-ups), per file.
type Coverage struct {
	Files []*FileCoverage
	Total FileCoverage
}

// FileCoverage is one script file's coverage.
type FileCoverage struct {
	File                            string
	Flows, Steps, Buttons, Branches Count
	// Uncovered are the flows that never ran, and in the others the steps,
	// buttons and arms no test reached, as "FILE:LINE:COL: what".
	Uncovered []string
	uncovered []uncovered
}

type uncovered struct {
	pos  conversations.Pos
	what string
}

// Count is how many of Total were exercised.
type Count struct{ Hit, Total int }

func (c Count) String() string {
	if c.Total == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.1f%%)", c.Hit, c.Total, c.Percent())
}

// Percent is Hit of Total in percent (100 when there is nothing to cover).
func (c Count) Percent() float64 {
	if c.Total == 0 {
		return 100
	}
	return 100 * float64(c.Hit) / float64(c.Total)
}

func (c *Count) add(hit bool) {
	c.Total++
	if hit {
		c.Hit++
	}
}

// hits records what the engine reports while the tests run.
type hits struct {
	mu  sync.Mutex
	set map[conversations.Hit]bool
}

func (h *hits) record(x conversations.Hit) {
	h.mu.Lock()
	h.set[x] = true
	h.mu.Unlock()
}

// coverage measures s against what the tests hit.
func (h *hits) coverage(s *conversations.Scripts) *Coverage {
	h.mu.Lock()
	defer h.mu.Unlock()
	byFile := map[string]*FileCoverage{}
	file := func(p conversations.Pos) *FileCoverage {
		fc := byFile[p.File]
		if fc == nil {
			fc = &FileCoverage{File: p.File}
			byFile[p.File] = fc
		}
		return fc
	}
	for _, f := range s.Flows {
		fc := file(f.Pos)
		ran := false
		for _, st := range f.Steps {
			ran = ran || h.set[conversations.Hit{Flow: f.ID, Step: st.ID}]
		}
		fc.Flows.add(ran)
		if !ran {
			fc.uncovered = append(fc.uncovered, uncovered{f.Pos, fmt.Sprintf("flow %q never ran (%d steps)", f.ID, len(f.Steps))})
		}
		miss := func(p conversations.Pos, format string, a ...any) {
			if ran {
				fc.uncovered = append(fc.uncovered, uncovered{p, fmt.Sprintf(format, a...)})
			}
		}
		for _, st := range f.Steps {
			hit := h.set[conversations.Hit{Flow: f.ID, Step: st.ID}]
			fc.Steps.add(hit)
			if !hit {
				miss(st.Pos, "step %q of flow %q", st.ID, f.ID)
			}
			for _, b := range st.Buttons {
				hit := h.set[conversations.Hit{Flow: f.ID, Step: st.ID, Button: b.Key()}]
				fc.Buttons.add(hit)
				if !hit {
					miss(b.Pos, "button %q of step %q of flow %q never pressed", b.Key(), st.ID, f.ID)
				}
			}
			arm := func(p conversations.Pos, arm, what string) {
				hit := h.set[conversations.Hit{Flow: f.ID, Step: st.ID, Arm: arm}]
				fc.Branches.add(hit)
				if !hit {
					miss(p, "%s of step %q of flow %q never taken", what, st.ID, f.ID)
				}
			}
			switch st.Kind {
			case conversations.KindBranch:
				for n, c := range st.Branch {
					arm(c.Pos, strconv.Itoa(n), fmt.Sprintf("case %d (if %s)", n+1, c.If.Path))
				}
				if st.Else != "" {
					arm(st.Pos, "else", "else")
				} else {
					arm(st.Pos, "none", "the way past every case")
				}
			case conversations.KindExperiment, conversations.KindSay:
				// An experiment's arms: each variant, and its holdout.
				if e := st.Experiment; e != nil {
					for _, v := range e.Variants {
						arm(v.Pos, "v:"+v.Name, "variant "+v.Name)
					}
					if e.Holdout > 0 {
						arm(st.Pos, "v:"+conversations.HoldoutName, "the holdout")
					}
				}
			case conversations.KindSurvey:
				for _, cl := range []struct{ name, target string }{{"promoter", st.Promoter}, {"passive", st.Passive}, {"detractor", st.Detractor}} {
					if cl.target != "" {
						arm(st.Pos, cl.name, cl.name+" follow-up")
					}
				}
			}
		}
	}
	cov := &Coverage{}
	for _, fc := range byFile {
		sort.SliceStable(fc.uncovered, func(i, j int) bool {
			a, b := fc.uncovered[i].pos, fc.uncovered[j].pos
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		for _, u := range fc.uncovered {
			fc.Uncovered = append(fc.Uncovered, u.pos.String()+": "+u.what)
		}
		cov.Files = append(cov.Files, fc)
		for _, c := range []struct{ dst, src *Count }{{&cov.Total.Flows, &fc.Flows}, {&cov.Total.Steps, &fc.Steps}, {&cov.Total.Buttons, &fc.Buttons}, {&cov.Total.Branches, &fc.Branches}} {
			c.dst.Hit += c.src.Hit
			c.dst.Total += c.src.Total
		}
	}
	sort.Slice(cov.Files, func(i, j int) bool { return cov.Files[i].File < cov.Files[j].File })
	cov.Total.File = "total"
	return cov
}

// Print writes a table per file, then what no test reached.
func (c *Coverage) Print(w io.Writer) {
	fmt.Fprintln(w, "coverage by the script tests:")
	row := func(fc *FileCoverage) {
		fmt.Fprintf(w, "  %-32s flows %-15s steps %-17s buttons %-15s branches %s\n", fc.File, fc.Flows, fc.Steps, fc.Buttons, fc.Branches)
	}
	for _, fc := range c.Files {
		row(fc)
	}
	row(&c.Total)
	for _, fc := range c.Files {
		for _, u := range fc.Uncovered {
			fmt.Fprintf(w, "  uncovered %s\n", u)
		}
	}
}
