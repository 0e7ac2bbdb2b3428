package conversations

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// One table describes every step kind: the keys it takes (how the loader
// reads each), what lint checks of it, and its line of the README's
// reference (StepReference; a test keeps the README equal to it), the way
// Benthos derives a component's config docs and lint from one spec. A new
// step kind is an entry here and its case in the engine.

// stepField is a key of a step.
type stepField struct {
	key  string
	doc  string // for the reference; "" leaves it out of the fields column
	read func(l *loader, st *Step, n *yaml.Node)
}

// stepKind is a kind of step: fields[0] is its own key (say: ..., wait: ...).
type stepKind struct {
	kind   string
	doc    string // what it does
	fields []stepField
	// check lints a step of this kind; ref checks a step id of the flow.
	check func(c *linter, f *Flow, st *Step, ref func(p Pos, id, field string))
}

// Fields any step may have.
var commonStepFields = []stepField{
	{"id", "", func(l *loader, st *Step, n *yaml.Node) { st.ID = l.str(n, "id") }},
	{"next", "", func(l *loader, st *Step, n *yaml.Node) { st.Next = l.str(n, "next") }},
	{"end", "", readEnd},
}

func readEnd(l *loader, st *Step, n *yaml.Node) {
	if !l.boolean(n, "end") {
		l.errorf(n, "end: false means nothing; remove it")
	}
	st.End = true
}

// Fields several kinds share.
var (
	fieldSave    = stepField{"save", "`save: FIELD`", func(l *loader, st *Step, n *yaml.Node) { st.Save = l.str(n, "save") }}
	fieldText    = stepField{"text", "`text`", func(l *loader, st *Step, n *yaml.Node) { st.Ask = l.text(n, "text") }}
	fieldRetry   = stepField{"retry", "`retry` (a text)", func(l *loader, st *Step, n *yaml.Node) { st.Retry = l.text(n, "retry") }}
	fieldButtons = stepField{"buttons", "`buttons`", func(l *loader, st *Step, n *yaml.Node) {
		for _, bn := range l.seq(n, "buttons") {
			st.Buttons = append(st.Buttons, l.button(bn))
		}
	}}
	fieldPersonalize = stepField{"personalize", "`personalize: true`", func(l *loader, st *Step, n *yaml.Node) { st.Personalize = l.boolean(n, "personalize") }}
	fieldStyle       = stepField{"style", "`style`", func(l *loader, st *Step, n *yaml.Node) { st.Style = l.str(n, "style") }}
	fieldTemplate    = stepField{"whatsapp_template", "`whatsapp_template`", func(l *loader, st *Step, n *yaml.Node) {
		if st.Templates == nil {
			st.Templates = map[string]*ChannelTemplate{}
		}
		st.Templates["whatsapp"] = l.channelTemplate(n, "whatsapp_template")
	}}
)

var stepKindSpecs = []stepKind{
	{
		kind: KindSay,
		doc:  "sends a message. Variants are picked at random (deterministic per customer and message) or, with `ab`, as an experiment named `FLOW.STEP` (variants `A`, `B`, `C`..., sticky per customer). With buttons the flow waits for a press; a typed label counts as the press",
		fields: []stepField{
			{"say", "a text, or a list of texts (variants)", func(l *loader, st *Step, n *yaml.Node) {
				if n.Kind == yaml.SequenceNode {
					for _, vn := range n.Content {
						st.Say = append(st.Say, l.text(vn, "say"))
					}
				} else {
					st.Say = []*Text{l.text(n, "say")}
				}
			}},
			{"pick", "`pick: random\\|ab`", func(l *loader, st *Step, n *yaml.Node) {
				st.Pick = l.str(n, "pick")
				if st.Pick != "random" && st.Pick != "ab" {
					l.errorf(n, "pick must be random or ab")
				}
			}},
			fieldButtons,
			{"goal", "with `ab`: `goal` and `window` (see [Experiments](#experiments))", func(l *loader, st *Step, n *yaml.Node) { st.GoalSrc = l.goal(n) }},
			{"window", "", func(l *loader, st *Step, n *yaml.Node) { st.WindowSrc = l.duration(n, "window") }},
			{fieldSave.key, "`save: FIELD` (a pressed button's value)", fieldSave.read},
			fieldPersonalize,
			fieldStyle,
			fieldTemplate,
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			if len(st.Say) == 0 {
				c.errorf(st.Pos, "say needs a text")
			}
			for _, t := range st.Say {
				c.text(t, "say")
			}
			c.abExperiment(f, st)
		},
	},
	{
		kind: KindAsk,
		doc:  "asks and captures the answer: `name` goes to the profile; `email`, `phone` and `profile.X` to profile fields (a typed e-mail or phone is shown in `{{ email }}` but never unlocks orders: only the store's contacts, or one proven with `/pedido`, do); anything else to `answers.X`. A bad answer is asked again; a different request (an intent) leaves the question",
		fields: []stepField{
			{"ask", "text", func(l *loader, st *Step, n *yaml.Node) { st.Ask = l.text(n, "ask") }},
			fieldSave,
			{"validate", "`validate: email\\|phone\\|number\\|order\\|text\\|{type: choice, choices: [...]}\\|{type: regex, pattern: ...}\\|{type: number, min, max}`", func(l *loader, st *Step, n *yaml.Node) { st.Validate = l.validation(n) }},
			fieldRetry,
			{"max_retries", "`max_retries` (2)", func(l *loader, st *Step, n *yaml.Node) { st.MaxRetries = l.integer(n, "max_retries") }},
			{"on_fail", "`on_fail: STEP`", func(l *loader, st *Step, n *yaml.Node) { st.OnFail = l.str(n, "on_fail") }},
			fieldTemplate,
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			c.text(st.Ask, "ask")
			if st.Save == "" {
				c.errorf(st.Pos, "an ask step needs save: FIELD (where the answer goes, e.g. email or profile.size)")
			}
			if st.Retry != nil {
				c.text(st.Retry, "retry")
			}
			ref(st.Pos, st.OnFail, "on_fail")
		},
	},
	{
		kind: KindSurvey,
		doc:  "asks with score buttons; stores `answers.nps` and when; follows up by class (NPS 9-10 / 7-8 / 0-6; CSAT 4-5 / 3 / 1-2)",
		fields: []stepField{
			{"survey", "`nps` (0-10) or `csat` (1-5)", func(l *loader, st *Step, n *yaml.Node) {
				st.Survey = l.str(n, "survey")
				if st.Survey != "nps" && st.Survey != "csat" {
					l.errorf(n, "survey must be nps (0-10) or csat (1-5)")
				}
			}},
			fieldText,
			{fieldSave.key, "`save` (default: the kind)", fieldSave.read},
			fieldRetry,
			{"promoter", "`promoter`, `passive`, `detractor: STEP`", func(l *loader, st *Step, n *yaml.Node) { st.Promoter = l.str(n, "promoter") }},
			{"passive", "", func(l *loader, st *Step, n *yaml.Node) { st.Passive = l.str(n, "passive") }},
			{"detractor", "", func(l *loader, st *Step, n *yaml.Node) { st.Detractor = l.str(n, "detractor") }},
			fieldTemplate,
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			if st.Ask == nil {
				c.errorf(st.Pos, "a survey step needs text: the question")
			} else {
				c.text(st.Ask, "text")
			}
			if st.Retry != nil {
				c.text(st.Retry, "retry")
			}
			ref(st.Pos, st.Promoter, "promoter")
			ref(st.Pos, st.Passive, "passive")
			ref(st.Pos, st.Detractor, "detractor")
		},
	},
	{
		kind: KindBranch,
		doc:  "the first true condition wins; without else, falls through",
		fields: []stepField{
			{"branch", "list of `{if: CONDITION, goto: STEP}`", func(l *loader, st *Step, n *yaml.Node) {
				for _, cn := range l.seq(n, "branch") {
					st.Branch = append(st.Branch, l.branchCase(cn))
				}
			}},
			{"else", "`else: STEP`", func(l *loader, st *Step, n *yaml.Node) { st.Else = l.str(n, "else") }},
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			for _, cs := range st.Branch {
				ref(cs.Pos, cs.Goto, "goto")
				c.cond(cs.If)
			}
			ref(st.Pos, st.Else, "else")
		},
	},
	{
		kind: KindSetStage,
		doc:  "moves the customer; waiting steps of the old stage are cancelled",
		fields: []stepField{
			{"set_stage", "stage id", func(l *loader, st *Step, n *yaml.Node) {
				st.SetStage, st.SetStagePos = l.str(n, "set_stage"), l.pos(n)
			}},
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			c.stageRef(at(st.SetStagePos, st.Pos), st.SetStage, "set_stage")
		},
	},
	{
		kind: KindWait,
		doc:  "the flow continues after that time (a proactive message)",
		fields: []stepField{
			{"wait", "duration (`90s`, `30m`, `4h`, `3d`, `2w`)", func(l *loader, st *Step, n *yaml.Node) { st.Wait = l.duration(n, "wait") }},
			{"unless", "`unless: CONDITION`", func(l *loader, st *Step, n *yaml.Node) { st.Unless = l.cond(n) }},
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) { c.cond(st.Unless) },
	},
	{
		kind: KindEscalate,
		doc:  "opens a support case in Slack (one at a time); nudges stop",
		fields: []stepField{
			{"escalate", "reason", func(l *loader, st *Step, n *yaml.Node) { st.Escalate = l.str(n, "escalate") }},
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			if st.Escalate == "" {
				c.errorf(st.Pos, "escalate needs a reason")
			}
		},
	},
	{
		kind: KindOffer,
		doc:  "stores `coupon` and `coupon_expires` for the texts; the coupon is removed when it expires or is redeemed",
		fields: []stepField{
			{"offer", "`{code, expires, on_expiry: FLOW}`", func(l *loader, st *Step, n *yaml.Node) { st.Offer = l.offer(n) }},
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			if st.Offer != nil && st.Offer.OnExpiry != "" {
				c.flowRef(st.Offer.Pos, st.Offer.OnExpiry, "on_expiry", c.started)
			}
		},
	},
	{
		kind: KindExperiment,
		doc:  "sends the customer's variant of the experiment (its text and/or offer; a text with the step's buttons waits for a press); a customer in the holdout gets nothing more from the flow. See [Experiments](#experiments)",
		fields: []stepField{
			{"experiment", "id", func(l *loader, st *Step, n *yaml.Node) {
				e := stepExperiment(st)
				e.ID, e.Pos = l.str(n, "experiment"), l.pos(n)
			}},
			{"variants", "`variants: [{name, say, offer, share}]`", func(l *loader, st *Step, n *yaml.Node) {
				e := stepExperiment(st)
				for _, vn := range l.seq(n, "variants") {
					e.Variants = append(e.Variants, l.variant(vn))
				}
			}},
			{"goal", "`goal: EVENT\\|stage.ID\\|SURVEY>=N`", func(l *loader, st *Step, n *yaml.Node) { stepExperiment(st).Goal = l.goal(n) }},
			{"window", "`window` (7d)", func(l *loader, st *Step, n *yaml.Node) { stepExperiment(st).Window = l.duration(n, "window") }},
			{"holdout", "`holdout` (a share: `10%` or `0.1`)", func(l *loader, st *Step, n *yaml.Node) {
				e := stepExperiment(st)
				e.Holdout, e.HoldoutPos = l.share(n, "holdout"), l.pos(n)
			}},
			fieldButtons,
			fieldPersonalize,
			fieldStyle,
			fieldTemplate,
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) { c.experiment(f, st) },
	},
	{
		kind: KindGoto,
		doc:  "jumps to another flow",
		fields: []stepField{
			{"goto", "flow id", func(l *loader, st *Step, n *yaml.Node) { st.Goto = l.str(n, "goto") }},
		},
		check: func(c *linter, f *Flow, st *Step, ref func(Pos, string, string)) {
			c.flowRef(st.Pos, st.Goto, "goto", c.started)
		},
	},
	{
		kind:   KindEnd,
		doc:    "ends the flow",
		fields: []stepField{{"end", "`true`", readEnd}},
	},
}

// stepExperiment is the experiment an experiment step's fields fill in.
func stepExperiment(st *Step) *Experiment {
	if st.Experiment == nil {
		st.Experiment = &Experiment{Pos: st.Pos}
	}
	return st.Experiment
}

// stepKinds are the kinds, in the table's order.
var stepKinds = func() []string {
	var out []string
	for _, k := range stepKindSpecs {
		out = append(out, k.kind)
	}
	return out
}()

// stepKeys are every key a step may have, common ones first.
var stepKeys = func() []string {
	var out []string
	for _, f := range commonStepFields {
		out = append(out, f.key)
	}
	for _, k := range stepKindSpecs {
		for _, f := range k.fields {
			if !slices.Contains(out, f.key) {
				out = append(out, f.key)
			}
		}
	}
	return out
}()

func kindSpec(kind string) *stepKind {
	for i := range stepKindSpecs {
		if stepKindSpecs[i].kind == kind {
			return &stepKindSpecs[i]
		}
	}
	return nil
}

// fieldOf finds how to read key: the kind's own field, else a common one,
// else any kind's (the step's kind is unknown or the key is misplaced).
func fieldOf(kind *stepKind, key string) *stepField {
	if kind != nil {
		for i := range kind.fields {
			if kind.fields[i].key == key {
				return &kind.fields[i]
			}
		}
	}
	for i := range commonStepFields {
		if commonStepFields[i].key == key {
			return &commonStepFields[i]
		}
	}
	for _, k := range stepKindSpecs {
		for i := range k.fields {
			if k.fields[i].key == key {
				return &k.fields[i]
			}
		}
	}
	return nil
}

// kindsWith lists the kinds that take key.
func kindsWith(key string) []string {
	var out []string
	for _, k := range stepKindSpecs {
		if slices.ContainsFunc(k.fields, func(f stepField) bool { return f.key == key }) {
			out = append(out, k.kind)
		}
	}
	return out
}

// StepReference is the README's table of step kinds.
func StepReference() string {
	var b strings.Builder
	b.WriteString("| kind | fields | what it does |\n|---|---|---|\n")
	for _, k := range stepKindSpecs {
		var docs []string
		for _, f := range k.fields {
			if f.doc != "" {
				docs = append(docs, f.doc)
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.kind, strings.Join(docs, "; "), k.doc)
	}
	return b.String()
}
