package scripttest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"journeybot/conversations"
	"journeybot/events"
	"journeybot/internal/suggest"
	"journeybot/journey"
)

// Problem is a mistake in a test file, at its FILE:LINE:COL.
type Problem struct {
	Pos conversations.Pos
	Msg string
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Msg }

// Problems are every mistake of a test file; as an error they list them all.
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

// fixtureChecker holds a test file to the same standard as the scripts:
// every key known (with a "did you mean"), every value of the right shape,
// stages that exist, events valid as POST /events takes them.
type fixtureChecker struct {
	file  string
	s     *conversations.Scripts
	probs Problems
}

func (c *fixtureChecker) errorf(n *yaml.Node, format string, a ...any) {
	c.probs = append(c.probs, Problem{Pos: conversations.Pos{File: c.file, Line: n.Line, Col: n.Column}, Msg: fmt.Sprintf(format, a...)})
}

var (
	expectType  = reflect.TypeOf(Expect{})
	stringsType = reflect.TypeOf(Strings{})
)

// shape walks n against the fixture type t, by its yaml tags.
func (c *fixtureChecker) shape(n *yaml.Node, t reflect.Type, what string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && (t == expectType || t == stringsType) {
		return // an exact text; one text for a list
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.errorf(n, "%s must be a mapping (key: value lines)", what)
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag != "" && tag != "-" {
				fields[tag] = t.Field(i).Type
				names = append(names, tag)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				c.errorf(k, "unknown field %q in %s%s", k.Value, what, hint(k.Value, names))
				continue
			}
			c.shape(v, ft, k.Value)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.errorf(n, "%s must be a list (lines starting with -, or [a, b])", what)
			return
		}
		for _, e := range n.Content {
			c.shape(e, t.Elem(), what)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.errorf(n, "%s must be a mapping (key: value lines)", what)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.shape(n.Content[i+1], t.Elem(), what+"."+n.Content[i].Value)
		}
	case reflect.String, reflect.Int, reflect.Float64, reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			c.errorf(n, "%s must be a single value", what)
			return
		}
		var err error
		switch t.Kind() {
		case reflect.Int:
			_, err = strconv.Atoi(n.Value)
			if err != nil {
				c.errorf(n, "%s must be a whole number, not %q", what, n.Value)
			}
		case reflect.Float64:
			_, err = strconv.ParseFloat(n.Value, 64)
			if err != nil {
				c.errorf(n, "%s must be a number, not %q", what, n.Value)
			}
		case reflect.Bool:
			_, err = strconv.ParseBool(n.Value)
			if err != nil {
				c.errorf(n, "%s must be true or false, not %q", what, n.Value)
			}
		}
	}
}

// hint suggests the known key closest to a misspelt one, else lists them.
func hint(key string, known []string) string {
	if k := suggest.Closest(key, known, 2); k != "" {
		return fmt.Sprintf(" (did you mean %q?)", k)
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// stage checks that a stage a test names exists.
func (c *fixtureChecker) stage(n *yaml.Node) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" || c.s.Stage(n.Value) != nil {
		return
	}
	var ids []string
	for _, st := range c.s.Stages {
		ids = append(ids, st.ID)
	}
	msg := fmt.Sprintf("stage %q does not exist", n.Value)
	if k := suggest.Closest(n.Value, ids, 3); k != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", k)
	} else {
		msg += " (stages: " + strings.Join(ids, ", ") + ")"
	}
	c.errorf(n, "%s", msg)
}

var inputKeys = []string{"say", "press", "command", "event", "advance", "staff", "staff_says"}

// file checks a decoded test file against its nodes.
func (c *fixtureChecker) tests(root *yaml.Node, f *File) {
	tests := child(root, "tests")
	if tests == nil || tests.Kind != yaml.SequenceNode {
		return
	}
	for i, tn := range tests.Content {
		if i >= len(f.Tests) {
			break
		}
		tc := f.Tests[i]
		cn := child(tn, "customer")
		c.stage(child(cn, "stage"))
		if on := child(cn, "orders"); on != nil && on.Kind == yaml.SequenceNode {
			for j, o := range tc.Customer.Orders {
				if j < len(on.Content) {
					if _, err := toEventsOrder(o).ToJourney(fmt.Sprintf("orders[%d]", j)); err != nil {
						c.errorf(on.Content[j], "%v", err)
					}
				}
			}
		}
		if st := child(tn, "start"); st != nil && tc.Start != "" {
			if _, err := time.Parse(time.RFC3339, tc.Start); err != nil {
				c.errorf(st, "start %q: write an RFC 3339 time such as 2026-03-02T10:00:00-03:00", tc.Start)
			}
		}
		steps := child(tn, "steps")
		if steps == nil || steps.Kind != yaml.SequenceNode {
			continue
		}
		for j, sn := range steps.Content {
			if j >= len(tc.Steps) {
				break
			}
			st := tc.Steps[j]
			var inputs []string
			for _, k := range inputKeys {
				if child(sn, k) != nil {
					inputs = append(inputs, k)
				}
			}
			if len(inputs) != 1 {
				c.errorf(sn, "a test step has exactly one of %s (this one has %d)", strings.Join(inputKeys, ", "), len(inputs))
			}
			c.stage(child(sn, "stage"))
			if en := child(sn, "event"); en != nil && st.Event != nil {
				if _, err := parseEvent(en, "customer-1", "check", time.Now()); err != nil {
					c.errorf(en, "%v", err)
				}
			}
			if a := child(sn, "advance"); a != nil && st.Advance != "" {
				if _, err := conversations.ParseDuration(st.Advance); err != nil {
					c.errorf(a, "advance: %v", err)
				}
			}
			if s := child(sn, "staff"); s != nil && st.Staff != "take" && st.Staff != "resolve" {
				c.errorf(s, "staff: %q (want take or resolve)", st.Staff)
			}
			if en := child(sn, "expect"); en != nil && en.Kind == yaml.SequenceNode && st.Expect != nil {
				for k, e := range *st.Expect {
					if _, err := regexp.Compile(e.Match); err != nil && k < len(en.Content) {
						c.errorf(en.Content[k], "match: %v", err)
					}
				}
			}
		}
	}
}

func toEventsOrder(o Order) *events.Order {
	eo := &events.Order{ID: o.ID, Status: o.Status, Total: o.Total, Currency: o.Currency, TrackingURL: o.TrackingURL, Email: o.Email, Phone: o.Phone}
	for _, it := range o.Items {
		eo.Items = append(eo.Items, events.Item{Name: it.Name, SKU: it.SKU, Qty: it.Qty, Price: it.Price})
	}
	return eo
}

// parseEvent reads a test's event through the parser of POST /events: the
// YAML becomes the JSON the store would send, for this customer.
// case.* events are the support desk's own; a test may play them.
func parseEvent(n *yaml.Node, customer, id string, now time.Time) (journey.Event, error) {
	var v map[string]any
	if err := n.Decode(&v); err != nil {
		return journey.Event{}, err
	}
	if v == nil {
		v = map[string]any{}
	}
	typ, _ := v["type"].(string)
	desk := strings.HasPrefix(typ, "case.")
	if desk {
		v["type"] = "desk." + strings.TrimPrefix(typ, "case.")
	}
	if _, ok := v["id"]; !ok {
		v["id"] = id
	}
	if _, ok := v["customer"]; !ok {
		v["customer"] = map[string]any{"id": customer}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return journey.Event{}, fmt.Errorf("event: %w", err)
	}
	ev, err := events.Parse(raw, events.ParseOptions{Now: now})
	if err != nil {
		return ev, fmt.Errorf("event: %w", err)
	}
	if desk {
		ev.Type = typ
	}
	return ev, nil
}

// Strings is a list of texts, or one text.
type Strings []string

// UnmarshalYAML reads one text as a list of one.
func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = Strings{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}
