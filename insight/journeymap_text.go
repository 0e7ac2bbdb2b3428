package insight

import (
	"fmt"
	"io"
	"strings"
)

// MapFormats are the formats WriteMap writes.
var MapFormats = []string{"mermaid", "dot", "html"}

// WriteMap writes m as Mermaid, Graphviz DOT or a self-contained HTML page.
func WriteMap(w io.Writer, format string, m *Map) error {
	switch format {
	case "mermaid":
		return writeMermaid(w, m)
	case "dot":
		return writeDOT(w, m)
	case "html":
		return writeMapPage(w, m)
	}
	return fmt.Errorf("unknown map format %q: give one of %s", format, strings.Join(MapFormats, ", "))
}

func mermaidText(label, note string) string {
	s := label
	if note != "" {
		s += "<br/>" + note
	}
	r := strings.NewReplacer(`"`, "#quot;", "\n", " ")
	return `"` + r.Replace(s) + `"`
}

func writeMermaid(w io.Writer, m *Map) error {
	var b strings.Builder
	b.WriteString("flowchart TB\n")
	b.WriteString("  subgraph stages [\"Stages\"]\n    direction LR\n")
	for _, n := range m.Stages {
		if strings.HasPrefix(n.ID, "cmd_") {
			continue
		}
		fmt.Fprintf(&b, "    %s([%s])\n", n.ID, mermaidText(n.Label, n.Note))
	}
	b.WriteString("  end\n")
	for _, n := range m.Stages {
		if strings.HasPrefix(n.ID, "cmd_") {
			fmt.Fprintf(&b, "  %s>%s]\n", n.ID, mermaidText(n.Label, ""))
		}
	}
	for i, f := range m.Flows {
		fmt.Fprintf(&b, "  subgraph f%d [%s]\n    direction TB\n", i, mermaidText(f.Label, f.Note))
		fmt.Fprintf(&b, "    %s{{%s}}\n", f.Start.ID, mermaidText(f.Start.Label, ""))
		for _, n := range f.Steps {
			fmt.Fprintf(&b, "    %s[%s]\n", n.ID, mermaidText(n.Label, n.Note))
		}
		b.WriteString("  end\n")
	}
	for _, e := range m.Edges {
		arrow := map[string]string{EdgeNext: "-->", EdgeJump: "-->", EdgeFlow: "==>", EdgeStage: "-.->"}[e.Kind]
		if e.Label == "" {
			fmt.Fprintf(&b, "  %s %s %s\n", e.From, arrow, e.To)
		} else {
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", e.From, arrow, mermaidText(e.Label, ""), e.To)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dotText(label, note string) string {
	s := label
	if note != "" {
		s += "\n" + note
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func writeDOT(w io.Writer, m *Map) error {
	var b strings.Builder
	b.WriteString("digraph journey {\n  rankdir=TB;\n  compound=true;\n  node [fontname=\"Helvetica\", fontsize=10, shape=box, style=rounded];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	b.WriteString("  subgraph cluster_stages {\n    label=\"Stages\";\n    rank=same;\n")
	for _, n := range m.Stages {
		if strings.HasPrefix(n.ID, "cmd_") {
			continue
		}
		fmt.Fprintf(&b, "    %s [label=%s, shape=ellipse, style=filled, fillcolor=\"#e8f0fe\"];\n", n.ID, dotText(n.Label, n.Note))
	}
	b.WriteString("  }\n")
	for _, n := range m.Stages {
		if strings.HasPrefix(n.ID, "cmd_") {
			fmt.Fprintf(&b, "  %s [label=%s, shape=cds];\n", n.ID, dotText(n.Label, ""))
		}
	}
	for i, f := range m.Flows {
		fmt.Fprintf(&b, "  subgraph cluster_f%d {\n    label=%s;\n", i, dotText(f.Label, f.Note))
		fmt.Fprintf(&b, "    %s [label=%s, shape=hexagon, style=\"\"];\n", f.Start.ID, dotText(f.Start.Label, ""))
		for _, n := range f.Steps {
			fmt.Fprintf(&b, "    %s [label=%s];\n", n.ID, dotText(n.Label, n.Note))
		}
		b.WriteString("  }\n")
	}
	for _, e := range m.Edges {
		attrs := []string{}
		if e.Label != "" {
			attrs = append(attrs, "label="+dotText(e.Label, ""))
		}
		switch e.Kind {
		case EdgeFlow:
			attrs = append(attrs, "style=bold")
		case EdgeStage:
			attrs = append(attrs, "style=dashed")
		}
		a := ""
		if len(attrs) > 0 {
			a = " [" + strings.Join(attrs, ", ") + "]"
		}
		fmt.Fprintf(&b, "  %s -> %s%s;\n", e.From, e.To, a)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
