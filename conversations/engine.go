package conversations

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"journeybot/channels"
	"journeybot/journey"
)

// Options are the engine's rules for proactive messages.
type Options struct {
	Grace      time.Duration // timers later than this are dropped, not fired
	MaxPerDay  int           // proactive nudges per customer per day (0: none)
	MaxPerWeek int
	QuietStart time.Duration // quiet hours start (offset from midnight), e.g. 21h
	QuietEnd   time.Duration // and end, e.g. 9h
	TimeZone   *time.Location
	// MaxRetries is how often a question is asked again after a bad answer,
	// when the step does not say.
	MaxRetries int
	// Cover, when set, is told every step run, button pressed and branch
	// arm taken (journeybot test --coverage).
	Cover func(Hit)
	// NoStaff says no staff desk is connected (no Slack): the condition
	// staff.available is false, so scripts promise no reply nobody sends.
	NoStaff bool
}

// Hit is one thing the engine did, for coverage: a step of a flow ran, and
// with Button a button of it was pressed, or with Arm a branch took an arm
// (a case's index, "else", or "none" when it fell through; a survey's
// promoter, passive or detractor).
type Hit struct {
	Flow, Step  string
	Button, Arm string
}

func (x *run) cover(h Hit) {
	if x.e.opt.Cover != nil {
		x.e.opt.Cover(h)
	}
}

// DefaultOptions are the defaults of the configuration.
func DefaultOptions() Options {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		sp = time.FixedZone("BRT", -3*3600)
	}
	return Options{Grace: 12 * time.Hour, MaxPerDay: 2, MaxPerWeek: 5, QuietStart: 21 * time.Hour, QuietEnd: 9 * time.Hour, TimeZone: sp, MaxRetries: 2}
}

// Engine runs journeys through the current scripts. Scripts can be swapped
// at any time (hot reload); each Handle call sees one consistent set.
type Engine struct {
	scripts atomic.Pointer[Scripts]
	opt     Options
}

// NewEngine returns an engine running s.
func NewEngine(s *Scripts, opt Options) *Engine {
	if opt.TimeZone == nil {
		opt.TimeZone = DefaultOptions().TimeZone
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 2
	}
	e := &Engine{opt: opt}
	e.scripts.Store(s)
	return e
}

// Scripts returns the scripts in use.
func (e *Engine) Scripts() *Scripts { return e.scripts.Load() }

// Swap replaces the scripts atomically.
func (e *Engine) Swap(s *Scripts) { e.scripts.Store(s) }

// InputKind says what happened.
type InputKind int

const (
	InText InputKind = iota
	InButton
	InCommand
	InEvent
	InTick  // time passed: fire due timers
	InMedia // a photo, sticker...: not text
)

// Input is what the engine reacts to.
type Input struct {
	Kind    InputKind
	Text    string
	Data    string // button payload
	Command string
	Args    string
	Event   *journey.Event
	// Order is an order found by a lookup service before handling, merged in first.
	Order *journey.Order
	// Intent is an intent chosen before handling (a language model's pick
	// among the scripts' intents) for a text no keyword matches. It counts
	// only when the scripts themselves match nothing: keywords come first.
	Intent string
}

// Message is one message to send to the customer.
type Message struct {
	Text        string
	Buttons     []channels.Button
	Personalize bool
	Style       string
	// Flow is the flow that sent it (for counting templates per flow).
	Flow string
	// Templates replace the message on a channel whose service window is
	// closed, by channel name; rendered for this customer.
	Templates map[string]channels.Template
}

// Result is what handling an input produced.
type Result struct {
	Messages  []Message
	Proactive bool
	// Escalated is the reason of a case opened by this input.
	Escalated string
	// Mirror is true when the customer's message should reach staff (a case is open).
	Mirror bool
	// Silent is true when the bot must not answer (staff took over, or paused).
	Silent bool
	// Unmatched is true when nothing in the scripts matched (the fallback ran).
	Unmatched bool
	// Erase is true when the customer confirmed, with a button, that their
	// data be erased (a button with command: erase); the runtime erases it
	// after the commit, sending what this input queued as the last message.
	Erase bool
	// Notes are countable happenings for metrics: "survey.nps", "nudge.dropped_late", ...
	Notes []string
	// Experiments are exposures (a customer assigned and shown a variant,
	// or held out) and conversions (the goal reached within the window),
	// each once per customer and experiment, for the runtime to count.
	Experiments []ExperimentHit
	History     []journey.HistoryEntry
	// Marks are what the flows did, in order, for the marketers' figures
	// (package insight counts them; the engine only reports).
	Marks []Mark
}

// ExperimentHit is one customer's exposure to, or conversion in, an
// experiment. Both count on the day of the exposure (Exposed), so a
// variant's rate is over the customers exposed in a range of days.
type ExperimentHit struct {
	Experiment string
	Variant    string
	Converted  bool      // false: an exposure
	Exposed    time.Time // when the customer was first exposed
	At         time.Time // when it happened
}

// Mark is one thing a flow did while handling an input.
type Mark struct {
	Kind MarkKind
	Flow string
	Step string // the step, for the kinds about a step
	// Value is the survey kind (nps, csat) of MarkSurvey, the coupon code
	// of MarkOffer; Score is the survey's answer.
	Value string
	Score int
}

// MarkKind says what a Mark is.
type MarkKind uint8

const (
	MarkStart  MarkKind = iota + 1 // a flow began: its first step ran
	MarkReach                      // a step ran
	MarkWait                       // the step waits for the customer (a question, buttons)
	MarkResume                     // the customer answered the step that waited
	MarkDone                       // the flow ended: past its last step, an end, or a goto to another flow
	MarkSurvey                     // a survey was answered
	MarkNudge                      // the flow was sent as a proactive message
	MarkOffer                      // an offer step gave the customer a coupon
)

func (x *run) mark(m Mark) { x.r.Marks = append(x.r.Marks, m) }

func (r *Result) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

// The erase of a customer's data from the chat (LGPD): a script's flow
// triggered by command apagar (also what a typed /erase becomes) asks, and
// its button with command erase confirms; the flow triggered by command
// erase says the last words.
const (
	CmdErase        = "erase"
	CmdEraseRequest = "apagar"
)

// run is the state of one Handle call.
type run struct {
	routed string // Input.Intent
	e      *Engine
	s      *Scripts
	j      *journey.Journey
	now    time.Time
	r      *Result
	steps  int
}

// busyWindow is how long after a customer's message, while a question is
// open, nudges wait.
const busyWindow = 15 * time.Minute

// maxSteps guards against flows that loop (a goto cycle) within one input.
const maxSteps = 64

// Handle applies in to j at now and returns what to send.
func (e *Engine) Handle(j *journey.Journey, in Input, now time.Time) *Result {
	x := &run{e: e, s: e.scripts.Load(), j: j, now: now, r: &Result{}, routed: in.Intent}
	if j.Stage == "" {
		x.setStage(x.s.InitialStage())
	}
	if in.Order != nil {
		j.UpsertOrder(*in.Order)
	}
	x.forgetExperiments()
	switch in.Kind {
	case InText:
		x.customerSaid()
		x.text(in.Text)
	case InButton:
		x.customerSaid()
		x.button(in.Data, in.Text)
	case InCommand:
		x.customerSaid()
		cmd := in.Command
		if cmd == CmdErase {
			// Only the confirmation button erases; typed, it asks first.
			cmd = CmdEraseRequest
		}
		x.command(cmd, in.Args)
	case InMedia:
		x.customerSaid()
		if !x.silent() {
			x.startByTrigger(func(t *Trigger) bool { return t.Command == "media" })
		}
	case InEvent:
		x.event(in.Event)
	case InTick:
		x.tick()
	}
	for _, m := range x.r.Messages {
		x.r.History = append(x.r.History, journey.HistoryEntry{At: now.Unix(), From: "bot", Text: m.Text})
	}
	if len(x.r.Messages) > 0 {
		j.Counters.Outbound += len(x.r.Messages)
	}
	return x.r
}

func (x *run) customerSaid() {
	x.j.LastInbound = x.now.Unix()
	x.j.Counters.Inbound++
	// Inactivity triggers count from the customer's last message.
	for _, f := range x.s.Flows {
		for i, t := range f.Triggers {
			if t.Inactive > 0 {
				x.j.SetTimer(journey.Timer{Key: fmt.Sprintf("i:%s:%d", f.ID, i), Due: x.now.Add(t.Inactive).Unix(), Flow: f.ID})
			}
		}
	}
	if x.j.Case != nil {
		x.r.Mirror = true
	}
}

// silent reports whether the bot must not answer the customer itself.
func (x *run) silent() bool {
	if x.j.Profile.Paused || x.j.Case != nil && x.j.Case.Claimed != 0 {
		x.r.Silent = true
		return true
	}
	return false
}

func (x *run) lang() string {
	l := x.j.Language()
	if slices.Contains(x.s.Languages, l) {
		return l
	}
	// pt, pt-PT -> pt-BR; en-US -> en
	base, _, _ := strings.Cut(strings.ToLower(l), "-")
	for _, have := range x.s.Languages {
		if hb, _, _ := strings.Cut(strings.ToLower(have), "-"); hb == base {
			return have
		}
	}
	return x.s.Languages[0]
}

// say renders t for the customer.
func (x *run) say(t *Text) string {
	if t == nil {
		return ""
	}
	tpl := t.ByLang[x.lang()]
	if tpl == nil {
		tpl = t.ByLang["*"]
	}
	if tpl == nil {
		tpl = t.ByLang[x.s.Languages[0]]
	}
	if tpl == nil {
		return ""
	}
	return tpl.Render(x.lookup)
}

// ---- customer input

func (x *run) text(raw string) {
	if x.silent() {
		return
	}
	norm := Normalize(raw)
	if x.j.Conv.Waiting {
		if f, st := x.current(); st != nil {
			switch st.Kind {
			case KindAsk:
				if x.answer(f, st, raw, norm) {
					return
				}
			case KindSurvey:
				if n, err := strconv.Atoi(strings.TrimSpace(norm)); err == nil && x.survey(f, st, n) {
					return
				}
				if x.badAnswer(f, st, norm) {
					return
				}
			case KindSay, KindExperiment:
				if i := x.buttonByLabel(st, raw); i >= 0 {
					x.press(f, st, i)
					return
				}
			}
		}
	}
	if f := x.matchIntent(raw); f != nil {
		x.j.Conv.Misses = 0
		x.start(f, 0)
		return
	}
	x.fallback()
}

func (x *run) fallback() {
	x.r.Unmatched = true
	x.j.Conv.Misses++
	x.r.note("fallback")
	if f := x.s.Flow(x.s.Fallback); f != nil {
		x.start(f, 0)
	}
}

// current returns the flow and step the customer is at.
func (x *run) current() (*Flow, *Step) {
	f := x.s.Flow(x.j.Conv.Flow)
	if f == nil {
		return nil, nil
	}
	i := f.Step(x.j.Conv.Step)
	if i < 0 {
		return f, nil
	}
	return f, f.Steps[i]
}

// matchIntent finds the flow for what the customer said: the best
// matching intent whose flow applies in the stage (see Scripts.Match), else
// the intent chosen before handling (Input.Intent, a model's pick).
func (x *run) matchIntent(raw string) *Flow {
	m := x.s.Match(raw)
	if m.Order != "" {
		x.setAnswer("order_ref", m.Order)
	}
	for _, r := range m.Ranked {
		if f := x.intentFlow(r.Intent); f != nil {
			return f
		}
	}
	if len(m.Ranked) == 0 && x.routed != "" {
		if f := x.intentFlow(x.routed); f != nil {
			x.r.note("intent.routed")
			return f
		}
	}
	return nil
}

// intentFlow is the first flow for the stage that an intent triggers.
func (x *run) intentFlow(intent string) *Flow {
	for _, f := range x.s.Flows {
		if x.applies(f) && slices.ContainsFunc(f.Triggers, func(t *Trigger) bool { return t.Intent == intent }) {
			return f
		}
	}
	return nil
}

func (x *run) applies(f *Flow) bool {
	return len(f.Stages) == 0 || slices.Contains(f.Stages, x.j.Stage)
}

// answer takes the answer to an ask step; false when the text was not an
// answer but something else the customer wants (handled by the caller).
func (x *run) answer(f *Flow, st *Step, raw, norm string) bool {
	val, ok := validate(st.Validate, raw, norm)
	if ok {
		x.mark(Mark{Kind: MarkResume, Flow: f.ID, Step: st.ID})
		x.save(st.Save, val)
		x.j.Conv.Retries = 0
		x.j.Conv.Waiting = false
		x.continueAfter(f, st)
		return true
	}
	return x.badAnswer(f, st, norm)
}

// badAnswer re-asks, unless the text is another request (an intent) or the
// retries are used up.
func (x *run) badAnswer(f *Flow, st *Step, norm string) bool {
	// Something about this very flow ("não sei, comprei ontem" when asked
	// for the order number) is a bad answer too: asked again, not restarted.
	if g := x.matchIntent(norm); g != nil && g.ID != f.ID {
		x.j.Conv = journey.Conv{}
		return false
	}
	x.j.Conv.Retries++
	maxR := st.MaxRetries
	if maxR == 0 {
		maxR = x.e.opt.MaxRetries
	}
	if x.j.Conv.Retries > maxR {
		x.j.Conv.Retries = 0
		x.j.Conv.Waiting = false
		x.r.note("ask.failed")
		if st.OnFail != "" {
			x.mark(Mark{Kind: MarkResume, Flow: f.ID, Step: st.ID}) // moved on, by the script's way out
			x.start(f, f.Step(st.OnFail))
		} else {
			x.j.Conv = journey.Conv{}
			x.fallback()
		}
		return true
	}
	x.r.note("ask.retry")
	text := x.say(st.Retry)
	if text == "" {
		text = x.say(st.Ask)
	}
	x.emit(Message{Text: text, Buttons: x.surveyButtons(f, st)})
	return true
}

func (x *run) button(data, label string) {
	if x.silent() {
		return
	}
	// A button whose flow, step or entry no longer exists (the scripts
	// changed since it was sent) gets the fallback, so the tap is not met
	// with silence.
	parts := strings.SplitN(data, ":", 4)
	if len(parts) != 4 || parts[0] != "b" && parts[0] != "k" {
		x.r.note("button.unknown")
		x.fallback()
		return
	}
	f := x.s.Flow(parts[1])
	if f == nil || f.Step(parts[2]) < 0 {
		x.r.note("button.removed")
		x.fallback()
		return
	}
	i := f.Step(parts[2])
	st := f.Steps[i]
	current := x.j.Conv.Waiting && x.j.Conv.Flow == f.ID && x.j.Conv.Step == st.ID
	if st.Kind == KindSurvey {
		n, err := strconv.Atoi(parts[3])
		if current && err == nil {
			x.survey(f, st, n)
		} else {
			x.r.note("button.stale") // an old survey: never counted twice
		}
		return
	}
	n := -1
	if parts[0] == "k" {
		n = slices.IndexFunc(st.Buttons, func(b *ButtonDef) bool { return b.Key() == parts[3] })
	} else {
		// A message sent before buttons had stable ids says a position, which
		// may have shifted since; the label the customer pressed says which
		// button they meant.
		n = x.buttonByLabel(st, label)
	}
	if n < 0 {
		x.r.note("button.removed")
		x.fallback()
		return
	}
	b := st.Buttons[n]
	if !current && b.Flow == "" {
		// A second tap on an answered question's button never runs a step
		// twice; only buttons that start a flow (a menu) work from old messages.
		x.r.note("button.stale")
		return
	}
	x.press(f, st, n)
}

// buttonByLabel finds the button of st with this label in the customer's
// language (as typed, or its part before a comma), or -1.
func (x *run) buttonByLabel(st *Step, text string) int {
	norm := Normalize(text)
	if norm == "" {
		return -1
	}
	for i, b := range st.Buttons {
		label := x.say(b.Label)
		short, _, _ := strings.Cut(label, ",")
		if Normalize(label) == norm || Normalize(short) == norm {
			return i
		}
	}
	return -1
}

// press acts on button n of step st.
func (x *run) press(f *Flow, st *Step, n int) {
	b := st.Buttons[n]
	x.cover(Hit{Flow: f.ID, Step: st.ID, Button: b.Key()})
	if x.j.Conv.Waiting && x.j.Conv.Flow == f.ID && x.j.Conv.Step == st.ID {
		x.mark(Mark{Kind: MarkResume, Flow: f.ID, Step: st.ID})
	}
	x.j.Conv.Waiting = false
	x.j.Conv.Misses = 0
	switch {
	case b.Goto != "":
		x.start(f, f.Step(b.Goto))
	case b.Flow != "":
		x.mark(Mark{Kind: MarkDone, Flow: f.ID}) // the flow hands the customer on
		if g := x.s.Flow(b.Flow); g != nil {
			x.start(g, 0)
		}
	case b.Command != "":
		x.mark(Mark{Kind: MarkDone, Flow: f.ID})
		if b.Command == CmdErase {
			x.r.Erase = true
			x.r.note("privacy.erase_confirmed")
		}
		x.command(b.Command, "")
	case b.Value != "":
		x.setAnswer("choice", b.Value)
		if st.Save != "" {
			x.save(st.Save, b.Value)
		}
		if x.triggered(func(t *Trigger) bool { return t.Button == b.Value }) == nil {
			x.continueAfter(f, st)
		} else {
			x.mark(Mark{Kind: MarkDone, Flow: f.ID})
			x.startByTrigger(func(t *Trigger) bool { return t.Button == b.Value })
		}
	}
}

func (x *run) command(cmd, args string) {
	switch cmd {
	case "stop":
		if x.j.Profile.OptedOut == 0 {
			x.j.Profile.OptedOut = x.now.Unix()
		}
		x.cancelProactive()
		x.r.note("optout")
	case "start":
		if x.j.Profile.OptedOut != 0 {
			x.j.Profile.OptedOut = 0
			x.r.note("optin")
		}
		x.j.Profile.Unreachable = 0
	case "human":
		if !x.e.opt.NoStaff { // a case nobody can take would only silence the bot
			x.escalate("customer asked for a person")
		}
	}
	if x.silent() {
		return
	}
	if !x.startByTrigger(func(t *Trigger) bool { return t.Command == cmd }) {
		x.fallback()
	}
}

// startByTrigger starts the first applicable flow with a matching trigger.
func (x *run) startByTrigger(match func(*Trigger) bool) bool {
	if f := x.triggered(match); f != nil {
		x.start(f, 0)
		return true
	}
	return false
}

// triggered is the first applicable flow with a matching trigger, or nil.
func (x *run) triggered(match func(*Trigger) bool) *Flow {
	for _, f := range x.s.Flows {
		if x.applies(f) && slices.ContainsFunc(f.Triggers, match) {
			return f
		}
	}
	return nil
}

// ---- running steps

// start runs flow f from step index i.
func (x *run) start(f *Flow, i int) {
	x.j.Conv = journey.Conv{Flow: f.ID, Misses: x.j.Conv.Misses}
	for i >= 0 && i < len(f.Steps) {
		x.steps++
		if x.steps > maxSteps {
			x.r.note("flow.loop")
			x.j.Conv = journey.Conv{}
			return
		}
		st := f.Steps[i]
		x.j.Conv.Step = st.ID
		x.cover(Hit{Flow: f.ID, Step: st.ID})
		if i == 0 {
			x.mark(Mark{Kind: MarkStart, Flow: f.ID})
		}
		x.mark(Mark{Kind: MarkReach, Flow: f.ID, Step: st.ID})
		next, stop := x.step(f, st, i)
		if stop {
			return
		}
		if next == nil {
			break
		}
		if next.flow != f {
			x.mark(Mark{Kind: MarkDone, Flow: f.ID})
		}
		f, i = next.flow, next.i
		x.j.Conv.Flow = f.ID
	}
	x.mark(Mark{Kind: MarkDone, Flow: f.ID})
	x.j.Conv = journey.Conv{Misses: x.j.Conv.Misses}
}

type position struct {
	flow *Flow
	i    int
}

// after returns the position after st: its next, or the following step.
func after(f *Flow, st *Step, i int) *position {
	if st.End {
		return nil
	}
	if st.Next != "" {
		return &position{f, f.Step(st.Next)}
	}
	if i+1 < len(f.Steps) {
		return &position{f, i + 1}
	}
	return nil
}

func (x *run) continueAfter(f *Flow, st *Step) {
	if p := after(f, st, f.Step(st.ID)); p != nil {
		x.start(p.flow, p.i)
	} else {
		x.mark(Mark{Kind: MarkDone, Flow: f.ID})
		x.j.Conv = journey.Conv{Misses: x.j.Conv.Misses}
	}
}

// step runs one step; it returns where to go next, or stop when the flow
// waits for the customer or for time.
func (x *run) step(f *Flow, st *Step, i int) (next *position, stop bool) {
	switch st.Kind {
	case KindSay:
		if x.sayText(f, st, x.variant(f, st)) {
			return nil, true
		}
	case KindExperiment:
		v := x.assign(st.Experiment)
		if v == nil { // held out: nothing more from this flow
			return nil, false
		}
		if v.Offer != nil {
			x.offer(f, st, v.Offer)
		}
		if v.Say != nil && x.sayText(f, st, v.Say) {
			return nil, true
		}
	case KindAsk:
		x.emit(Message{Text: x.say(st.Ask), Flow: f.ID, Templates: x.templates(st)})
		x.j.Conv.Waiting = true
		x.mark(Mark{Kind: MarkWait, Flow: f.ID, Step: st.ID})
		return nil, true
	case KindSurvey:
		x.emit(Message{Text: x.say(st.Ask), Buttons: x.surveyButtons(f, st), Flow: f.ID, Templates: x.templates(st)})
		x.j.Conv.Waiting = true
		x.mark(Mark{Kind: MarkWait, Flow: f.ID, Step: st.ID})
		x.r.note("survey.%s.asked", st.Survey)
		return nil, true
	case KindBranch:
		for n, c := range st.Branch {
			if x.test(c.If) {
				x.cover(Hit{Flow: f.ID, Step: st.ID, Arm: strconv.Itoa(n)})
				return &position{f, f.Step(c.Goto)}, false
			}
		}
		if st.Else != "" {
			x.cover(Hit{Flow: f.ID, Step: st.ID, Arm: "else"})
			return &position{f, f.Step(st.Else)}, false
		}
		x.cover(Hit{Flow: f.ID, Step: st.ID, Arm: "none"})
	case KindSetStage:
		x.setStage(st.SetStage)
	case KindWait:
		cont := after(f, st, i)
		if cont == nil {
			break
		}
		x.j.SetTimer(journey.Timer{
			Key: "w:" + f.ID + ":" + st.ID, Due: x.now.Add(st.Wait).Unix(),
			Flow: f.ID, Step: cont.flow.Steps[cont.i].ID, Stage: x.j.Stage,
		})
		x.j.Conv = journey.Conv{Misses: x.j.Conv.Misses}
		return nil, true
	case KindEscalate:
		x.escalate(st.Escalate)
	case KindOffer:
		x.offer(f, st, st.Offer)
	case KindGoto:
		if g := x.s.Flow(st.Goto); g != nil && len(g.Steps) > 0 {
			return &position{g, 0}, false
		}
		return nil, false
	case KindEnd:
		return nil, false
	}
	return after(f, st, i), false
}

// sayText sends t as step st's message, with the step's buttons; true when
// the flow waits for a press.
func (x *run) sayText(f *Flow, st *Step, t *Text) (wait bool) {
	m := Message{Text: x.say(t), Personalize: st.Personalize, Style: st.Style, Flow: f.ID, Templates: x.templates(st)}
	for _, b := range st.Buttons {
		m.Buttons = append(m.Buttons, channels.Button{Label: x.say(b.Label), Data: ButtonData(f.ID, st.ID, b)})
	}
	x.emit(m)
	if len(st.Buttons) > 0 {
		x.j.Conv.Waiting = true
		x.mark(Mark{Kind: MarkWait, Flow: f.ID, Step: st.ID})
		return true
	}
	return false
}

// offer gives the customer o's coupon until it expires.
func (x *run) offer(f *Flow, st *Step, o *Offer) {
	x.setAnswer("coupon", o.Code)
	if o.Expires > 0 {
		exp := x.now.Add(o.Expires)
		x.setAnswer("coupon_expires_at", strconv.FormatInt(exp.Unix(), 10))
		x.j.SetTimer(journey.Timer{Key: "o:" + o.Code, Due: exp.Unix(), Flow: o.OnExpiry})
	}
	x.r.note("offer.%s", o.Code)
	x.mark(Mark{Kind: MarkOffer, Flow: f.ID, Step: st.ID, Value: o.Code})
}

// templates renders a step's channel templates for this customer.
func (x *run) templates(st *Step) map[string]channels.Template {
	if len(st.Templates) == 0 {
		return nil
	}
	out := make(map[string]channels.Template, len(st.Templates))
	for ch, t := range st.Templates {
		ct := channels.Template{Name: t.Name, Language: t.Language}
		for _, p := range t.Params {
			ct.Params = append(ct.Params, x.say(p))
		}
		out[ch] = ct
	}
	return out
}

func (x *run) emit(m Message) {
	if m.Text == "" && len(m.Buttons) == 0 {
		return
	}
	x.r.Messages = append(x.r.Messages, m)
}

// variant picks one of a step's texts: by the customer's A/B group, or at
// random (deterministic per customer and message, so tests replay).
func (x *run) variant(f *Flow, st *Step) *Text {
	if len(st.Say) == 1 {
		return st.Say[0]
	}
	if st.Pick == "ab" && st.Experiment != nil {
		v := x.assign(st.Experiment)
		x.r.note("ab.%s.%s.%s", f.ID, st.ID, v.Name)
		return v.Say
	}
	return st.Say[hash(x.j.ID, f.ID, st.ID, strconv.Itoa(x.j.Counters.Outbound))%uint32(len(st.Say))]
}

// abGroup assigns the customer to group A or B once, by id.
func (x *run) abGroup() string {
	if x.j.Profile.Variant == "" {
		x.j.Profile.Variant = string(rune('A' + hash(x.j.ID)%2))
	}
	return x.j.Profile.Variant
}

func hash(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

func (x *run) surveyButtons(f *Flow, st *Step) []channels.Button {
	if st.Kind != KindSurvey {
		return nil
	}
	lo, hi := 0, 10
	if st.Survey == "csat" {
		lo, hi = 1, 5
	}
	var out []channels.Button
	for n := lo; n <= hi; n++ {
		out = append(out, channels.Button{Label: strconv.Itoa(n), Data: fmt.Sprintf("b:%s:%s:%d", f.ID, st.ID, n)})
	}
	return out
}

// survey records a score and follows up by category; false for a score out of range.
func (x *run) survey(f *Flow, st *Step, n int) bool {
	lo, hi := 0, 10
	if st.Survey == "csat" {
		lo, hi = 1, 5
	}
	if n < lo || n > hi {
		return false
	}
	name := st.Save
	if name == "" {
		name = st.Survey
	}
	x.setAnswer(strings.TrimPrefix(name, "answers."), strconv.Itoa(n))
	x.setAnswer(strings.TrimPrefix(name, "answers.")+"_at", strconv.FormatInt(x.now.Unix(), 10))
	x.r.note("survey.%s=%d", st.Survey, n)
	x.mark(Mark{Kind: MarkResume, Flow: f.ID, Step: st.ID})
	x.mark(Mark{Kind: MarkSurvey, Flow: f.ID, Step: st.ID, Value: st.Survey, Score: n})
	x.reached(func(g *Goal) bool { return g.Survey == surveyName(st) && compareScore(n, g.Op, g.Score) }, x.now)
	x.j.Conv.Waiting = false
	x.j.Conv.Retries = 0
	var target string
	x.cover(Hit{Flow: f.ID, Step: st.ID, Arm: category(st.Survey, n)})
	switch category(st.Survey, n) {
	case "promoter":
		target = st.Promoter
	case "passive":
		target = st.Passive
	default:
		target = st.Detractor
	}
	if target != "" {
		x.start(f, f.Step(target))
	} else {
		x.continueAfter(f, st)
	}
	return true
}

// category is the NPS class of a score: 9-10 promoter, 7-8 passive, 0-6
// detractor; for CSAT 4-5, 3, 1-2.
func category(kind string, n int) string {
	if kind == "csat" {
		switch {
		case n >= 4:
			return "promoter"
		case n == 3:
			return "passive"
		}
		return "detractor"
	}
	switch {
	case n >= 9:
		return "promoter"
	case n >= 7:
		return "passive"
	}
	return "detractor"
}

func (x *run) setAnswer(k, v string) {
	if x.j.Answers == nil {
		x.j.Answers = map[string]string{}
	}
	x.j.Answers[k] = v
}

// save stores a captured answer: profile fields by name, profile.X into the
// profile's fields, anything else into answers.
func (x *run) save(field, val string) {
	p := &x.j.Profile
	switch field {
	case "name":
		p.Name = val
	case "email", "phone":
		// What a customer types is not verified: it is kept apart from the
		// contacts the store sent, which alone can unlock orders.
		if p.Fields == nil {
			p.Fields = map[string]string{}
		}
		p.Fields[field] = val
	case "language":
		p.Language = val
	case "order_ref", "answers.order_ref":
		x.setAnswer("order_ref", strings.TrimPrefix(val, "#"))
	default:
		if k, ok := strings.CutPrefix(field, "profile."); ok {
			if p.Fields == nil {
				p.Fields = map[string]string{}
			}
			p.Fields[k] = val
			return
		}
		x.setAnswer(strings.TrimPrefix(field, "answers."), val)
	}
	x.setAnswer("_last", val)
}

func (x *run) setStage(to string) {
	if to == "" || to == x.j.Stage {
		return
	}
	x.j.Stage = to
	x.j.StageSince = x.now.Unix()
	x.reached(func(g *Goal) bool { return g.Stage == to }, x.now)
	// Timers of the stage left behind are moot now.
	x.j.CancelTimers(func(t journey.Timer) bool { return t.Stage != "" && t.Stage != to })
	x.r.note("stage.%s", to)
}

// escalate opens a support case, one at a time; proactive nudges stop.
func (x *run) escalate(reason string) {
	if x.j.Case != nil {
		return
	}
	x.j.Case = &journey.Case{Reason: reason, Opened: x.now.Unix()}
	x.r.Escalated = reason
	x.j.Conv.Misses = 0
	x.cancelProactive()
	x.r.note("escalated")
}

// cancelProactive drops nudges that wait (waits, time triggers, inactivity);
// stage transitions and offer expiries stay.
func (x *run) cancelProactive() {
	x.j.CancelTimers(func(t journey.Timer) bool {
		return strings.HasPrefix(t.Key, "w:") || strings.HasPrefix(t.Key, "t:") || strings.HasPrefix(t.Key, "i:") || strings.HasPrefix(t.Key, "e:")
	})
}

// ---- events and time

var statusByEvent = map[string]string{
	"order.created": "created", "order.paid": "paid", "order.shipped": "shipped",
	"order.delivered": "delivered", "order.cancelled": "cancelled", "order.refunded": "refunded",
}

func (x *run) event(ev *journey.Event) {
	j := x.j
	c := ev.Customer
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&j.Profile.Name, c.Name)
	set(&j.Profile.Language, c.Language)
	set(&j.Profile.TimeZone, c.TimeZone)
	set(&j.Profile.Email, c.Email)
	set(&j.Profile.Phone, c.Phone)
	for ch, a := range c.AllAddresses() {
		if j.Profile.Addresses == nil {
			j.Profile.Addresses = map[string]string{}
		}
		j.Profile.Addresses[ch] = a
	}
	at := ev.At
	if at.IsZero() {
		at = x.now
	}
	// An event older than one already applied (an import after live events,
	// a webhook retried late) updates what it knows better, but moves no
	// stage, arms no timer and starts no conversation.
	stale := at.Unix() < j.LastEvent && !strings.HasPrefix(ev.Type, "case.")
	if !stale && !strings.HasPrefix(ev.Type, "case.") {
		j.LastEvent = at.Unix()
	}
	if prev := j.Order(orderID(ev)); prev != nil && prev.Updated > at.Unix() {
		x.r.note("event.order_outdated")
	} else if ev.Order != nil {
		o := *ev.Order
		if o.Status == "" {
			o.Status = statusByEvent[ev.Type]
		}
		if prev := j.Order(o.ID); prev != nil {
			// Events may carry only what changed.
			if len(o.Items) == 0 {
				o.Items = prev.Items
			}
			if o.Total == 0 {
				o.Total, o.Currency = prev.Total, prev.Currency
			}
			if o.TrackingURL == "" {
				o.TrackingURL = prev.TrackingURL
			}
			if o.Created == 0 {
				o.Created = prev.Created
			}
			if o.Email == "" {
				o.Email = prev.Email
			}
			if o.Phone == "" {
				o.Phone = prev.Phone
			}
		}
		if o.Created == 0 {
			o.Created = at.Unix()
		}
		o.Updated = at.Unix()
		j.UpsertOrder(o)
		x.setAnswer("order_ref", o.ID)
	}
	if (ev.Type == "order.paid" || ev.Type == "order.created" && ev.Order != nil) && at.Unix() > j.LastPurchase {
		j.LastPurchase = at.Unix()
	}
	if ev.Points != nil && !stale {
		j.Profile.Points = *ev.Points
	}
	if ev.Type == "coupon.redeemed" {
		if ev.Coupon == "" || j.Answers["coupon"] == ev.Coupon {
			delete(j.Answers, "coupon")
			delete(j.Answers, "coupon_expires_at")
		}
		x.setAnswer("coupon_redeemed", ev.Coupon)
		x.j.CancelTimers(func(t journey.Timer) bool { return t.Key == "o:"+ev.Coupon })
	}
	for k, v := range ev.Data {
		x.setAnswer("event."+k, v)
	}
	x.r.note("event.%s", ev.Type)
	// An imported or late event converts too, by its own time.
	x.reached(func(g *Goal) bool { return g.Event == ev.Type }, at)
	if stale {
		x.r.note("event.stale")
		return
	}
	// Stage transitions on this event: the first that applies moves the
	// customer; every "after ... since" this event (re)starts its timer.
	for _, t := range x.s.Transitions {
		if t.On == ev.Type && (len(t.From) == 0 || slices.Contains(t.From, j.Stage)) {
			x.setStage(t.To)
			break
		}
	}
	for _, t := range x.s.Transitions {
		if t.Since == ev.Type {
			x.j.SetTimer(journey.Timer{Key: transitionKey(t), Due: at.Add(t.After).Unix()})
		}
	}
	// Flows some time after this event.
	for _, f := range x.s.Flows {
		for i, t := range f.Triggers {
			if t.Since == ev.Type && t.After > 0 {
				x.j.SetTimer(journey.Timer{Key: fmt.Sprintf("t:%s:%d", f.ID, i), Due: at.Add(t.After).Unix(), Flow: f.ID})
			}
		}
	}
	if ev.Type == "case.resolved" {
		x.j.Conv.Misses = 0
	}
	if strings.HasPrefix(ev.Type, "case.") {
		// Staff actions (claimed, resolved) answer the customer directly,
		// unless staff paused the bot or the chat is gone; the survey after a
		// case is also skipped for a customer who opted out.
		if j.Profile.Unreachable != 0 || j.Profile.Paused || ev.Type == "case.resolved" && j.Profile.OptedOut != 0 {
			x.r.note("case.followup_skipped")
			return
		}
		x.startByTrigger(func(t *Trigger) bool { return t.Event == ev.Type })
		return
	}
	// Flows on this event, now (unless the event is old news, e.g. an import).
	if x.now.Sub(at) > x.e.opt.Grace {
		return
	}
	for _, f := range x.s.Flows {
		if x.applies(f) && slices.ContainsFunc(f.Triggers, func(t *Trigger) bool { return t.Event == ev.Type }) {
			x.proactive(journey.Timer{Key: "e:" + ev.ID + ":" + f.ID, Due: x.now.Unix(), Flow: f.ID}, f)
			break
		}
	}
}

// tick fires the timers that are due, oldest first.
func (x *run) tick() {
	now := x.now.Unix()
	var due []journey.Timer
	for _, t := range x.j.Timers {
		if t.Due <= now {
			due = append(due, t)
		}
	}
	sort.Slice(due, func(a, b int) bool { return due[a].Due < due[b].Due })
	for _, t := range due {
		x.j.CancelTimers(func(o journey.Timer) bool { return o.Key == t.Key && o.Due == t.Due })
		x.steps = 0 // each timer gets its own loop guard
		x.fire(t)
	}
}

// CaseRetryKey is the timer the runtime sets when a case could not be
// brought to staff; when it fires the case is brought again.
const CaseRetryKey = "k:case"

func (x *run) fire(t journey.Timer) {
	switch {
	case t.Key == CaseRetryKey:
		if x.j.Case != nil && x.j.Case.Ref == "" {
			x.r.Escalated = x.j.Case.Reason
			x.r.note("case.retry")
		}
	case strings.HasPrefix(t.Key, "x:"): // a stage transition some time after an event
		for _, tr := range x.s.Transitions {
			if transitionKey(tr) == t.Key && (len(tr.From) == 0 || slices.Contains(tr.From, x.j.Stage)) {
				x.setStage(tr.To)
				break
			}
		}
	case strings.HasPrefix(t.Key, "o:"): // an offer expired
		code := t.Key[2:]
		if x.j.Answers["coupon"] == code {
			delete(x.j.Answers, "coupon")
			delete(x.j.Answers, "coupon_expires_at")
			x.r.note("offer.expired")
			if f := x.s.Flow(t.Flow); f != nil {
				// The follow-up is a nudge of its own, so quiet hours or caps
				// may postpone it without the coupon check failing later.
				x.proactive(journey.Timer{Key: "e:expired:" + code, Due: t.Due, Flow: f.ID}, f)
			}
		}
	default: // a nudge: a wait ending, a time trigger, inactivity
		f := x.s.Flow(t.Flow)
		if f == nil {
			x.r.note("nudge.dropped_missing_flow")
			return
		}
		if t.Stage != "" && t.Stage != x.j.Stage {
			x.r.note("nudge.cancelled_stage")
			return
		}
		if !strings.HasPrefix(t.Key, "w:") && !x.applies(f) {
			x.r.note("nudge.cancelled_stage")
			return
		}
		if w := waitStep(f, t.Key); w != nil && w.Unless != nil && x.test(w.Unless) {
			x.r.note("nudge.cancelled_unless") // the customer already did what the nudge asks
			return
		}
		x.proactive(t, f)
	}
}

// proactive starts a flow the bot initiates, with care: never to a customer
// who opted out, is unreachable, paused or with staff; never late; not in
// quiet hours; within the frequency caps; and never the same nudge twice.
func (x *run) proactive(t journey.Timer, f *Flow) {
	j := x.j
	switch {
	case j.Profile.OptedOut != 0:
		x.r.note("nudge.skipped_optout")
		return
	case j.Profile.Unreachable != 0:
		x.r.note("nudge.skipped_unreachable")
		return
	case j.Profile.Paused || j.Case != nil:
		x.r.note("nudge.skipped_case")
		return
	case x.now.Unix()-t.Due > int64(x.e.opt.Grace/time.Second):
		x.r.note("nudge.dropped_late")
		return
	}
	if j.Conv.Waiting && x.now.Unix()-j.LastInbound < int64(busyWindow/time.Second) {
		// The customer is answering a question right now: a nudge would cut
		// the conversation off. Try again a little later.
		t.Due = x.now.Add(busyWindow).Unix()
		j.SetTimer(t)
		x.r.note("nudge.deferred_busy")
		return
	}
	if w, ok := x.waitForMorning(); ok {
		t.Due = w.Unix()
		j.SetTimer(t)
		x.r.note("nudge.deferred_quiet")
		return
	}
	day, week := int32(x.now.Unix()/86400), int32((x.now.Unix()/86400+3)/7)
	if j.Counters.Day != day {
		j.Counters.Day, j.Counters.SentDay = day, 0
	}
	if j.Counters.Week != week {
		j.Counters.Week, j.Counters.SentWeek = week, 0
	}
	if !f.Transactional && (j.Counters.SentDay >= x.e.opt.MaxPerDay || j.Counters.SentWeek >= x.e.opt.MaxPerWeek) {
		t.Due = x.nextMorning().Unix()
		j.SetTimer(t)
		x.r.note("nudge.deferred_cap")
		return
	}
	key := t.Key + "@" + strconv.FormatInt(t.Due, 10)
	if j.HasFired(key) {
		x.r.note("nudge.duplicate")
		return
	}
	j.MarkFired(key)
	i := 0
	if t.Step != "" {
		if i = f.Step(t.Step); i < 0 {
			return
		}
	}
	before := len(x.r.Messages)
	x.start(f, i)
	if len(x.r.Messages) == before {
		x.r.note("nudge.silent") // the flow decided to say nothing: not counted against the caps
		return
	}
	if !f.Transactional {
		j.Counters.SentDay++
		j.Counters.SentWeek++
	}
	j.LastProactive = x.now.Unix()
	x.r.Proactive = true
	x.r.note("nudge.sent")
	x.mark(Mark{Kind: MarkNudge, Flow: f.ID})
}

func (x *run) zone() *time.Location {
	if tz := x.j.Profile.TimeZone; tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return x.e.opt.TimeZone
}

// waitForMorning returns the end of quiet hours when now is within them.
func (x *run) waitForMorning() (time.Time, bool) {
	qs, qe := x.e.opt.QuietStart, x.e.opt.QuietEnd
	if qs == qe {
		return time.Time{}, false
	}
	local := x.now.In(x.zone())
	mid := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, local.Location())
	off := local.Sub(mid)
	quiet := false
	if qs > qe { // crosses midnight: 21:00-09:00
		quiet = off >= qs || off < qe
	} else {
		quiet = off >= qs && off < qe
	}
	if !quiet {
		return time.Time{}, false
	}
	end := mid.Add(qe)
	if !end.After(local) {
		end = time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, local.Location()).Add(qe)
	}
	return end, true
}

// nextMorning is the end of quiet hours on the next day.
func (x *run) nextMorning() time.Time {
	local := x.now.In(x.zone())
	return time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, local.Location()).Add(x.e.opt.QuietEnd)
}

// transitionKey names a timed transition by what it is, not by its place in
// the file, so reordering transitions in a hot reload keeps pending timers right.
func transitionKey(t *Transition) string {
	return fmt.Sprintf("x:%s:%d:%s", t.Since, int64(t.After/time.Second), t.To)
}

// waitStep returns the wait step a "w:FLOW:STEP" timer belongs to.
func waitStep(f *Flow, key string) *Step {
	rest, ok := strings.CutPrefix(key, "w:"+f.ID+":")
	if !ok {
		return nil
	}
	if i := f.Step(rest); i >= 0 && f.Steps[i].Kind == KindWait {
		return f.Steps[i]
	}
	return nil
}

func orderID(ev *journey.Event) string {
	if ev.Order == nil {
		return ""
	}
	return ev.Order.ID
}
