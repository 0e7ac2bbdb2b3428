package insight

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

// The map as SVG, laid out simply rather than by a graph library: the
// stages in a row with their transitions as arcs (forward above, backward
// below), then the flows as columns of step boxes. An arrow joins a step to
// the one it goes on to; jumps inside a flow are curves on the column's
// right; what leads out of a flow (another flow, a stage, a command) is
// written in the step's box, so every edge of the graph is on the page.

const (
	mapStageW, mapStageH, mapStageGap = 140.0, 44.0, 34.0
	mapColW, mapColGap                = 250.0, 40.0
	mapBoxW                           = 210.0
	mapLineH                          = 13.0
	mapStepGap                        = 22.0
	mapChars                          = 34 // characters of a line in a box
)

type mapBox struct {
	x, y, w, h float64
	flow       int
}

// MapSVG draws m as an inline SVG element (id journey-map).
func MapSVG(m *Map) template.HTML {
	// Lines each node's box shows, and edges out of its flow.
	out := map[string][]string{}
	label := map[string]string{}
	flowOf := map[string]int{}
	for _, n := range m.Stages {
		label[n.ID] = n.Label
		flowOf[n.ID] = -1
	}
	for i, f := range m.Flows {
		label[f.Start.ID] = "flow " + f.ID
		flowOf[f.Start.ID] = i
		for _, n := range f.Steps {
			flowOf[n.ID] = i
		}
	}
	var inner []MapEdge
	var stageEdges []MapEdge
	for _, e := range m.Edges {
		fi, fok := flowOf[e.From]
		ti := flowOf[e.To]
		switch {
		case fok && fi < 0 && ti < 0:
			stageEdges = append(stageEdges, e)
		case fi >= 0 && fi == ti && e.Kind != EdgeFlow:
			inner = append(inner, e)
		default:
			t := "⇒ " + label[e.To]
			if e.Label != "" {
				t = e.Label + " ⇒ " + label[e.To]
			}
			out[e.From] = append(out[e.From], t)
		}
	}

	// Stages row.
	nStages := len(m.Stages)
	stagesW := float64(nStages)*(mapStageW+mapStageGap) + mapStageGap
	width := max(stagesW, 4*(mapColW+mapColGap)+mapColGap)
	mapCols := int((width - mapColGap) / (mapColW + mapColGap)) // at least 4, more when the stages are wide
	arcH := func(i, j int) float64 { return 26 + 16*float64(abs(i-j)) }
	maxArc := 0.0
	for _, e := range stageEdges {
		maxArc = max(maxArc, arcH(stageIndex(m, e.From), stageIndex(m, e.To)))
	}
	stageTop := 40 + maxArc
	stageBottom := stageTop + mapStageH + maxArc + 20

	boxes := map[string]mapBox{}
	for i, n := range m.Stages {
		boxes[n.ID] = mapBox{x: mapStageGap + float64(i)*(mapStageW+mapStageGap), y: stageTop, w: mapStageW, h: mapStageH, flow: -1}
	}

	// Flow columns, mapCols to a row.
	type col struct {
		x, y, h float64
	}
	cols := make([]col, len(m.Flows))
	lines := map[string][]string{}
	boxH := func(id string) float64 { return 10 + mapLineH*float64(len(lines[id])) }
	y := stageBottom + 30
	for row := 0; row*mapCols < len(m.Flows); row++ {
		rowH := 0.0
		for c := 0; c < mapCols && row*mapCols+c < len(m.Flows); c++ {
			i := row*mapCols + c
			f := m.Flows[i]
			x := mapColGap + float64(c)*(mapColW+mapColGap)
			cy := y + 34
			if f.Note != "" {
				cy += mapLineH
			}
			nodes := append([]MapNode{f.Start}, f.Steps...)
			for k, n := range nodes {
				ls := wrap(n.Label, mapChars)
				if k == 0 {
					ls = wrap("starts on: "+n.Label, mapChars)
				}
				if n.Note != "" {
					ls = append(ls, n.Note)
				}
				for _, o := range out[n.ID] {
					ls = append(ls, wrap(o, mapChars)...)
				}
				lines[n.ID] = ls
				h := boxH(n.ID)
				boxes[n.ID] = mapBox{x: x, y: cy, w: mapBoxW, h: h, flow: i}
				cy += h + mapStepGap
			}
			cols[i] = col{x: x, y: y, h: cy - y}
			rowH = max(rowH, cy-y)
		}
		y += rowH + 30
	}
	height := y

	var s svg
	s.open("journey-map", "journey-map", width, height, "The journey map: stages and flows")
	s.raw(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)
	s.text(mapStageGap, 20, "start", "map-title", "Stages and transitions")
	for _, e := range stageEdges {
		a, b := boxes[e.From], boxes[e.To]
		i, j := stageIndex(m, e.From), stageIndex(m, e.To)
		x1, x2 := a.x+a.w/2, b.x+b.w/2
		if i == j {
			continue
		}
		h := arcH(i, j)
		var y1, cyy float64
		if i < j {
			y1, cyy = a.y, a.y-h*2
		} else {
			y1, cyy = a.y+a.h, a.y+a.h+h*2
		}
		x1 += 8 * float64(sign(j-i))
		x2 -= 8 * float64(sign(j-i))
		s.raw(`<path d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" class="edge edge-stage" marker-end="url(#arrow)"><title>%s</title></path>`,
			x1, y1, (x1+x2)/2, cyy, x2, y1, esc(label[e.From]+" → "+label[e.To]+": "+e.Label))
		ly := (y1+cyy)/2 + 4
		s.text((x1+x2)/2, ly, "middle", "edge-label", clip(e.Label, 40))
	}
	for _, n := range m.Stages {
		b := boxes[n.ID]
		class := "node stage"
		if strings.HasPrefix(n.ID, "cmd_") {
			class = "node command"
		}
		s.raw(`<g class="%s" id="map-%s">`, class, esc(n.ID))
		s.raw(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="20"/>`, b.x, b.y, b.w, b.h)
		s.text(b.x+b.w/2, b.y+18, "middle", "node-label", clip(n.Label, 22))
		if n.Note != "" {
			s.text(b.x+b.w/2, b.y+33, "middle", "node-note", clip(n.Note, 24))
		}
		s.raw(`</g>`)
	}
	s.text(mapColGap, stageBottom+14, "start", "map-title", "Flows: steps, buttons and branches")
	for i, f := range m.Flows {
		c := cols[i]
		s.raw(`<g class="flow" id="map-flow-%d">`, i)
		s.rect(c.x-8, c.y, mapColW-16, c.h-mapStepGap+8, "flow-frame", "")
		s.text(c.x, c.y+18, "start", "flow-label", clip(f.Label, 38))
		if f.Note != "" {
			s.text(c.x, c.y+31, "start", "node-note", clip(f.Note, 40))
		}
		nodes := append([]MapNode{f.Start}, f.Steps...)
		for k, n := range nodes {
			b := boxes[n.ID]
			class := "node step"
			if k == 0 {
				class = "node start"
			}
			style := ""
			if n.DropOff != nil {
				style = fmt.Sprintf(` style="fill: rgba(220,60,40,%.2f)"`, 0.08+0.6*min(*n.DropOff, 1))
			}
			s.raw(`<g class="%s" id="map-%s"><title>%s</title>`, class, esc(n.ID), esc(strings.Join(append([]string{n.Label}, lines[n.ID][len(wrap(n.Label, mapChars)):]...), "\n")))
			s.raw(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4"%s/>`, b.x, b.y, b.w, b.h, style)
			for l, t := range lines[n.ID] {
				cls := "node-label"
				if l >= len(wrap(n.Label, mapChars)) {
					cls = "node-note"
				}
				s.text(b.x+6, b.y+14+float64(l)*mapLineH, "start", cls, t)
			}
			s.raw(`</g>`)
		}
		s.raw(`</g>`)
	}
	// Edges inside flows: straight down to the following box, else a curve
	// on the right of the column.
	bend := map[int]int{}
	for _, e := range inner {
		a, b := boxes[e.From], boxes[e.To]
		if b.y > a.y && b.y-(a.y+a.h) <= mapStepGap+0.5 {
			x := a.x + a.w/2
			s.raw(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="edge edge-%s" marker-end="url(#arrow)"/>`, x, a.y+a.h, x, b.y, e.Kind)
			if e.Label != "" {
				s.text(x+6, a.y+a.h+mapStepGap/2+4, "start", "edge-label", clip(e.Label, 30))
			}
			continue
		}
		bend[a.flow]++
		dx := 8 + 5*float64(bend[a.flow]%5)
		x1, y1 := a.x+a.w, a.y+a.h/2
		x2, y2 := b.x+b.w, b.y+b.h/2
		if y2 == y1 { // a step back to itself (a retry)
			y2 = b.y + b.h - 4
		}
		s.raw(`<path d="M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f" class="edge edge-%s" marker-end="url(#arrow)"><title>%s</title></path>`,
			x1, y1, x1+dx*2, y1, x2+dx*2, y2, x2, y2, e.Kind, esc(e.Label))
	}
	return template.HTML(s.close())
}

func stageIndex(m *Map, id string) int {
	for i, n := range m.Stages {
		if n.ID == id {
			return i
		}
	}
	return -1
}

// wrap breaks t into lines of at most n characters, at spaces when it can.
func wrap(t string, n int) []string {
	var lines []string
	for _, part := range strings.Split(t, " | ") {
		var cur []rune
		for _, w := range strings.Fields(part) {
			r := []rune(w)
			if len(cur) > 0 && len(cur)+1+len(r) > n {
				lines = append(lines, string(cur))
				cur = nil
			}
			if len(cur) > 0 {
				cur = append(cur, ' ')
			}
			cur = append(cur, r...)
			for len(cur) > n {
				lines = append(lines, string(cur[:n]))
				cur = cur[n:]
			}
		}
		if len(cur) > 0 {
			lines = append(lines, string(cur))
		}
	}
	if len(lines) == 0 {
		lines = []string{""}
	}
	return lines
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// writeMapPage writes the map alone as a self-contained page.
func writeMapPage(w io.Writer, m *Map) error {
	return pageTemplate.Execute(w, page{Title: "Journey map", Map: MapSVG(m), MapOnly: true})
}
