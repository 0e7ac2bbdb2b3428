package conversations

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"journeybot/internal/suggest"
)

// Fields every template and condition may use. "Sometimes" fields may have
// no data (a customer without orders); lint warns when they are used without
// a default or an {{ if }}.
var alwaysFields = []string{"stage", "language", "points", "orders.count", "total_spent", "misses", "variant", "today"}
var sometimesFields = []string{
	"name", "first_name", "email", "phone", "username", "coupon", "coupon_expires", "answer",
	"order.id", "order.status", "order.status_label", "order.next_step", "order.items", "order.total",
	"order.tracking_url", "order.date", "order_ref", "last_contact", "recommendation", "case.reason", "staff",
	"staff.available",
}

// dynamicPrefixes are families of fields filled by the scripts themselves
// (ask/survey steps save into answers.*, profile.*).
var dynamicPrefixes = []string{"answers.", "profile.", "facts."}

// KnownField reports whether templates and conditions may use f.
func KnownField(f string) bool {
	if slices.Contains(alwaysFields, f) || slices.Contains(sometimesFields, f) {
		return true
	}
	for _, p := range dynamicPrefixes {
		if strings.HasPrefix(f, p) && len(f) > len(p) {
			return true
		}
	}
	return false
}

// maxIDLen keeps button payloads ("b:FLOW:STEP:N") within Telegram's 64 bytes.
const maxIDLen = 28

type linter struct {
	s       *Scripts
	probs   *Problems
	guards  map[string][]string // step id -> fields a branch checked before it
	guarded []string            // fields guarded for the step being checked
}

func (c *linter) errorf(p Pos, format string, a ...any) {
	e := Problem{Pos: p, Msg: fmt.Sprintf(format, a...)}
	if !slices.Contains(*c.probs, e) {
		*c.probs = append(*c.probs, e)
	}
}

func (c *linter) warnf(p Pos, format string, a ...any) {
	w := Problem{Pos: p, Msg: fmt.Sprintf(format, a...), Warning: true}
	if !slices.Contains(*c.probs, w) { // the same finding in two languages
		*c.probs = append(*c.probs, w)
	}
}

// lint checks the loaded scripts as a whole and builds their indexes.
func lint(s *Scripts, settings Pos, probs *Problems) {
	c := &linter{s: s, probs: probs}
	if settings.File == "" && len(s.Files) > 0 {
		settings = Pos{File: s.Files[0], Line: 1, Col: 1}
	}
	s.stages = map[string]*Stage{}
	for _, st := range s.Stages {
		c.id(st.Pos, st.ID, "stage")
		if _, dup := s.stages[st.ID]; dup {
			c.errorf(st.Pos, "duplicate stage id %q", st.ID)
		}
		s.stages[st.ID] = st
		if st.Initial {
			if s.initial != "" {
				c.errorf(st.Pos, "stages %q and %q are both initial; only one may be", s.initial, st.ID)
			}
			s.initial = st.ID
		}
	}
	if len(s.Stages) == 0 {
		c.errorf(settings, "no stages: define the journey's stages (one with initial: true)")
	} else if s.initial == "" {
		c.errorf(s.Stages[0].Pos, "no stage has initial: true (the stage of a new customer)")
	}
	for _, t := range s.Transitions {
		c.stageRef(t.Pos, t.To, "to")
		for _, f := range t.From {
			c.stageRef(t.Pos, f, "from")
		}
		switch {
		case t.On != "" && (t.After != 0 || t.Since != ""):
			c.errorf(t.Pos, "a transition has either on: EVENT, or after: DURATION with since: EVENT, not both")
		case t.On == "" && (t.After == 0 || t.Since == ""):
			c.errorf(t.Pos, "a transition needs on: EVENT, or after: DURATION with since: EVENT")
		}
	}
	intents := map[string]bool{}
	// Two intents with the same keyword: a text with it reaches only the
	// first (or whichever other words decide), which is rarely what was meant.
	type owner struct {
		intent string
		k      *Keyword
	}
	shared := map[string]owner{}
	for _, in := range s.Intents {
		for _, k := range in.Keywords {
			o, dup := shared[k.key()]
			switch {
			case !dup:
				shared[k.key()] = owner{in.ID, k}
			case o.intent != in.ID:
				c.warnf(k.Pos, "keyword %q of intent %q is also a keyword of intent %q (%s): a text with it reaches %q unless other words decide", k.Text, in.ID, o.intent, o.k.Pos, o.intent)
			}
		}
	}
	for _, in := range s.Intents {
		c.id(in.Pos, in.ID, "intent")
		if intents[in.ID] {
			c.errorf(in.Pos, "duplicate intent id %q", in.ID)
		}
		intents[in.ID] = true
		if len(in.Keywords) == 0 && len(in.Patterns) == 0 {
			c.errorf(in.Pos, "intent %q has no keywords or patterns", in.ID)
		}
	}
	s.flows = map[string]*Flow{}
	for _, f := range s.Flows {
		c.id(f.Pos, f.ID, "flow")
		if _, dup := s.flows[f.ID]; dup {
			c.errorf(f.Pos, "duplicate flow id %q", f.ID)
		}
		s.flows[f.ID] = f
	}
	if s.Fallback == "" {
		c.errorf(settings, "settings: fallback (the flow run when nothing matches) is required")
	} else if s.flows[s.Fallback] == nil {
		c.errorf(settings, "settings: fallback flow %q does not exist", s.Fallback)
	}
	started := map[string]bool{s.Fallback: true}
	for _, f := range s.Flows {
		for _, st := range f.Stages {
			c.stageRef(f.Pos, st, "stages")
		}
		for _, t := range f.Triggers {
			c.trigger(t, intents)
		}
		if len(f.Triggers) > 0 {
			started[f.ID] = true
		}
		c.flow(f, started)
	}
	for _, f := range s.Flows {
		if !started[f.ID] {
			c.warnf(f.Pos, "flow %q can never start: it has no triggers and no step or button leads to it", f.ID)
		}
	}
	for name, t := range s.Facts {
		c.text(t, "fact "+name)
	}
	for code, st := range s.Statuses {
		c.text(st.Label, "order status "+code+" label")
		c.text(st.Next, "order status "+code+" next")
	}
	skus := map[string]bool{}
	for _, p := range s.Catalog {
		if p.SKU == "" || p.Name == "" {
			c.errorf(p.Pos, "a catalog item needs sku and name")
		}
		if skus[p.SKU] {
			c.errorf(p.Pos, "duplicate catalog sku %q", p.SKU)
		}
		skus[p.SKU] = true
	}
	for _, p := range s.Catalog {
		for _, r := range p.Related {
			if !skus[r] {
				c.errorf(p.Pos, "related sku %q is not in the catalog", r)
			}
		}
	}
}

func (c *linter) id(p Pos, id, what string) {
	switch {
	case id == "":
		c.errorf(p, "%s needs an id", what)
	case len(id) > maxIDLen:
		c.errorf(p, "%s id %q is longer than %d characters (button data must fit 64 bytes)", what, id, maxIDLen)
	case strings.ContainsAny(id, ": \t"):
		c.errorf(p, "%s id %q may not contain spaces or ':'", what, id)
	}
}

func (c *linter) stageRef(p Pos, id, field string) {
	if id == "" {
		c.errorf(p, "%s: a stage id is required", field)
	} else if c.s.stages[id] == nil {
		c.errorf(p, "%s: stage %q does not exist%s", field, id, c.suggest(id, c.stageIDs()))
	}
}

func (c *linter) flowRef(p Pos, id, field string, started map[string]bool) {
	if c.s.flows[id] == nil {
		c.errorf(p, "%s: flow %q does not exist%s", field, id, c.suggest(id, c.flowIDs()))
		return
	}
	started[id] = true
}

func (c *linter) stageIDs() []string {
	var out []string
	for _, s := range c.s.Stages {
		out = append(out, s.ID)
	}
	return out
}

func (c *linter) flowIDs() []string {
	var out []string
	for _, f := range c.s.Flows {
		out = append(out, f.ID)
	}
	return out
}

func (c *linter) suggest(id string, known []string) string {
	for _, k := range known {
		if strings.Contains(k, id) || strings.Contains(id, k) || suggest.Distance(id, k) <= 2 {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}

func (c *linter) trigger(t *Trigger, intents map[string]bool) {
	kinds := btoi(t.Intent != "") + btoi(t.Command != "") + btoi(t.Button != "") + btoi(t.Event != "") + btoi(t.After != 0 || t.Since != "") + btoi(t.Inactive != 0)
	if kinds != 1 {
		c.errorf(t.Pos, "a trigger has exactly one of intent, command, button, event, after+since, inactive")
	}
	if t.Intent != "" && !intents[t.Intent] {
		var ids []string
		for _, in := range c.s.Intents {
			ids = append(ids, in.ID)
		}
		c.errorf(t.Pos, "intent %q does not exist%s", t.Intent, c.suggest(t.Intent, ids))
	}
	if (t.After != 0) != (t.Since != "") {
		c.errorf(t.Pos, "after and since go together: after: 3d, since: order.delivered")
	}
}

// flow checks the steps of f: ids, references, kinds, texts, reachability.
func (c *linter) flow(f *Flow, started map[string]bool) {
	f.steps = map[string]int{}
	if len(f.Steps) == 0 {
		c.errorf(f.Pos, "flow %q has no steps", f.ID)
	}
	for i, st := range f.Steps {
		if st.ID == "" {
			st.ID = strconv.Itoa(i + 1)
			if st.waits() {
				// Conversations and timers remember the step by id; a number
				// shifts when a step is inserted above it in a hot reload.
				c.warnf(st.Pos, "give this %s step an id: a customer waiting at it keeps their place across script changes only by id", st.Kind)
			}
		} else {
			c.id(st.Pos, st.ID, "step")
		}
		if _, dup := f.steps[st.ID]; dup {
			c.errorf(st.Pos, "duplicate step id %q in flow %q", st.ID, f.ID)
		}
		f.steps[st.ID] = i
	}
	stepRef := func(p Pos, id, field string) {
		if id != "" && f.Step(id) < 0 {
			var ids []string
			for _, s := range f.Steps {
				ids = append(ids, s.ID)
			}
			c.errorf(p, "%s: step %q does not exist in flow %q%s", field, id, f.ID, c.suggest(id, ids))
		}
	}
	// A step reached from a branch case "if: FIELD" may use FIELD freely.
	c.guards = map[string][]string{}
	for _, st := range f.Steps {
		for _, cs := range st.Branch {
			// "if: FIELD" guards FIELD; "if: order.status == shipped" also
			// proves there is an order.
			if cs.If != nil && (cs.If.Op == "" || cs.If.Op == "==" && strings.HasPrefix(cs.If.Path, "order.")) {
				c.guards[cs.Goto] = append(c.guards[cs.Goto], cs.If.Path)
				if strings.HasPrefix(cs.If.Path, "order.") {
					c.guards[cs.Goto] = append(c.guards[cs.Goto], orderFields...)
				}
			}
		}
	}
	for _, st := range f.Steps {
		c.guarded = c.guards[st.ID]
		stepRef(st.Pos, st.Next, "next")
		for _, t := range st.Say {
			c.text(t, "say")
		}
		for ch, t := range st.Templates {
			c.channelTemplate(st, ch, t)
		}
		if len(st.Buttons) > 0 && st.Kind != KindSay {
			c.errorf(st.Pos, "buttons belong to a say step, not to a %s step", st.Kind)
		}
		for _, b := range st.Buttons {
			c.text(b.Label, "button label")
			stepRef(b.Pos, b.Goto, "goto")
			if b.Flow != "" {
				c.flowRef(b.Pos, b.Flow, "flow", started)
			}
		}
		switch st.Kind {
		case KindAsk:
			c.text(st.Ask, "ask")
			if st.Save == "" {
				c.errorf(st.Pos, "an ask step needs save: FIELD (where the answer goes, e.g. email or profile.size)")
			}
			if st.Retry != nil {
				c.text(st.Retry, "retry")
			}
			stepRef(st.Pos, st.OnFail, "on_fail")
		case KindSurvey:
			if st.Ask == nil {
				c.errorf(st.Pos, "a survey step needs text: the question")
			} else {
				c.text(st.Ask, "text")
			}
			stepRef(st.Pos, st.Promoter, "promoter")
			stepRef(st.Pos, st.Passive, "passive")
			stepRef(st.Pos, st.Detractor, "detractor")
		case KindBranch:
			for _, cs := range st.Branch {
				stepRef(cs.Pos, cs.Goto, "goto")
				c.cond(cs.If)
			}
			stepRef(st.Pos, st.Else, "else")
		case KindSetStage:
			c.stageRef(st.Pos, st.SetStage, "set_stage")
		case KindWait:
			c.cond(st.Unless)
		case KindEscalate:
			if st.Escalate == "" {
				c.errorf(st.Pos, "escalate needs a reason")
			}
		case KindOffer:
			if st.Offer != nil && st.Offer.OnExpiry != "" {
				c.flowRef(st.Offer.Pos, st.Offer.OnExpiry, "on_expiry", started)
			}
		case KindGoto:
			c.flowRef(st.Pos, st.Goto, "goto", started)
		case KindSay:
			if len(st.Say) == 0 {
				c.errorf(st.Pos, "say needs a text")
			}
		}
		if st.Kind != KindSay && st.Personalize {
			c.errorf(st.Pos, "personalize applies to say steps only")
		}
	}
	// Reachability: walk from the first step along every edge.
	seen := make([]bool, len(f.Steps))
	var visit func(i int)
	visit = func(i int) {
		if i < 0 || i >= len(f.Steps) || seen[i] {
			return
		}
		seen[i] = true
		st := f.Steps[i]
		for _, id := range st.targets() {
			visit(f.Step(id))
		}
		if st.fallsThrough() {
			if st.Next != "" {
				visit(f.Step(st.Next))
			} else {
				visit(i + 1)
			}
		}
	}
	visit(0)
	for i, st := range f.Steps {
		if !seen[i] {
			c.errorf(st.Pos, "step %q in flow %q can never be reached (no step leads to it)", st.ID, f.ID)
		}
	}
}

// targets lists the steps a step may jump to besides falling through.
func (st *Step) targets() []string {
	var out []string
	for _, b := range st.Buttons {
		if b.Goto != "" {
			out = append(out, b.Goto)
		}
	}
	for _, cs := range st.Branch {
		out = append(out, cs.Goto)
	}
	return append(out, st.Else, st.OnFail, st.Promoter, st.Passive, st.Detractor)
}

// fallsThrough reports whether the step continues to its next step.
func (st *Step) fallsThrough() bool {
	if st.End {
		return false
	}
	switch st.Kind {
	case KindGoto, KindEnd:
		return false
	case KindBranch:
		return st.Else == ""
	}
	return true
}

func (c *linter) cond(cd *Cond) {
	if cd == nil || cd.Path == "" {
		return
	}
	if !KnownField(cd.Path) {
		c.errorf(cd.Pos, "condition uses unknown field %q", cd.Path)
	}
	if cd.Op != "" && cd.Op != "==" && cd.Op != "!=" && cd.Op != "contains" {
		if _, err := strconv.ParseFloat(cd.Value, 64); err != nil {
			c.errorf(cd.Pos, "%s compares numbers, but %q is not a number", cd.Op, cd.Value)
		}
	}
}

// Template names and language codes as Meta takes them.
var (
	templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLang = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
)

// channelTemplate checks a step's template for channel ch.
func (c *linter) channelTemplate(st *Step, ch string, t *ChannelTemplate) {
	what := ch + "_template"
	if st.Kind != KindSay && st.Kind != KindAsk && st.Kind != KindSurvey {
		c.errorf(t.Pos, "%s belongs to a step that sends a message (say, ask, survey), not to a %s step", what, st.Kind)
	}
	switch {
	case t.Name == "":
		c.errorf(t.Pos, "%s needs name: the template's name as approved in WhatsApp Manager", what)
	case !templateName.MatchString(t.Name):
		c.errorf(t.Pos, "%s name %q: template names are lower-case letters, digits and _", what, t.Name)
	}
	if t.Language != "" && !templateLang.MatchString(t.Language) {
		c.errorf(t.Pos, "%s language %q is not a template language code (pt_BR, en_US, en)", what, t.Language)
	}
	for _, p := range t.Params {
		if _, plain := p.ByLang["*"]; plain {
			c.fields(p, what+" param")
		} else {
			c.text(p, what+" param")
		}
	}
}

// text checks a per-language text: every language present, fields known,
// optional fields guarded.
func (c *linter) text(t *Text, what string) {
	if t == nil {
		return
	}
	if _, plain := t.ByLang["*"]; plain {
		if len(c.s.Languages) > 1 {
			c.errorf(t.Pos, "%s: give the text in every language (%s), e.g. pt-BR: ... and en: ...", what, strings.Join(c.s.Languages, ", "))
		}
	} else {
		for _, lang := range c.s.Languages {
			if _, ok := t.ByLang[lang]; !ok {
				c.errorf(t.Pos, "%s: text missing in language %s", what, lang)
			}
		}
		for lang := range t.ByLang {
			if !slices.Contains(c.s.Languages, lang) {
				c.errorf(t.Pos, "%s: language %q is not in settings.languages (%s)", what, lang, strings.Join(c.s.Languages, ", "))
			}
		}
	}
	c.fields(t, what)
}

// fields checks that a text's templates use known fields, guarding the
// optional ones.
func (c *linter) fields(t *Text, what string) {
	for _, tpl := range t.ByLang {
		if tpl == nil {
			continue
		}
		for _, f := range tpl.unknownOrUnguarded() {
			if !KnownField(f.name) {
				c.errorf(t.Pos, "%s: template uses unknown field %q", what, f.name)
			} else if !slices.Contains(alwaysFields, f.name) && !slices.Contains(c.guarded, f.name) && !c.isFact(f.name) {
				c.warnf(t.Pos, "%s: {{ %s }} may have no data; add | default \"...\" or wrap it in {{ if %s }}", what, f.name, f.name)
			}
		}
	}
}

// isFact reports whether f is a fact settings.facts gives (it always has data).
func (c *linter) isFact(f string) bool {
	k, ok := strings.CutPrefix(f, "facts.")
	return ok && c.s.Facts[k] != nil
}

// orderFields always have data when the conversation has an order.
var orderFields = []string{"order.id", "order.status", "order.status_label", "order.date"}

type fieldUse struct{ name string }

// unknownOrUnguarded lists fields used without a default and outside an
// {{ if }} on the same field; lint decides which of them matter.
func (t *Template) unknownOrUnguarded() []fieldUse {
	var out []fieldUse
	var walk func(ns []node, guarded []string)
	walk = func(ns []node, guarded []string) {
		for _, n := range ns {
			switch {
			case n.cond != "":
				if !KnownField(n.cond) {
					out = append(out, fieldUse{n.cond})
				}
				g := append(slices.Clone(guarded), n.cond)
				if n.cond == "order.id" {
					g = append(g, orderFields...)
				}
				walk(n.then, g)
				walk(n.els, guarded)
			case n.field != "":
				if !KnownField(n.field) || (!n.hasDef && !slices.Contains(guarded, n.field) && !(n.field == "first_name" && slices.Contains(guarded, "name"))) {
					out = append(out, fieldUse{n.field})
				}
			}
		}
	}
	walk(t.nodes, nil)
	return out
}

// waits reports whether a conversation can stop at this step (a question,
// buttons, a wait).
func (st *Step) waits() bool {
	return st.Kind == KindAsk || st.Kind == KindSurvey || st.Kind == KindWait || st.Kind == KindSay && len(st.Buttons) > 0
}
