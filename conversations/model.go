// Package conversations holds the script model that marketers write in YAML,
// its loader and checker (lint), its template language, and the engine that
// runs a customer's journey through the scripts.
//
// The engine is pure: Engine.Handle takes a journey, an input and the time and
// changes the journey in place, returning the messages to send. Storage,
// channels and clocks belong to the bot package.
package conversations

import (
	"fmt"
	"regexp"
	"time"
)

// Pos is a place in a script file, for error messages (FILE:LINE:COL).
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Scripts is a complete, checked set of scripts: what the engine runs.
type Scripts struct {
	Languages   []string // first one is the default
	Fallback    string   // flow run when nothing matches
	Stages      []*Stage
	Transitions []*Transition
	Intents     []*Intent
	Flows       []*Flow
	Statuses    map[string]*Status
	Catalog     []*Product
	Files       []string
	// Facts are the business's own facts for the texts ({{ facts.NAME }}):
	// payment methods, the invoice e-mail... (settings.facts).
	Facts map[string]*Text
	// Events are the store's own event types the scripts wait for, besides
	// the known ones (settings.events).
	Events []string
	// Experiments are the experiments of the flows' steps (experiment
	// steps, and say steps with pick: ab), in file order.
	Experiments []*Experiment

	stages  map[string]*Stage
	flows   map[string]*Flow
	initial string
	words   *wordIndex // the keywords' words, for the matcher
}

// Flow returns the flow with id, or nil.
func (s *Scripts) Flow(id string) *Flow { return s.flows[id] }

// Stage returns the stage with id, or nil.
func (s *Scripts) Stage(id string) *Stage { return s.stages[id] }

// InitialStage is the stage of a new customer.
func (s *Scripts) InitialStage() string { return s.initial }

// Stage is a part of the customer journey.
type Stage struct {
	Pos         Pos
	ID          string
	Initial     bool
	Description string
	// Topics the language model may answer free questions about in this stage.
	Topics []string
}

// Transition moves a customer between stages on an event, or some time after one.
type Transition struct {
	Pos   Pos
	On    string        // event type that triggers it ("" with After)
	After time.Duration // time after Since
	Since string        // event type the time counts from
	From  []string      // stages it applies in; empty: any
	To    string
	// OnPos and SincePos are where the event types are written, FromPos
	// and ToPos the stages.
	OnPos, SincePos, ToPos Pos
	FromPos                []Pos
}

// Intent is something a customer may say, recognised by keywords or patterns,
// ignoring case and accents.
type Intent struct {
	Pos      Pos
	ID       string
	Keywords []*Keyword
	Patterns []*regexp.Regexp
}

// Keyword is a word or phrase of an intent, as written and as the matcher
// sees it (see understand.go).
type Keyword struct {
	Pos  Pos
	Text string // as written in the script
	// required words must all appear in the text, in any order; optional
	// ones (stopwords such as "o", "de", "my") may be missing.
	required, optional []token
	negates            bool  // the keyword says a negation itself ("nao chegou")
	ids                []int // required words in the word index
}

// Flow is a conversation: triggers that start it and the steps it runs.
type Flow struct {
	Pos    Pos
	ID     string
	Stages []string // empty: every stage
	// StagesPos is where each of Stages is written.
	StagesPos []Pos
	Triggers  []*Trigger
	Steps     []*Step
	// Transactional flows (order updates) are exempt from frequency caps;
	// opt-out and quiet hours still apply.
	Transactional bool

	steps map[string]int
}

// Step returns the index of the step with id, or -1.
func (f *Flow) Step(id string) int {
	if i, ok := f.steps[id]; ok {
		return i
	}
	return -1
}

// Trigger starts a flow.
type Trigger struct {
	Pos      Pos
	Intent   string
	Command  string
	Button   string
	Event    string
	After    time.Duration // with Since: time after an event
	Since    string
	Inactive time.Duration // no message from the customer for this long
	// EventPos and SincePos are where the event types are written.
	EventPos, SincePos Pos
}

// Step kinds.
const (
	KindSay      = "say"
	KindAsk      = "ask"
	KindSurvey   = "survey"
	KindBranch   = "branch"
	KindSetStage = "set_stage"
	KindWait     = "wait"
	KindEscalate = "escalate"
	KindOffer    = "offer"
	KindGoto     = "goto"
	KindEnd      = "end"
	// KindExperiment sends one of several variants (texts and/or offers).
	KindExperiment = "experiment"
)

// Step is one thing a flow does.
type Step struct {
	Pos  Pos
	ID   string
	Kind string

	Say     []*Text // variants; one is picked
	Pick    string  // random (default) or ab
	Buttons []*ButtonDef
	// Experiment is the step's experiment: an experiment step's, or a
	// pick: ab step's (named FLOW.STEP, variants A, B, C...).
	Experiment *Experiment
	// GoalSrc and WindowSrc are a pick: ab step's goal and window as
	// written (the experiment is built by lint, which knows the step's id).
	GoalSrc   *Goal
	WindowSrc time.Duration

	Ask        *Text
	Save       string
	Validate   *Validation
	Retry      *Text
	MaxRetries int
	OnFail     string

	Survey                       string // nps or csat
	Promoter, Passive, Detractor string // step ids

	Branch []*Case
	Else   string

	SetStage    string
	SetStagePos Pos
	Wait        time.Duration
	Unless      *Cond
	Escalate    string // reason
	Offer       *Offer
	Goto        string // flow id
	Next        string // step id; default: the following step
	End         bool   // the flow ends after this step

	Personalize bool
	Style       string

	// Templates are what the step sends, by channel, when that channel's
	// service window is closed (whatsapp_template: WhatsApp's 24 hours);
	// without one the message is skipped there.
	Templates map[string]*ChannelTemplate
}

// ChannelTemplate is a message template approved on a channel's platform.
type ChannelTemplate struct {
	Pos  Pos
	Name string
	// Language is the platform's code (pt_BR, en_US); empty: the
	// customer's language (pt-BR becomes pt_BR).
	Language string
	// Params fill the template's {{1}}, {{2}}...: texts with fields, one
	// for every language or one per language.
	Params []*Text
}

// Text is a text per language; it is a template.
type Text struct {
	Pos    Pos
	ByLang map[string]*Template
	// LangPos is where each language's template is written.
	LangPos map[string]Pos
}

// At is where the text in lang is written (the text's place if unknown).
func (t *Text) At(lang string) Pos {
	if p, ok := t.LangPos[lang]; ok {
		return p
	}
	return t.Pos
}

// ButtonDef is a quick reply in a script.
type ButtonDef struct {
	Pos Pos
	// ID addresses the button in the data its message carries, so a press
	// still means the same button after buttons are added, removed or
	// reordered. Empty: its target (Key).
	ID    string
	Label *Text
	Goto  string // step in this flow
	Flow  string // another flow
	Value string // a value that flows can trigger on (button: VALUE)
	// Command runs a command as if the customer typed it (stop: opt out).
	Command string
}

// Key is the button's stable address: its id, else its target (the step,
// flow, value or command it leads to).
func (b *ButtonDef) Key() string {
	switch {
	case b.ID != "":
		return b.ID
	case b.Goto != "":
		return b.Goto
	case b.Flow != "":
		return b.Flow
	case b.Value != "":
		return b.Value
	}
	return b.Command
}

// ButtonData is what a script button's message carries: "k:FLOW:STEP:KEY".
// (Older messages carry "b:FLOW:STEP:N", the button's position then.)
func ButtonData(flow, step string, b *ButtonDef) string {
	return "k:" + flow + ":" + step + ":" + b.Key()
}

// Validation checks the answer to an ask step.
type Validation struct {
	Pos      Pos
	Type     string // text, email, phone, number, choice, regex, order
	Pattern  *regexp.Regexp
	Choices  []string
	Min, Max *float64
}

// Case is one arm of a branch.
type Case struct {
	Pos  Pos
	If   *Cond
	Goto string
}

// Cond is a condition: PATH OP VALUE, or just PATH (set and not empty).
type Cond struct {
	Pos   Pos
	Path  string
	Op    string // ==, !=, >=, <=, >, <, contains, "" (is set)
	Value string
}

// Offer gives the customer a coupon that expires.
type Offer struct {
	Pos      Pos
	Code     string
	Expires  time.Duration
	OnExpiry string // flow run when it expires unused
}

// Status describes an order status to customers.
type Status struct {
	Pos   Pos
	Label *Text
	Next  *Text // the expected next step
}

// Product is a catalog item, for recommendations.
type Product struct {
	Pos     Pos
	SKU     string
	Name    string
	Related []string
}

// Experiment compares a step's variants (texts and/or offers) on a goal:
// each customer is assigned one variant, sticky, by a hash of their id and
// the experiment's id (so experiments are independent of each other); a
// holdout share gets nothing from the flow from that step on. A conversion
// is the goal happening within Window after the customer's first exposure.
type Experiment struct {
	Pos  Pos
	ID   string
	Flow string // where it runs
	Step string
	// Goal is nil for a pick: ab step without one: exposures only.
	Goal     *Goal
	Window   time.Duration
	Holdout  float64 // share of customers, 0 <= Holdout < 1
	Variants []*Variant
	// HoldoutPos, WindowPos are where they are written.
	HoldoutPos Pos
}

// HoldoutName is the name the results of an experiment's holdout go by.
const HoldoutName = "holdout"

// DefaultWindow is an experiment's window when the script gives none.
const DefaultWindow = 7 * 24 * time.Hour

// Variant is one arm of an experiment.
type Variant struct {
	Pos   Pos
	Name  string
	Share float64 // relative weight among the variants (default 1)
	Say   *Text   // nil: the variant sends nothing itself (an offer alone)
	Offer *Offer
}

// Variant returns the variant named name, or nil.
func (e *Experiment) Variant(name string) *Variant {
	for _, v := range e.Variants {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Goal is what an experiment counts as a conversion: an event of a type, the
// customer entering a stage, or a survey answered with a score.
type Goal struct {
	Pos   Pos
	Raw   string // as written: order.paid, stage.loyalty, nps>=9
	Event string
	Stage string
	// Survey is the survey's answer name (its save, default nps or csat)
	// and Op, Score the comparison (>=, >, ==, <=, <).
	Survey string
	Op     string
	Score  int
}

// Experiment returns the experiment with id, or nil.
func (s *Scripts) Experiment(id string) *Experiment {
	for _, e := range s.Experiments {
		if e.ID == id {
			return e
		}
	}
	return nil
}
