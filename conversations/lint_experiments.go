package conversations

import (
	"fmt"
	"slices"
	"strings"

	"journeybot/internal/suggest"
)

// experiment checks an experiment step and registers its experiment.
func (c *linter) experiment(f *Flow, st *Step) {
	e := st.Experiment
	if e == nil || e.ID == "" {
		c.errorf(st.Pos, "an experiment step needs experiment: ID (the name its results go by)")
		return
	}
	c.id(e.Pos, e.ID, "experiment")
	e.Flow, e.Step = f.ID, st.ID
	if e.Window == 0 {
		e.Window = DefaultWindow
	}
	if e.Goal == nil {
		c.errorf(st.Pos, "experiment %q needs a goal: an event type (order.paid, coupon.redeemed), stage.ID or a survey score (nps>=9)", e.ID)
	} else {
		c.goal(e.Goal)
	}
	if e.Holdout < 0 || e.Holdout >= 1 {
		c.errorf(at(e.HoldoutPos, st.Pos), "holdout must be a share from 0 up to (not including) 100%%, e.g. 10%%")
	}
	names := map[string]bool{}
	for i, v := range e.Variants {
		what := fmt.Sprintf("variant %q", v.Name)
		switch {
		case v.Name == "":
			c.errorf(v.Pos, "variant %d of experiment %q needs a name", i+1, e.ID)
			what = fmt.Sprintf("variant %d", i+1)
		case v.Name == HoldoutName:
			c.errorf(v.Pos, "variant name %q is the holdout's: give the variant another name, and the holdout share with holdout:", v.Name)
		case names[v.Name]:
			c.errorf(v.Pos, "duplicate variant name %q in experiment %q", v.Name, e.ID)
		case strings.ContainsAny(v.Name, ": \t"):
			c.errorf(v.Pos, "variant name %q may not contain spaces or ':'", v.Name)
		}
		names[v.Name] = true
		if v.Share <= 0 {
			c.errorf(v.Pos, "%s: share must be more than 0 (a relative weight, default 1)", what)
		}
		if v.Say == nil && v.Offer == nil {
			c.errorf(v.Pos, "%s needs say (a text), offer, or both", what)
		}
		guarded := c.guarded
		if v.Offer != nil { // the variant's own offer gives its text the coupon
			c.guarded = append(slices.Clone(guarded), "coupon")
			if v.Offer.Expires > 0 {
				c.guarded = append(c.guarded, "coupon_expires")
			}
		}
		c.text(v.Say, what+" say")
		c.guarded = guarded
		if v.Offer != nil && v.Offer.OnExpiry != "" {
			c.flowRef(v.Offer.Pos, v.Offer.OnExpiry, "on_expiry", c.started)
		}
	}
	arms := len(e.Variants)
	if e.Holdout > 0 {
		arms++
	}
	if arms < 2 {
		c.errorf(st.Pos, "experiment %q compares nothing: give it two variants or more, or one and a holdout", e.ID)
	}
	if e.Holdout > 0 {
		for _, prev := range f.Steps[:f.Step(st.ID)] {
			if prev.Kind == KindSay || prev.Kind == KindAsk || prev.Kind == KindSurvey {
				c.warnf(st.Pos, "experiment %q holds customers out at this step, but step %q before it already sends them something: put the experiment first so the holdout gets nothing from flow %q", e.ID, prev.ID, f.ID)
				break
			}
		}
	}
	c.addExperiment(e)
}

// abExperiment makes a pick: ab step's experiment: FLOW.STEP with one
// variant per text (A, B, C...), and its goal when it gives one.
func (c *linter) abExperiment(f *Flow, st *Step) {
	if st.Pick != "ab" {
		if st.GoalSrc != nil || st.WindowSrc != 0 {
			c.errorf(st.Pos, "goal and window go with pick: ab (or an experiment step)")
		}
		return
	}
	if len(st.Say) < 2 {
		c.errorf(st.Pos, "pick: ab needs two texts or more (a list under say)")
	}
	e := &Experiment{Pos: st.Pos, ID: f.ID + "." + st.ID, Flow: f.ID, Step: st.ID, Goal: st.GoalSrc, Window: st.WindowSrc}
	if e.Window == 0 {
		e.Window = DefaultWindow
	}
	for i, t := range st.Say {
		e.Variants = append(e.Variants, &Variant{Pos: t.Pos, Name: string(rune('A' + i)), Share: 1, Say: t})
	}
	if e.Goal != nil {
		c.goal(e.Goal)
	}
	st.Experiment = e
	c.addExperiment(e)
}

func (c *linter) addExperiment(e *Experiment) {
	if prev := c.s.Experiment(e.ID); prev != nil {
		c.errorf(e.Pos, "duplicate experiment id %q (also at %s): results would mix", e.ID, prev.Pos)
		return
	}
	c.s.Experiments = append(c.s.Experiments, e)
}

// goal checks that an experiment's goal can happen: a known event type, a
// stage that exists, a survey the scripts ask with a score in its range.
func (c *linter) goal(g *Goal) {
	switch {
	case g.Stage != "":
		c.stageRef(g.Pos, g.Stage, "goal")
	case g.Survey != "":
		kind := c.surveyKind(g.Survey)
		if kind == "" {
			c.errorf(g.Pos, "goal %q: no survey step saves %q%s", g.Raw, g.Survey, c.suggest(g.Survey, c.surveyNames()))
			return
		}
		lo, hi := 0, 10
		if kind == "csat" {
			lo, hi = 1, 5
		}
		if g.Score < lo || g.Score > hi {
			c.errorf(g.Pos, "goal %q: %s scores go from %d to %d", g.Raw, kind, lo, hi)
		}
	case g.Event != "":
		known := append(slices.Clone(KnownEvents), c.s.Events...)
		switch {
		case slices.Contains(known, g.Event):
		case !eventType.MatchString(g.Event):
			c.errorf(g.Pos, "goal %q is not an event type (order.paid), stage.ID or a survey score (nps>=9)", g.Raw)
		default:
			hint := ""
			if near := suggest.Closest(g.Event, known, 2); near != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", near)
			}
			c.errorf(g.Pos, "goal: event type %q is not one the bot knows%s; a store's own type must be listed in settings.events", g.Event, hint)
		}
	}
}

// surveyKind is the kind (nps, csat) of the survey steps saving name, or "".
func (c *linter) surveyKind(name string) string {
	for _, f := range c.s.Flows {
		for _, st := range f.Steps {
			if st.Kind == KindSurvey && surveyName(st) == name {
				return st.Survey
			}
		}
	}
	return ""
}

func (c *linter) surveyNames() []string {
	var out []string
	for _, f := range c.s.Flows {
		for _, st := range f.Steps {
			if st.Kind == KindSurvey {
				out = append(out, surveyName(st))
			}
		}
	}
	return out
}

// surveyName is the answer name a survey step saves its score under.
func surveyName(st *Step) string {
	if st.Save != "" {
		return strings.TrimPrefix(st.Save, "answers.")
	}
	return st.Survey
}
