// Package scripttest runs script tests: YAML files (*_test.yaml) next to the
// scripts that give a starting customer, a sequence of inputs (the customer
// says something, presses a button, an event arrives, time passes) and what
// the bot must answer. It runs the real bot and store on an embedded Redis
// with a simulated clock, so a 30-day journey tests in milliseconds.
package scripttest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"journeybot/bot"
	"journeybot/channels"
	"journeybot/conversations"
	"journeybot/internal/channeltest"
	"journeybot/internal/simclock"
	"journeybot/journey"
)

// File is one test file.
type File struct {
	Tests []*Case `yaml:"tests"`
}

// Case is one test: a customer and what happens to them.
type Case struct {
	Name     string   `yaml:"name"`
	Start    string   `yaml:"start"` // RFC 3339; default 2026-03-02T10:00:00-03:00 (a Monday morning)
	Customer Customer `yaml:"customer"`
	Steps    []*Step  `yaml:"steps"`
	// StaffAvailable false runs the test as a bot without a staff desk
	// (no Slack): the condition staff.available is false. Default true.
	StaffAvailable *bool `yaml:"staff_available"`
	line           int
}

// Customer is the starting customer.
type Customer struct {
	ID       string            `yaml:"id"`
	Stage    string            `yaml:"stage"`
	Name     string            `yaml:"name"`
	Language string            `yaml:"language"`
	TimeZone string            `yaml:"time_zone"`
	Email    string            `yaml:"email"`
	Phone    string            `yaml:"phone"`
	Points   int               `yaml:"points"`
	Answers  map[string]string `yaml:"answers"`
	Fields   map[string]string `yaml:"fields"`
	Orders   []Order           `yaml:"orders"`
	OptedOut bool              `yaml:"opted_out"`
}

// Order is an order of the starting customer or of an event.
type Order struct {
	ID          string  `yaml:"id"`
	Status      string  `yaml:"status"`
	Items       []Item  `yaml:"items"`
	Total       float64 `yaml:"total"`
	Currency    string  `yaml:"currency"`
	TrackingURL string  `yaml:"tracking_url"`
	Email       string  `yaml:"email"`
	Phone       string  `yaml:"phone"`
}

// Item is an order line.
type Item struct {
	Name  string  `yaml:"name"`
	SKU   string  `yaml:"sku"`
	Qty   int     `yaml:"qty"`
	Price float64 `yaml:"price"`
}

// Event is a commerce event in a test.
type Event struct {
	Type   string            `yaml:"type"`
	Order  *Order            `yaml:"order"`
	Points *int              `yaml:"points"`
	Coupon string            `yaml:"coupon"`
	Data   map[string]string `yaml:"data"`
}

// Step is one input and its expectations.
type Step struct {
	Say     *string `yaml:"say"`
	Press   string  `yaml:"press"`
	Command string  `yaml:"command"`
	Event   *Event  `yaml:"event"`
	Advance string  `yaml:"advance"`
	Staff   string  `yaml:"staff"` // take, resolve
	// StaffSays relays a staff message to the customer.
	StaffSays string `yaml:"staff_says"`

	Expect    *[]Expect         `yaml:"expect"`
	Stage     string            `yaml:"stage"`
	Profile   map[string]string `yaml:"profile"`
	Answers   map[string]string `yaml:"answers"`
	Escalated *bool             `yaml:"escalated"`
	OptedOut  *bool             `yaml:"opted_out"`
	line      int
	event     *yaml.Node
}

// Expect is one expected bot message: an exact text (a plain string), or
// checks on it.
type Expect struct {
	Exact       *string  `yaml:"exact"`
	Contains    Strings  `yaml:"contains"`
	Match       string   `yaml:"match"`
	Buttons     []string `yaml:"buttons"`
	NotContains Strings  `yaml:"not_contains"`
}

// UnmarshalYAML reads a step and keeps its line (fixtureChecker has
// checked its keys and values).
func (s *Step) UnmarshalYAML(n *yaml.Node) error {
	type plain Step
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.line = n.Line
	s.event = child(n, "event")
	return nil
}

// UnmarshalYAML reads a test case and keeps its line.
func (c *Case) UnmarshalYAML(n *yaml.Node) error {
	type plain Case
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.line = n.Line
	return nil
}

// UnmarshalYAML reads an expectation: a string is the exact text.
func (e *Expect) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Exact = &n.Value
		return nil
	}
	type plain Expect
	return n.Decode((*plain)(e))
}

// readTests decodes a test file, reporting every mistake in it.
func readTests(name string, src []byte, s *conversations.Scripts) (*File, Problems) {
	c := &fixtureChecker{file: name, s: s}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, Problems{{Pos: conversations.YAMLErrorPos(name, src, err), Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return &File{}, nil
	}
	root := doc.Content[0]
	c.shape(root, reflect.TypeOf(File{}), "a test file")
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	var f File
	if err := root.Decode(&f); err != nil {
		c.errorf(root, "%v", err)
		return nil, c.probs
	}
	c.tests(root, &f)
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	return &f, nil
}

// Report is the outcome of a run.
type Report struct {
	Passed, Failed int // tests, plus example files below their accuracy
	// Rules are the sending rules the tests ran with, and where from.
	Rules   string
	Results []Result
	Intents []*IntentReport // one per intent example file
	// Coverage is what the tests exercised, when asked for.
	Coverage *Coverage
}

// Result is one test's outcome.
type Result struct {
	File, Name string
	Failures   []string
}

// Print writes the report: failures with their place and a diff, then a summary.
func (r *Report) Print(w io.Writer) {
	for _, res := range r.Results {
		if len(res.Failures) == 0 {
			fmt.Fprintf(w, "ok   %s: %s\n", res.File, res.Name)
			continue
		}
		fmt.Fprintf(w, "FAIL %s: %s\n", res.File, res.Name)
		for _, f := range res.Failures {
			fmt.Fprintf(w, "     %s\n", strings.ReplaceAll(f, "\n", "\n     "))
		}
	}
	for _, ir := range r.Intents {
		ir.Print(w)
	}
	if r.Coverage != nil {
		r.Coverage.Print(w)
	}
	if r.Rules != "" {
		fmt.Fprintf(w, "send rules: %s\n", r.Rules)
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", r.Passed, r.Failed)
}

// describeRules says which caps and quiet hours a run used.
func describeRules(o conversations.Options, from string) string {
	tz := "America/Sao_Paulo"
	if o.TimeZone != nil {
		tz = o.TimeZone.String()
	}
	clock := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return fmt.Sprintf("at most %d nudges a day and %d a week, quiet %s-%s (%s), grace %s (%s)",
		o.MaxPerDay, o.MaxPerWeek, clock(o.QuietStart), clock(o.QuietEnd), tz, o.Grace, from)
}

// TestFiles lists the test files under dir.
func TestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && conversations.IsTestFile(p) {
			files = append(files, p)
		}
		return err
	})
	sort.Strings(files)
	return files, err
}

// Options tune a run.
type Options struct {
	// Filter, when not empty, selects tests whose name contains it.
	Filter string
	// Send are the sending rules the bot runs with (caps, quiet hours,
	// grace); zero: conversations.DefaultOptions.
	Send *conversations.Options
	// Rules says where Send came from, for the report ("journeybot.yaml").
	Rules string
	// Coverage measures what the tests exercise (Report.Coverage).
	Coverage bool
}

// RunDir lints the scripts in dir and runs every test file there with the
// built-in sending rules. filter, when not empty, selects tests whose name
// contains it.
func RunDir(ctx context.Context, dir, filter string) (*Report, error) {
	return Run(ctx, dir, Options{Filter: filter})
}

// Run lints the scripts in dir and runs every test file there.
func Run(ctx context.Context, dir string, o Options) (*Report, error) {
	filter := o.Filter
	send := conversations.DefaultOptions()
	if o.Send != nil {
		send = *o.Send
	}
	if o.Rules == "" {
		o.Rules = "built-in defaults"
	}
	s, _, err := conversations.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scripts do not lint:\n%w", err)
	}
	files, err := TestFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no test files (*_test.yaml) in %s", dir)
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, err
	}
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	rep := &Report{Rules: describeRules(send, o.Rules)}
	var hit *hits
	if o.Coverage {
		hit = &hits{set: map[conversations.Hit]bool{}}
		send.Cover = hit.record
	}
	var bad Problems
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if ef, ok, err := exampleFile(f, src); err != nil {
			return nil, err
		} else if ok {
			ir, err := CheckExamples(s, ef, nil)
			if err != nil {
				return nil, err
			}
			if !ir.Passed() {
				rep.Failed++
			}
			rep.Intents = append(rep.Intents, ir)
			continue
		}
		file, probs := readTests(f, src, s)
		if len(probs) > 0 {
			bad = append(bad, probs...)
			continue
		}
		for i, c := range file.Tests {
			if filter != "" && !strings.Contains(c.Name, filter) {
				continue
			}
			m.FlushAll()
			res := Result{File: fmt.Sprintf("%s:%d", f, c.line), Name: c.Name}
			if res.Name == "" {
				res.Name = fmt.Sprintf("test %d", i+1)
			}
			res.Failures = runCase(ctx, rdb, s, send, f, c)
			if len(res.Failures) == 0 {
				rep.Passed++
			} else {
				rep.Failed++
			}
			rep.Results = append(rep.Results, res)
		}
	}
	if len(bad) > 0 {
		return nil, bad
	}
	if hit != nil {
		rep.Coverage = hit.coverage(s)
	}
	return rep, nil
}

func runCase(ctx context.Context, rdb *redis.Client, s *conversations.Scripts, send conversations.Options, file string, c *Case) (fails []string) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("-03", -3*3600))
	if c.Start != "" {
		t, err := time.Parse(time.RFC3339, c.Start)
		if err != nil {
			return []string{fmt.Sprintf("start: %v", err)}
		}
		start = t
	}
	clk := simclock.New(start)
	store := journey.NewStore(rdb, journey.Options{})
	opt := send
	// Staff are there unless the test says (staff_available: false).
	opt.NoStaff = c.StaffAvailable != nil && !*c.StaffAvailable
	engine := conversations.NewEngine(s, opt)
	rec := channeltest.New("test")
	b := bot.New(bot.Options{Store: store, Engine: engine, Now: clk.Now})
	b.AddChannel(rec)
	id := c.Customer.ID
	if id == "" {
		id = "customer-1"
	}
	if err := seed(ctx, store, id, c.Customer, start); err != nil {
		return []string{err.Error()}
	}
	seq := 0
	// lastButtons are the buttons of the most recent message that had some;
	// a test presses them by label.
	var lastButtons []channels.Button
	for _, st := range c.Steps {
		seq++
		at := fmt.Sprintf("%s:%d", file, st.line)
		in := channels.Inbound{Channel: "test", Address: id, ID: strconv.Itoa(seq), At: clk.Now(), LanguageCode: ""}
		var err error
		switch {
		case st.Say != nil:
			in.Kind, in.Text = channels.KindText, *st.Say
			err = b.HandleInbound(ctx, in)
		case st.Press != "":
			data, ok := findButton(st.Press, lastButtons)
			if !ok {
				fails = append(fails, fmt.Sprintf("%s: no button %q to press; the last buttons were: %s", at, st.Press, strings.Join(labels(lastButtons), ", ")))
				return fails
			}
			in.Kind, in.Data, in.Text = channels.KindButton, data, st.Press
			err = b.HandleInbound(ctx, in)
		case st.Command != "":
			name, args, _ := strings.Cut(strings.TrimPrefix(st.Command, "/"), " ")
			in.Kind, in.Command, in.Args = channels.KindCommand, strings.ToLower(name), args
			err = b.HandleInbound(ctx, in)
		case st.Event != nil:
			err = sendEvent(ctx, b, id, seq, st.event, clk.Now())
		case st.Advance != "":
			err = advance(ctx, b, store, clk, st.Advance)
		case st.Staff == "take":
			_, _, err = b.Claim(ctx, id, "U1", "Maria Souza")
		case st.Staff == "resolve":
			_, err = b.Resolve(ctx, id, "Maria Souza")
		case st.Staff != "":
			err = fmt.Errorf("staff: %q (want take or resolve)", st.Staff)
		case st.StaffSays != "":
			err = b.StaffReply(ctx, id, "Maria Souza", st.StaffSays)
		}
		if err != nil {
			return append(fails, fmt.Sprintf("%s: %v", at, err))
		}
		got := rec.Take()
		if len(got) > 0 {
			for i := len(got) - 1; i >= 0; i-- {
				if len(got[i].Buttons) > 0 {
					lastButtons = got[i].Buttons
					break
				}
			}
		}
		fails = append(fails, check(ctx, store, id, at, st, got)...)
		if len(fails) > 0 {
			return fails
		}
	}
	return fails
}

func findButton(label string, bs []channels.Button) (string, bool) {
	for _, btn := range bs {
		if conversations.Normalize(btn.Label) == conversations.Normalize(label) {
			return btn.Data, true
		}
	}
	return "", false
}

func labels(bs []channels.Button) []string {
	var out []string
	for _, b := range bs {
		out = append(out, strconv.Quote(b.Label))
	}
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

func seed(ctx context.Context, store *journey.Store, id string, c Customer, now time.Time) error {
	_, err := store.Update(ctx, id, "", now, func(j *journey.Journey) ([]journey.HistoryEntry, error) {
		j.Stage = c.Stage
		j.Profile = journey.Profile{Name: c.Name, Language: c.Language, TimeZone: c.TimeZone, Email: c.Email, Phone: c.Phone,
			Points: c.Points, Fields: c.Fields, Addresses: map[string]string{"test": id}}
		if c.OptedOut {
			j.Profile.OptedOut = now.Unix()
		}
		j.Answers = c.Answers
		for i, o := range c.Orders {
			jo := toOrder(o)
			jo.Created = now.Add(time.Duration(i-len(c.Orders)) * time.Hour).Unix()
			j.UpsertOrder(jo)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return store.Link(ctx, "test", id, id)
}

func toOrder(o Order) journey.Order {
	jo := journey.Order{ID: o.ID, Status: o.Status, Total: o.Total, Currency: o.Currency, TrackingURL: o.TrackingURL, Email: o.Email, Phone: o.Phone}
	for _, it := range o.Items {
		jo.Items = append(jo.Items, journey.Item{Name: it.Name, SKU: it.SKU, Qty: it.Qty, Price: it.Price})
	}
	return jo
}

func sendEvent(ctx context.Context, b *bot.Bot, id string, seq int, n *yaml.Node, now time.Time) error {
	ev, err := parseEvent(n, id, fmt.Sprintf("test-%d", seq), now)
	if err != nil {
		return err
	}
	_, err = b.HandleEvent(ctx, ev)
	return err
}

// advance moves the simulated clock forward, waking customers at each due
// time on the way, as the scheduler would.
func advance(ctx context.Context, b *bot.Bot, store *journey.Store, clk *simclock.Clock, d string) error {
	dur, err := conversations.ParseDuration(d)
	if err != nil {
		return err
	}
	target := clk.Now().Add(dur)
	for i := 0; i < 10000; i++ {
		due, ok, err := store.NextWake(ctx)
		if err != nil {
			return err
		}
		if !ok || due > target.Unix() {
			break
		}
		if t := time.Unix(due, 0).In(target.Location()); t.After(clk.Now()) {
			clk.Set(t)
		}
		if _, err := b.Tick(ctx); err != nil {
			return err
		}
	}
	clk.Set(target)
	_, err = b.Tick(ctx)
	return err
}

func check(ctx context.Context, store *journey.Store, id, at string, st *Step, got []channels.Outbound) []string {
	var fails []string
	if st.Expect != nil {
		want := *st.Expect
		ok := len(want) == len(got)
		for i := 0; ok && i < len(want); i++ {
			ok = matches(want[i], got[i])
		}
		if !ok {
			fails = append(fails, fmt.Sprintf("%s: messages differ\n%s", at, diff(want, got)))
		}
	}
	if st.Stage == "" && st.Profile == nil && st.Answers == nil && st.Escalated == nil && st.OptedOut == nil {
		return fails
	}
	j, _, err := store.Get(ctx, id)
	if err != nil {
		return append(fails, fmt.Sprintf("%s: %v", at, err))
	}
	if st.Stage != "" && j.Stage != st.Stage {
		fails = append(fails, fmt.Sprintf("%s: stage is %q, want %q", at, j.Stage, st.Stage))
	}
	for k, v := range st.Profile {
		if g := profileField(j, k); g != v {
			fails = append(fails, fmt.Sprintf("%s: profile %s is %q, want %q", at, k, g, v))
		}
	}
	for k, v := range st.Answers {
		if g := j.Answers[k]; g != v {
			fails = append(fails, fmt.Sprintf("%s: answers.%s is %q, want %q", at, k, g, v))
		}
	}
	if st.Escalated != nil && (j.Case != nil) != *st.Escalated {
		fails = append(fails, fmt.Sprintf("%s: escalated is %v, want %v", at, j.Case != nil, *st.Escalated))
	}
	if st.OptedOut != nil && (j.Profile.OptedOut != 0) != *st.OptedOut {
		fails = append(fails, fmt.Sprintf("%s: opted_out is %v, want %v", at, j.Profile.OptedOut != 0, *st.OptedOut))
	}
	return fails
}

func profileField(j *journey.Journey, k string) string {
	switch k {
	case "name":
		return j.Profile.Name
	case "email":
		if j.Profile.Email != "" {
			return j.Profile.Email
		}
		return j.Profile.Fields["email"]
	case "phone":
		if j.Profile.Phone != "" {
			return j.Profile.Phone
		}
		return j.Profile.Fields["phone"]
	case "language":
		return j.Profile.Language
	case "points":
		return strconv.Itoa(j.Profile.Points)
	}
	return j.Profile.Fields[k]
}

func matches(e Expect, m channels.Outbound) bool {
	if e.Exact != nil && strings.TrimSpace(*e.Exact) != m.Text {
		return false
	}
	for _, c := range e.Contains {
		if !strings.Contains(m.Text, c) {
			return false
		}
	}
	for _, c := range e.NotContains {
		if strings.Contains(m.Text, c) {
			return false
		}
	}
	if e.Match != "" {
		re, err := regexp.Compile(e.Match)
		if err != nil || !re.MatchString(m.Text) {
			return false
		}
	}
	if e.Buttons != nil && !slices.Equal(e.Buttons, labelsPlain(m.Buttons)) {
		return false
	}
	return true
}

func labelsPlain(bs []channels.Button) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.Label)
	}
	return out
}

func describeExpect(e Expect) string {
	var parts []string
	if e.Exact != nil {
		parts = append(parts, strconv.Quote(*e.Exact))
	}
	for _, c := range e.Contains {
		parts = append(parts, "contains "+strconv.Quote(c))
	}
	for _, c := range e.NotContains {
		parts = append(parts, "not contains "+strconv.Quote(c))
	}
	if e.Match != "" {
		parts = append(parts, "matches /"+e.Match+"/")
	}
	if e.Buttons != nil {
		parts = append(parts, "buttons "+strings.Join(e.Buttons, " | "))
	}
	return strings.Join(parts, ", ")
}

func diff(want []Expect, got []channels.Outbound) string {
	var b strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		mark := "  "
		var w, g string
		if i < len(want) {
			w = describeExpect(want[i])
		} else {
			w = "(no message)"
		}
		if i < len(got) {
			g = strconv.Quote(got[i].Text)
			if len(got[i].Buttons) > 0 {
				g += " buttons " + strings.Join(labelsPlain(got[i].Buttons), " | ")
			}
		} else {
			g = "(no message)"
		}
		if i >= len(want) || i >= len(got) || !matches(want[i], got[i]) {
			mark = "✗ "
		}
		fmt.Fprintf(&b, "%smessage %d\n    want: %s\n    got:  %s\n", mark, i+1, w, g)
	}
	return b.String()
}
