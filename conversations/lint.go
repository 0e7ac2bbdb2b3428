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

// maxIDLen keeps button payloads ("k:FLOW:STEP:BUTTON") within Telegram's 64
// bytes for short button ids; lint checks each button's whole payload.
const maxIDLen = 28

type linter struct {
	s       *Scripts
	probs   *Problems
	guards  map[string][]string // step id -> fields a branch checked before it
	guarded []string            // fields guarded for the step being checked
	started map[string]bool     // flows something starts (flowRef marks them)
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
		c.stageRef(at(t.ToPos, t.Pos), t.To, "to")
		for i, f := range t.From {
			c.stageRef(atIndex(t.FromPos, i, t.Pos), f, "from")
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
		for i, st := range f.Stages {
			c.stageRef(atIndex(f.StagesPos, i, f.Pos), st, "stages")
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
	c.events()
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

// KnownEvents are the event types the bot knows: the store's commerce
// events (POST /events) and the bot's own.
var KnownEvents = []string{
	"customer.created", "order.created", "order.paid", "order.shipped", "order.delivered",
	"order.cancelled", "order.refunded", "coupon.redeemed",
	"case.claimed", "case.resolved", "case.after_hours",
}

// eventType is what POST /events accepts as a type.
var eventType = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)

// events checks the event types the scripts wait for: a misspelt one
// (order.shiped) never fires, so a near miss of a known type gets a "did
// you mean", and a custom type the scripts name only once is listed (the
// store must send it, and a second spelling elsewhere would be a typo).
func (c *linter) events() {
	type use struct {
		typ   string
		pos   Pos
		field string
	}
	var uses []use
	for _, t := range c.s.Transitions {
		if t.On != "" {
			uses = append(uses, use{t.On, t.OnPos, "on"})
		}
		if t.Since != "" {
			uses = append(uses, use{t.Since, t.SincePos, "since"})
		}
	}
	for _, f := range c.s.Flows {
		for _, t := range f.Triggers {
			if t.Event != "" {
				uses = append(uses, use{t.Event, t.EventPos, "event"})
			}
			if t.Since != "" {
				uses = append(uses, use{t.Since, t.SincePos, "since"})
			}
		}
	}
	count := map[string]int{}
	for _, u := range uses {
		count[u.typ]++
	}
	known := append(slices.Clone(KnownEvents), c.s.Events...)
	for _, u := range uses {
		switch {
		case slices.Contains(known, u.typ):
		case !eventType.MatchString(u.typ):
			c.errorf(u.pos, "%s: event type %q can never arrive: types are lower-case words, digits and _ joined by dots (order.shipped)", u.field, u.typ)
		case suggest.Closest(u.typ, known, 2) != "":
			c.warnf(u.pos, "%s: event type %q is not one the bot knows (did you mean %q?)", u.field, u.typ, suggest.Closest(u.typ, known, 2))
		case count[u.typ] == 1:
			c.warnf(u.pos, "%s: custom event type %q is used nowhere else in the scripts: it fires only when the store sends it to POST /events; list it in settings.events if it does (known types: %s)", u.field, u.typ, strings.Join(known, ", "))
		}
	}
}

// at is p when it is known, else the enclosing place.
func at(p, enclosing Pos) Pos {
	if p.Line == 0 {
		return enclosing
	}
	return p
}

// atIndex is the place of the i-th value, else the enclosing place.
func atIndex(ps []Pos, i int, enclosing Pos) Pos {
	if i < len(ps) {
		return ps[i]
	}
	return enclosing
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
	for i, st := range f.Steps {
		// An offer stores the coupon: the step it leads to has it.
		if st.Kind == KindOffer && !st.End {
			next := st.Next
			if next == "" && i+1 < len(f.Steps) {
				next = f.Steps[i+1].ID
			}
			c.guards[next] = append(c.guards[next], "coupon")
			if st.Offer != nil && st.Offer.Expires > 0 {
				c.guards[next] = append(c.guards[next], "coupon_expires")
			}
		}
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
		for ch, t := range st.Templates {
			c.channelTemplate(st, ch, t)
		}
		keys := map[string]bool{}
		for _, b := range st.Buttons {
			c.button(f, st, b, keys)
			c.text(b.Label, "button label")
			stepRef(b.Pos, b.Goto, "goto")
			if b.Flow != "" {
				c.flowRef(b.Pos, b.Flow, "flow", started)
			}
		}
		c.started = started
		if k := kindSpec(st.Kind); k != nil && k.check != nil {
			k.check(c, f, st, stepRef)
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

// button checks a button's stable address: a press means the same button
// after others are added, removed or reordered, so two buttons of a step
// may not share one, and its data must fit Telegram's 64 bytes.
func (c *linter) button(f *Flow, st *Step, b *ButtonDef, keys map[string]bool) {
	if b.ID != "" {
		c.id(b.Pos, b.ID, "button")
	}
	k := b.Key()
	if k == "" {
		return
	}
	if keys[k] {
		c.errorf(b.Pos, "two buttons of this step lead to %q: give each an id: (a press is told apart by it)", k)
	}
	keys[k] = true
	if d := ButtonData(f.ID, st.ID, b); len(d) > 64 {
		c.errorf(b.Pos, "button data %q is %d bytes, over Telegram's 64: give the button a shorter id:", d, len(d))
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
	// In file order, so a warning both languages share is given once, at
	// the first; an error is given where its language's text is.
	langs := make([]string, 0, len(t.ByLang))
	for lang := range t.ByLang {
		langs = append(langs, lang)
	}
	slices.SortFunc(langs, func(a, b string) int {
		pa, pb := t.At(a), t.At(b)
		if pa.Line != pb.Line {
			return pa.Line - pb.Line
		}
		return pa.Col - pb.Col
	})
	warned := map[string]bool{}
	for _, lang := range langs {
		tpl := t.ByLang[lang]
		if tpl == nil {
			continue
		}
		for _, f := range tpl.unknownOrUnguarded() {
			if !KnownField(f.name) {
				c.errorf(t.At(lang), "%s: template uses unknown field %q%s", what, f.name, c.fieldHint(f.name))
			} else if !slices.Contains(alwaysFields, f.name) && !slices.Contains(c.guarded, f.name) && !c.isFact(f.name) {
				if !warned[f.name] {
					warned[f.name] = true
					c.warnf(t.At(lang), "%s: {{ %s }} may have no data; add | default \"...\" or wrap it in {{ if %s }}", what, f.name, f.name)
				}
			}
		}
	}
}

// fieldHint suggests the known field closest to an unknown one.
func (c *linter) fieldHint(f string) string {
	known := append(slices.Clone(alwaysFields), sometimesFields...)
	if k := suggest.Closest(f, known, 2); k != "" {
		return fmt.Sprintf(" (did you mean %q?)", k)
	}
	return ""
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
	return st.Kind == KindAsk || st.Kind == KindSurvey || st.Kind == KindWait || (st.Kind == KindSay || st.Kind == KindExperiment) && len(st.Buttons) > 0
}
