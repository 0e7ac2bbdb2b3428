package conversations

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"journeybot/internal/suggest"
)

// Problem is one finding of the loader or lint, at a place in a file.
type Problem struct {
	Pos     Pos
	Msg     string
	Warning bool // warnings do not stop the scripts from running
}

func (p Problem) String() string {
	if p.Warning {
		return fmt.Sprintf("%s: warning: %s", p.Pos, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Pos, p.Msg)
}

// Problems is a list of problems; as an error it lists them all.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Errors returns only the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// IsTestFile reports whether a file in the scripts folder holds script tests.
func IsTestFile(name string) bool {
	base := filepath.Base(name)
	return strings.HasSuffix(base, "_test.yaml") || strings.HasSuffix(base, "_test.yml")
}

// ScriptFiles lists the script files (not tests) under dir, sorted.
func ScriptFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || IsTestFile(p) {
			return nil
		}
		if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scripts: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("scripts: no .yaml files in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// LoadDir loads and checks every script in dir. It returns the scripts only
// when there are no errors; problems may hold warnings either way.
func LoadDir(dir string) (*Scripts, Problems, error) {
	files, err := ScriptFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	srcs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("scripts: %w", err)
		}
		srcs[f] = b
	}
	s, probs := Load(srcs)
	if errs := probs.Errors(); len(errs) > 0 {
		return nil, probs, errs
	}
	return s, probs, nil
}

// Load parses and checks script sources by file name.
func Load(srcs map[string][]byte) (*Scripts, Problems) {
	l := &loader{s: &Scripts{Statuses: map[string]*Status{}}}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l.file(n, srcs[n])
	}
	l.s.Files = names
	if len(l.s.Languages) == 0 {
		l.s.Languages = []string{"pt-BR", "en"}
	}
	lint(l.s, l.settingsPos, &l.probs)
	l.s.words = indexWords(l.s.Intents)
	sort.SliceStable(l.probs, func(i, j int) bool {
		a, b := l.probs[i].Pos, l.probs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return l.s, l.probs
}

type loader struct {
	s           *Scripts
	probs       Problems
	fileName    string
	settingsPos Pos
}

func (l *loader) pos(n *yaml.Node) Pos { return Pos{File: l.fileName, Line: n.Line, Col: n.Column} }

func (l *loader) errorf(n *yaml.Node, format string, a ...any) {
	l.probs = append(l.probs, Problem{Pos: l.pos(n), Msg: fmt.Sprintf(format, a...)})
}

func (l *loader) file(name string, src []byte) {
	l.fileName = name
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		var te *yaml.TypeError
		msg := err.Error()
		if !errors.As(err, &te) {
			msg = yamlLinePrefix.ReplaceAllString(strings.TrimPrefix(msg, "yaml: "), "")
		}
		l.probs = append(l.probs, Problem{Pos: YAMLErrorPos(name, src, err), Msg: "not valid YAML: " + msg})
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	for _, kv := range l.mapping(root, "a script file", "settings", "stages", "transitions", "intents", "flows", "order_statuses", "catalog") {
		switch kv.key {
		case "settings":
			l.settings(kv.val)
		case "stages":
			for _, n := range l.seq(kv.val, "stages") {
				l.stage(n)
			}
		case "transitions":
			for _, n := range l.seq(kv.val, "transitions") {
				l.transition(n)
			}
		case "intents":
			for _, n := range l.seq(kv.val, "intents") {
				l.intent(n)
			}
		case "flows":
			for _, n := range l.seq(kv.val, "flows") {
				l.flow(n)
			}
		case "order_statuses":
			for _, st := range l.mapping(kv.val, "order_statuses") {
				l.status(st)
			}
		case "catalog":
			for _, n := range l.seq(kv.val, "catalog") {
				l.product(n)
			}
		}
	}
}

var (
	yamlLine       = regexp.MustCompile(`line (\d+)`)
	yamlLinePrefix = regexp.MustCompile(`^line \d+: `)
)

// YAMLErrorPos is where a YAML parse error in src is, as well as its
// message says. The parser reports a tab in an indentation at the line
// before it; the tab itself is the place.
func YAMLErrorPos(file string, src []byte, err error) Pos {
	line := 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	if strings.Contains(err.Error(), "tab character") {
		lines := strings.Split(string(src), "\n")
		for i := line - 1; i >= 0 && i < len(lines) && i <= line; i++ {
			indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " \t"))
			if c := strings.IndexByte(lines[i][:indent], '\t'); c >= 0 {
				return Pos{File: file, Line: i + 1, Col: c + 1}
			}
		}
	}
	return Pos{File: file, Line: line, Col: 1}
}

type keyVal struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// mapping returns the pairs of a mapping node, reporting unknown and
// duplicate keys. With no allowed keys every key is accepted.
func (l *loader) mapping(n *yaml.Node, what string, allowed ...string) []keyVal {
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s must be a mapping (key: value lines)", what)
		return nil
	}
	var out []keyVal
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			l.errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		if len(allowed) > 0 && !slices.Contains(allowed, k.Value) {
			if near := suggest.Closest(k.Value, allowed, 2); near != "" {
				l.errorf(k, "unknown field %q in %s (did you mean %q?)", k.Value, what, near)
			} else {
				l.errorf(k, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(allowed, ", "))
			}
			continue
		}
		out = append(out, keyVal{k.Value, k, v})
	}
	return out
}

func (l *loader) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s must be a list (lines starting with -)", what)
		return nil
	}
	return n.Content
}

func (l *loader) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, "%s must be a single value", what)
		return ""
	}
	return n.Value
}

func (l *loader) strs(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range l.seq(n, what) {
		out = append(out, l.str(c, what))
	}
	return out
}

// strsAt is strs with the place of each value.
func (l *loader) strsAt(n *yaml.Node, what string) ([]string, []Pos) {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, []Pos{l.pos(n)}
	}
	var out []string
	var at []Pos
	for _, c := range l.seq(n, what) {
		out = append(out, l.str(c, what))
		at = append(at, l.pos(c))
	}
	return out, at
}

func (l *loader) boolean(n *yaml.Node, what string) bool {
	b, err := strconv.ParseBool(l.str(n, what))
	if err != nil {
		l.errorf(n, "%s must be true or false", what)
	}
	return b
}

func (l *loader) integer(n *yaml.Node, what string) int {
	i, err := strconv.Atoi(l.str(n, what))
	if err != nil {
		l.errorf(n, "%s must be a whole number", what)
	}
	return i
}

// duration reads 90s, 30m, 4h, 3d or 2w.
func (l *loader) duration(n *yaml.Node, what string) time.Duration {
	s := l.str(n, what)
	d, err := ParseDuration(s)
	if err != nil {
		l.errorf(n, "%s: %v", what, err)
	}
	return d
}

// ParseDuration reads Go durations plus days (3d) and weeks (2w).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if v, err := strconv.ParseFloat(n, 64); err == nil && v > 0 {
			return time.Duration(v * 24 * float64(time.Hour)), nil
		}
	}
	if n, ok := strings.CutSuffix(s, "w"); ok {
		if v, err := strconv.ParseFloat(n, 64); err == nil && v > 0 {
			return time.Duration(v * 7 * 24 * float64(time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q (write 90s, 30m, 4h, 3d or 2w)", s)
	}
	return d, nil
}

func (l *loader) settings(n *yaml.Node) {
	l.settingsPos = l.pos(n)
	for _, kv := range l.mapping(n, "settings", "languages", "fallback", "facts", "events") {
		switch kv.key {
		case "events":
			l.s.Events = append(l.s.Events, l.strs(kv.val, "events")...)
		case "facts":
			if l.s.Facts == nil {
				l.s.Facts = map[string]*Text{}
			}
			for _, f := range l.mapping(kv.val, "settings.facts") {
				l.s.Facts[f.key] = l.text(f.val, "fact "+f.key)
			}
		case "languages":
			l.s.Languages = l.strs(kv.val, "languages")
		case "fallback":
			l.s.Fallback = l.str(kv.val, "fallback")
		}
	}
}

func (l *loader) stage(n *yaml.Node) {
	st := &Stage{Pos: l.pos(n)}
	if n.Kind == yaml.ScalarNode {
		st.ID = n.Value
	}
	for _, kv := range l.mapping(n, "a stage", "id", "initial", "description", "topics") {
		switch kv.key {
		case "id":
			st.ID = l.str(kv.val, "id")
		case "initial":
			st.Initial = l.boolean(kv.val, "initial")
		case "description":
			st.Description = l.str(kv.val, "description")
		case "topics":
			st.Topics = l.strs(kv.val, "topics")
		}
	}
	l.s.Stages = append(l.s.Stages, st)
}

func (l *loader) transition(n *yaml.Node) {
	t := &Transition{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "a transition", "on", "after", "since", "from", "to") {
		switch kv.key {
		case "on":
			t.On, t.OnPos = l.str(kv.val, "on"), l.pos(kv.val)
		case "after":
			t.After = l.duration(kv.val, "after")
		case "since":
			t.Since, t.SincePos = l.str(kv.val, "since"), l.pos(kv.val)
		case "from":
			t.From, t.FromPos = l.strsAt(kv.val, "from")
		case "to":
			t.To, t.ToPos = l.str(kv.val, "to"), l.pos(kv.val)
		}
	}
	l.s.Transitions = append(l.s.Transitions, t)
}

func (l *loader) intent(n *yaml.Node) {
	in := &Intent{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "an intent", "id", "keywords", "patterns") {
		switch kv.key {
		case "id":
			in.ID = l.str(kv.val, "id")
		case "keywords":
			items := []*yaml.Node{kv.val}
			if kv.val.Kind == yaml.SequenceNode {
				items = kv.val.Content
			}
			for _, kn := range items {
				if k := newKeyword(l.str(kn, "keyword"), l.pos(kn)); k != nil {
					in.Keywords = append(in.Keywords, k)
				}
			}
		case "patterns":
			items := []*yaml.Node{kv.val}
			if kv.val.Kind == yaml.SequenceNode {
				items = kv.val.Content
			}
			for _, pn := range items {
				re, err := regexp.Compile("(?i)" + l.str(pn, "pattern"))
				if err != nil {
					l.errorf(pn, "pattern does not compile: %v", err)
					continue
				}
				in.Patterns = append(in.Patterns, re)
			}
		}
	}
	l.s.Intents = append(l.s.Intents, in)
}

func (l *loader) flow(n *yaml.Node) {
	f := &Flow{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "a flow", "id", "stages", "triggers", "steps", "transactional", "description") {
		switch kv.key {
		case "id":
			f.ID = l.str(kv.val, "id")
		case "stages":
			f.Stages, f.StagesPos = l.strsAt(kv.val, "stages")
		case "transactional":
			f.Transactional = l.boolean(kv.val, "transactional")
		case "triggers":
			for _, tn := range l.seq(kv.val, "triggers") {
				f.Triggers = append(f.Triggers, l.trigger(tn))
			}
		case "steps":
			for _, sn := range l.seq(kv.val, "steps") {
				f.Steps = append(f.Steps, l.step(sn))
			}
		}
	}
	l.s.Flows = append(l.s.Flows, f)
}

func (l *loader) trigger(n *yaml.Node) *Trigger {
	t := &Trigger{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "a trigger", "intent", "command", "button", "event", "after", "since", "inactive") {
		switch kv.key {
		case "intent":
			t.Intent = l.str(kv.val, "intent")
		case "command":
			t.Command = strings.TrimPrefix(strings.ToLower(l.str(kv.val, "command")), "/")
		case "button":
			t.Button = l.str(kv.val, "button")
		case "event":
			t.Event, t.EventPos = l.str(kv.val, "event"), l.pos(kv.val)
		case "after":
			t.After = l.duration(kv.val, "after")
		case "since":
			t.Since, t.SincePos = l.str(kv.val, "since"), l.pos(kv.val)
		case "inactive":
			t.Inactive = l.duration(kv.val, "inactive")
		}
	}
	return t
}

func article(word string) string {
	if strings.ContainsAny(word[:1], "aeiou") {
		return "an"
	}
	return "a"
}

func (l *loader) step(n *yaml.Node) *Step {
	st := &Step{Pos: l.pos(n)}
	kvs := l.mapping(n, "a step", stepKeys...)
	var kinds []string
	for _, kv := range kvs {
		// end: true next to another kind ends the flow after that step.
		if slices.Contains(stepKinds, kv.key) && kv.key != KindEnd {
			kinds = append(kinds, kv.key)
		}
	}
	if len(kinds) == 0 && slices.ContainsFunc(kvs, func(kv keyVal) bool { return kv.key == KindEnd }) {
		kinds = []string{KindEnd}
	}
	switch len(kinds) {
	case 0:
		if n.Kind == yaml.MappingNode {
			l.errorf(n, "step has no kind: give one of %s", strings.Join(stepKinds, ", "))
		}
	case 1:
		st.Kind = kinds[0]
	default:
		l.errorf(n, "step has several kinds (%s): split it into one step per kind", strings.Join(kinds, ", "))
		st.Kind = kinds[0]
	}
	kind := kindSpec(st.Kind)
	for _, kv := range kvs {
		f := fieldOf(kind, kv.key)
		if f == nil {
			continue
		}
		f.read(l, st, kv.val)
		if kind != nil && len(kinds) == 1 && !slices.ContainsFunc(commonStepFields, func(c stepField) bool { return c.key == kv.key }) &&
			!slices.ContainsFunc(kind.fields, func(c stepField) bool { return c.key == kv.key }) {
			l.errorf(kv.keyNode, "%s does not belong to %s %s step (it goes with %s)", kv.key, article(st.Kind), st.Kind, strings.Join(kindsWith(kv.key), ", "))
		}
	}
	return st
}

// channelTemplate reads {name, language, params} (what: the field's name).
func (l *loader) channelTemplate(n *yaml.Node, what string) *ChannelTemplate {
	t := &ChannelTemplate{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, what, "name", "language", "params") {
		switch kv.key {
		case "name":
			t.Name = l.str(kv.val, what+".name")
		case "language":
			t.Language = l.str(kv.val, what+".language")
		case "params":
			for _, pn := range l.seq(kv.val, what+".params") {
				t.Params = append(t.Params, l.text(pn, what+" param"))
			}
		}
	}
	return t
}

// text reads a per-language text: a mapping language -> template, or a plain
// string (allowed only when the scripts have a single language).
func (l *loader) text(n *yaml.Node, what string) *Text {
	t := &Text{Pos: l.pos(n), ByLang: map[string]*Template{}, LangPos: map[string]Pos{}}
	parse := func(lang string, vn *yaml.Node) {
		t.LangPos[lang] = l.pos(vn)
		src := l.str(vn, what)
		tpl, err := ParseTemplate(src)
		if err != nil {
			l.errorf(vn, "%s (%s): %v", what, lang, err)
			t.ByLang[lang] = nil // present, but broken: reported once
			return
		}
		t.ByLang[lang] = tpl
	}
	if n.Kind == yaml.ScalarNode {
		parse("*", n)
		return t
	}
	for _, kv := range l.mapping(n, what+" (a text per language)") {
		parse(kv.key, kv.val)
	}
	return t
}

func (l *loader) button(n *yaml.Node) *ButtonDef {
	b := &ButtonDef{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "a button", "id", "label", "goto", "flow", "value", "command") {
		switch kv.key {
		case "id":
			b.ID = l.str(kv.val, "id")
		case "label":
			b.Label = l.text(kv.val, "label")
		case "goto":
			b.Goto = l.str(kv.val, "goto")
		case "flow":
			b.Flow = l.str(kv.val, "flow")
		case "value":
			b.Value = l.str(kv.val, "value")
		case "command":
			b.Command = strings.TrimPrefix(strings.ToLower(l.str(kv.val, "command")), "/")
		}
	}
	if b.Label == nil {
		l.errorf(n, "button needs a label")
	}
	if n := btoi(b.Goto != "") + btoi(b.Flow != "") + btoi(b.Value != "") + btoi(b.Command != ""); n != 1 {
		l.probs = append(l.probs, Problem{Pos: b.Pos, Msg: "button needs exactly one of goto (a step), flow (a flow), value or command (e.g. stop)"})
	}
	return b
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (l *loader) validation(n *yaml.Node) *Validation {
	v := &Validation{Pos: l.pos(n)}
	var kvs []keyVal
	if n.Kind == yaml.ScalarNode { // validate: email
		v.Type = n.Value
	} else {
		kvs = l.mapping(n, "validate", "type", "pattern", "choices", "min", "max")
	}
	for _, kv := range kvs {
		switch kv.key {
		case "type":
			v.Type = l.str(kv.val, "type")
		case "pattern":
			re, err := regexp.Compile(l.str(kv.val, "pattern"))
			if err != nil {
				l.errorf(kv.val, "pattern does not compile: %v", err)
			}
			v.Pattern = re
		case "choices":
			for _, c := range l.strs(kv.val, "choices") {
				v.Choices = append(v.Choices, Normalize(c))
			}
		case "min", "max":
			f, err := strconv.ParseFloat(l.str(kv.val, kv.key), 64)
			if err != nil {
				l.errorf(kv.val, "%s must be a number", kv.key)
			}
			if kv.key == "min" {
				v.Min = &f
			} else {
				v.Max = &f
			}
		}
	}
	switch v.Type {
	case "text", "email", "phone", "number", "order":
	case "choice":
		if len(v.Choices) == 0 {
			l.errorf(n, "validate type choice needs choices")
		}
	case "regex":
		if v.Pattern == nil {
			l.errorf(n, "validate type regex needs a pattern")
		}
	default:
		l.errorf(n, "unknown validate type %q (text, email, phone, number, choice, regex, order)", v.Type)
	}
	return v
}

func (l *loader) branchCase(n *yaml.Node) *Case {
	c := &Case{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "a branch case", "if", "goto") {
		switch kv.key {
		case "if":
			c.If = l.cond(kv.val)
		case "goto":
			c.Goto = l.str(kv.val, "goto")
		}
	}
	if c.If == nil || c.Goto == "" {
		l.errorf(n, "a branch case needs if and goto")
	}
	return c
}

var condOps = []string{"==", "!=", ">=", "<=", ">", "<", "contains"}

// cond reads "PATH OP VALUE" or "PATH".
func (l *loader) cond(n *yaml.Node) *Cond {
	s := strings.TrimSpace(l.str(n, "condition"))
	c := &Cond{Pos: l.pos(n)}
	fields := strings.Fields(s)
	switch {
	case len(fields) == 1:
		c.Path = fields[0]
	case len(fields) >= 3 && slices.Contains(condOps, fields[1]):
		c.Path, c.Op = fields[0], fields[1]
		c.Value = strings.Trim(strings.TrimSpace(strings.SplitN(s, fields[1], 2)[1]), `"'`)
	default:
		l.errorf(n, "condition %q: write FIELD OP VALUE (OP is one of %s) or just FIELD", s, strings.Join(condOps, " "))
		return c
	}
	if !validPath(c.Path) {
		l.errorf(n, "condition %q: bad field %q", s, c.Path)
	}
	return c
}

func (l *loader) offer(n *yaml.Node) *Offer {
	o := &Offer{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "an offer", "code", "expires", "on_expiry") {
		switch kv.key {
		case "code":
			o.Code = l.str(kv.val, "code")
		case "expires":
			o.Expires = l.duration(kv.val, "expires")
		case "on_expiry":
			o.OnExpiry = l.str(kv.val, "on_expiry")
		}
	}
	if o.Code == "" {
		l.errorf(n, "an offer needs a code")
	}
	return o
}

func (l *loader) status(kv keyVal) {
	st := &Status{Pos: l.pos(kv.keyNode)}
	for _, f := range l.mapping(kv.val, "an order status", "label", "next") {
		switch f.key {
		case "label":
			st.Label = l.text(f.val, "label")
		case "next":
			st.Next = l.text(f.val, "next")
		}
	}
	if _, dup := l.s.Statuses[kv.key]; dup {
		l.errorf(kv.keyNode, "order status %q defined twice", kv.key)
	}
	l.s.Statuses[kv.key] = st
}

func (l *loader) product(n *yaml.Node) {
	p := &Product{Pos: l.pos(n)}
	for _, kv := range l.mapping(n, "a catalog item", "sku", "name", "related") {
		switch kv.key {
		case "sku":
			p.SKU = l.str(kv.val, "sku")
		case "name":
			p.Name = l.str(kv.val, "name")
		case "related":
			p.Related = l.strs(kv.val, "related")
		}
	}
	l.s.Catalog = append(l.s.Catalog, p)
}

// goalOps are the comparisons a survey goal may use, longest first.
var goalOps = []string{">=", "<=", "==", ">", "<"}

// goal reads an experiment's goal: an event type (order.paid), stage.ID
// (entering the stage) or SURVEY OP N (nps>=9: the survey's answer name).
func (l *loader) goal(n *yaml.Node) *Goal {
	g := &Goal{Pos: l.pos(n), Raw: strings.TrimSpace(l.str(n, "goal"))}
	for _, op := range goalOps {
		name, score, ok := strings.Cut(g.Raw, op)
		if !ok {
			continue
		}
		g.Survey, g.Op = strings.TrimPrefix(strings.TrimSpace(name), "answers."), op
		v, err := strconv.Atoi(strings.TrimSpace(score))
		if err != nil || g.Survey == "" {
			l.errorf(n, "goal %q: a survey goal is NAME%sSCORE, e.g. nps>=9 or csat>=4", g.Raw, op)
		}
		g.Score = v
		return g
	}
	if st, ok := strings.CutPrefix(g.Raw, "stage."); ok {
		g.Stage = st
		return g
	}
	g.Event = g.Raw
	if g.Raw == "" {
		l.errorf(n, "goal is empty: give an event type (order.paid), stage.ID or a survey score (nps>=9)")
	}
	return g
}

// share reads a share of customers: 10% or 0.1.
func (l *loader) share(n *yaml.Node, what string) float64 {
	s := strings.TrimSpace(l.str(n, what))
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		l.errorf(n, "%s must be a share: 10%% or 0.1", what)
		return 0
	}
	if pct {
		v /= 100
	}
	return v
}

// variant reads one arm of an experiment step.
func (l *loader) variant(n *yaml.Node) *Variant {
	v := &Variant{Pos: l.pos(n), Share: 1}
	for _, kv := range l.mapping(n, "a variant", "name", "say", "offer", "share") {
		switch kv.key {
		case "name":
			v.Name = l.str(kv.val, "name")
		case "say":
			v.Say = l.text(kv.val, "say")
		case "offer":
			v.Offer = l.offer(kv.val)
		case "share":
			v.Share = l.share(kv.val, "share")
		}
	}
	return v
}
