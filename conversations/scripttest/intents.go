package scripttest

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"journeybot/conversations"
)

// NoIntent is the expected intent of a message that must match nothing.
const NoIntent = "none"

// DefaultMinAccuracy is the accuracy an example file must reach when it does
// not say.
const DefaultMinAccuracy = 0.95

// Example is one customer message and the intent it must reach.
type Example struct {
	Text, Want string
	Line       int
}

// ExampleFile is an intent example file: a *_test.yaml with examples:
// instead of tests:, in the spirit of Rasa's NLU test data.
type ExampleFile struct {
	Path        string
	Language    string
	MinAccuracy float64
	Examples    []Example
}

// Router chooses an intent for a text no keyword matched (a language
// model); "" for none. Optional in CheckExamples.
type Router func(text string) string

// IntentReport is the outcome of one example file.
type IntentReport struct {
	File        *ExampleFile
	Right       int
	Routed      int                       // answers that came from the router
	Confusion   map[string]map[string]int // want -> got -> count
	Misses      []Miss
	MinAccuracy float64
}

// Miss is an example that reached the wrong intent.
type Miss struct {
	Example
	Got string
	Why string // the keyword that decided, when there was one
}

// Accuracy is the share of examples that reached their intent.
func (r *IntentReport) Accuracy() float64 {
	if len(r.File.Examples) == 0 {
		return 0
	}
	return float64(r.Right) / float64(len(r.File.Examples))
}

// Passed reports whether the accuracy reaches the file's minimum.
func (r *IntentReport) Passed() bool { return r.Accuracy() >= r.MinAccuracy }

// parseExamples reads an example file. The examples mapping goes intent ->
// list of messages, so each message keeps its line for the report.
func parseExamples(path string, root *yaml.Node) (*ExampleFile, error) {
	f := &ExampleFile{Path: path, MinAccuracy: DefaultMinAccuracy}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: an example file is a mapping with language, min_accuracy and examples", path)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "language":
			f.Language = v.Value
		case "min_accuracy":
			a, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || a < 0 || a > 1 {
				return nil, fmt.Errorf("%s:%d: min_accuracy must be a number from 0 to 1, like 0.95", path, v.Line)
			}
			f.MinAccuracy = a
		case "examples":
			if v.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s:%d: examples maps each intent (or none) to a list of messages", path, v.Line)
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				intent, list := v.Content[j], v.Content[j+1]
				if list.Kind != yaml.SequenceNode {
					return nil, fmt.Errorf("%s:%d: the examples of %q must be a list (lines starting with -)", path, list.Line, intent.Value)
				}
				for _, item := range list.Content {
					if item.Kind != yaml.ScalarNode {
						return nil, fmt.Errorf("%s:%d: an example is one message (a string)", path, item.Line)
					}
					f.Examples = append(f.Examples, Example{Text: item.Value, Want: intent.Value, Line: item.Line})
				}
			}
		default:
			return nil, fmt.Errorf("%s:%d:%d: unknown field %q in an example file (known: language, min_accuracy, examples)", path, k.Line, k.Column, k.Value)
		}
	}
	return f, nil
}

// CheckExamples matches every example against the scripts (with route for
// texts no keyword reaches, when not nil) and counts what reached what.
func CheckExamples(s *conversations.Scripts, f *ExampleFile, route Router) (*IntentReport, error) {
	known := map[string]bool{NoIntent: true}
	for _, in := range s.Intents {
		known[in.ID] = true
	}
	r := &IntentReport{File: f, Confusion: map[string]map[string]int{}, MinAccuracy: f.MinAccuracy}
	for _, ex := range f.Examples {
		if !known[ex.Want] {
			return nil, fmt.Errorf("%s:%d: intent %q does not exist in the scripts", f.Path, ex.Line, ex.Want)
		}
		m := s.Match(ex.Text)
		got := m.Intent
		if got == "" && route != nil {
			if got = route(ex.Text); got != "" {
				r.Routed++
			}
		}
		if got == "" {
			got = NoIntent
		}
		if r.Confusion[ex.Want] == nil {
			r.Confusion[ex.Want] = map[string]int{}
		}
		r.Confusion[ex.Want][got]++
		if got == ex.Want {
			r.Right++
			continue
		}
		why := ""
		if m.Intent != "" {
			why = fmt.Sprintf("keyword %q", m.Keyword)
		}
		r.Misses = append(r.Misses, Miss{Example: ex, Got: got, Why: why})
	}
	return r, nil
}

// Print writes the accuracy, the confusion table (each intent's examples,
// how many reached it, and what the others reached) and every miss.
func (r *IntentReport) Print(w io.Writer) {
	status := "ok  "
	if !r.Passed() {
		status = "FAIL"
	}
	lang := ""
	if r.File.Language != "" {
		lang = " (" + r.File.Language + ")"
	}
	fmt.Fprintf(w, "%s %s%s: intent accuracy %d/%d = %.1f%% (minimum %.0f%%)\n", status, r.File.Path, lang,
		r.Right, len(r.File.Examples), 100*r.Accuracy(), 100*r.MinAccuracy)
	wants := make([]string, 0, len(r.Confusion))
	for k := range r.Confusion {
		wants = append(wants, k)
	}
	sort.Strings(wants)
	fmt.Fprintf(w, "     %-16s %5s %5s %7s  %s\n", "intent", "n", "right", "recall", "reached instead")
	for _, want := range wants {
		row := r.Confusion[want]
		n, right := 0, row[want]
		var others []string
		for got, c := range row {
			n += c
			if got != want {
				others = append(others, fmt.Sprintf("%s %d", got, c))
			}
		}
		sort.Strings(others)
		fmt.Fprintf(w, "     %-16s %5d %5d %6.1f%%  %s\n", want, n, right, 100*float64(right)/float64(n), strings.Join(others, ", "))
	}
	for _, m := range r.Misses {
		why := ""
		if m.Why != "" {
			why = " (" + m.Why + ")"
		}
		fmt.Fprintf(w, "     miss %s:%d: %q want %s, got %s%s\n", r.File.Path, m.Line, m.Text, m.Want, m.Got, why)
	}
}

// exampleFile reads src as an intent example file when its top level has
// examples: (script tests have tests:).
func exampleFile(path string, src []byte) (*ExampleFile, bool, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, false, fmt.Errorf("%s: %v", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, nil
	}
	root := doc.Content[0]
	for i := 0; i < len(root.Content); i += 2 {
		if root.Content[i].Value == "examples" {
			f, err := parseExamples(path, root)
			return f, err == nil, err
		}
	}
	return nil, false, nil
}
