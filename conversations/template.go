package conversations

import (
	"fmt"
	"strings"
)

// Templates are deliberately small, so marketers can write them and lint can
// check them:
//
//	Olá, {{ name }}!                       a field
//	{{ name | default "cliente" }}         a field with a fallback when empty
//	{{ if order.tracking_url }}...{{ else }}...{{ end }}
//
// A field with no data renders as its default or as nothing, never as an
// error: a customer never sees a template error.

// Template is a parsed text.
type Template struct {
	Source string
	nodes  []node
}

type node struct {
	text   string // literal
	field  string // {{ field }}
	def    string // default
	hasDef bool
	cond   string // {{ if cond }}: then/else
	then   []node
	els    []node
}

// Fields lists the fields a template uses, for lint.
func (t *Template) Fields() []string {
	var out []string
	var walk func([]node)
	walk = func(ns []node) {
		for _, n := range ns {
			if n.field != "" {
				out = append(out, n.field)
			}
			if n.cond != "" {
				out = append(out, n.cond)
				walk(n.then)
				walk(n.els)
			}
		}
	}
	walk(t.nodes)
	return out
}

// ParseTemplate parses src. Errors say what is wrong and at which character.
func ParseTemplate(src string) (*Template, error) {
	p := &tparser{src: src}
	nodes, end, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, fmt.Errorf("template: {{ %s }} without {{ if }} at character %d", end, p.last+1)
	}
	return &Template{Source: src, nodes: nodes}, nil
}

type tparser struct {
	src  string
	i    int
	last int
}

// parse reads nodes until the end of input or an {{ else }} / {{ end }},
// which it returns.
func (p *tparser) parse(depth int) ([]node, string, error) {
	var out []node
	for p.i < len(p.src) {
		open := strings.Index(p.src[p.i:], "{{")
		if open < 0 {
			out = append(out, node{text: p.src[p.i:]})
			p.i = len(p.src)
			break
		}
		if open > 0 {
			out = append(out, node{text: p.src[p.i : p.i+open]})
		}
		start := p.i + open
		p.last = start
		closeAt := strings.Index(p.src[start:], "}}")
		if closeAt < 0 {
			return nil, "", fmt.Errorf("template: {{ at character %d is never closed with }}", start+1)
		}
		inner := strings.TrimSpace(p.src[start+2 : start+closeAt])
		p.i = start + closeAt + 2
		switch {
		case inner == "else" || inner == "end":
			if depth == 0 {
				return nil, "", fmt.Errorf("template: {{ %s }} without {{ if }} at character %d", inner, start+1)
			}
			return out, inner, nil
		case strings.HasPrefix(inner, "if "):
			cond := strings.TrimSpace(inner[3:])
			if !validPath(cond) {
				return nil, "", fmt.Errorf("template: bad condition %q at character %d (write {{ if field }})", cond, start+1)
			}
			n := node{cond: cond}
			then, end, err := p.parse(depth + 1)
			if err != nil {
				return nil, "", err
			}
			n.then = then
			if end == "else" {
				if n.els, end, err = p.parse(depth + 1); err != nil {
					return nil, "", err
				}
			}
			if end != "end" {
				return nil, "", fmt.Errorf("template: {{ if %s }} at character %d has no {{ end }}", cond, start+1)
			}
			out = append(out, n)
		default:
			field, def, hasDef, err := parseField(inner)
			if err != nil {
				return nil, "", fmt.Errorf("template: %v at character %d", err, start+1)
			}
			out = append(out, node{field: field, def: def, hasDef: hasDef})
		}
	}
	return out, "", nil
}

func parseField(inner string) (field, def string, hasDef bool, err error) {
	field, rest, hasPipe := strings.Cut(inner, "|")
	field = strings.TrimSpace(field)
	if !validPath(field) {
		return "", "", false, fmt.Errorf("bad field %q (fields look like name or order.id)", field)
	}
	if hasPipe {
		rest = strings.TrimSpace(rest)
		arg, ok := strings.CutPrefix(rest, "default")
		arg = strings.TrimSpace(arg)
		if !ok || len(arg) < 2 || arg[0] != '"' || arg[len(arg)-1] != '"' {
			return "", "", false, fmt.Errorf(`unknown filter %q (only: default "text")`, rest)
		}
		def, hasDef = arg[1:len(arg)-1], true
	}
	return field, def, hasDef, nil
}

func validPath(s string) bool {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Lookup resolves a field to its text; ok is false when there is no data.
type Lookup func(field string) (string, bool)

// Render fills the template from look. Missing data renders as the default or nothing.
func (t *Template) Render(look Lookup) string {
	var b strings.Builder
	render(&b, t.nodes, look)
	return strings.TrimSpace(b.String())
}

func render(b *strings.Builder, ns []node, look Lookup) {
	for _, n := range ns {
		switch {
		case n.cond != "":
			if v, ok := look(n.cond); ok && truthy(v) {
				render(b, n.then, look)
			} else {
				render(b, n.els, look)
			}
		case n.field != "":
			if v, ok := look(n.field); ok && v != "" {
				b.WriteString(v)
			} else {
				b.WriteString(n.def)
			}
		default:
			b.WriteString(n.text)
		}
	}
}

// truthy is what "has data" means in {{ if }} and in conditions: not empty,
// not 0, not false.
func truthy(v string) bool {
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}
