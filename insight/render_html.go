package insight

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes r as one self-contained page: styles, charts (inline SVG
// drawn here) and a small script, nothing fetched. m (may be nil) is the
// journey map drawn into it.
func WriteHTML(w io.Writer, r *Report, m *Map) error {
	p := page{Title: fmt.Sprintf("Journey report %s .. %s", r.From, r.To), R: r,
		Funnel: funnelChart(r), OverTime: overTimeChart(r)}
	if len(r.Flows) > 0 {
		p.Lost = mostLost(r.Flows)
	}
	for i, f := range r.Flows {
		p.Flows = append(p.Flows, flowView{Flow: f, Completion: pct(rate(f.Completed, f.Started)), Chart: dropOffChart(i, f)})
	}
	for i, e := range r.Experiments {
		p.Experiments = append(p.Experiments, expView{Experiment: e, Chart: experimentChart(i, e)})
	}
	if m != nil {
		p.Map = MapSVG(m)
	}
	return pageTemplate.Execute(w, p)
}

type page struct {
	Title       string
	R           *Report
	Funnel      template.HTML
	OverTime    template.HTML
	Flows       []flowView
	Experiments []expView
	Map         template.HTML
	MapOnly     bool
	Lost        string // the flows that lost the most customers
}

type flowView struct {
	Flow
	Completion string
	Chart      template.HTML
}

type expView struct {
	Experiment
	Chart template.HTML
}

const chartW = 760.0

// funnelChart draws each stage's entries (and who is in it now) as bars,
// then each funnel passage's conversion rate.
func funnelChart(r *Report) template.HTML {
	st := r.Stages
	rowH, left := 26.0, 170.0
	h := 30 + rowH*float64(len(st.List)) + 30 + rowH*float64(len(st.Funnel)) + 10
	var s svg
	s.open("chart-funnel", "chart chart-funnel", chartW, h, "Stage funnel")
	most := int64(1)
	for _, x := range st.List {
		most = max(most, x.Entered, x.Now)
	}
	barW := chartW - left - 120
	s.text(0, 16, "start", "chart-title", "Customers entering each stage (dark) and in it now (light)")
	y := 30.0
	for _, x := range st.List {
		s.text(left-8, y+16, "end", "axis-label", x.ID)
		s.rect(left, y+3, barW*float64(x.Now)/float64(most), rowH-6, "bar bar-now", fmt.Sprintf("%s: %d now", x.ID, x.Now))
		s.rect(left, y+8, barW*float64(x.Entered)/float64(most), rowH-16, "bar bar-entered", fmt.Sprintf("%s: %d entered", x.ID, x.Entered))
		s.text(left+barW*float64(max(x.Entered, x.Now))/float64(most)+6, y+17, "start", "value-label", fmt.Sprintf("%d entered · %d now", x.Entered, x.Now))
		y += rowH
	}
	s.text(0, y+18, "start", "chart-title", "Conversion between stages")
	y += 30
	for _, f := range st.Funnel {
		s.text(left-8, y+16, "end", "axis-label", f.From+" → "+f.To)
		s.rect(left, y+4, barW, rowH-8, "bar bar-track", "")
		if f.Rate != nil {
			s.rect(left, y+4, barW*min(*f.Rate, 1), rowH-8, "bar bar-rate", fmt.Sprintf("%s → %s: %d moved (%s)", f.From, f.To, f.Moved, pct(f.Rate)))
		}
		s.text(left+barW+6, y+17, "start", "value-label", fmt.Sprintf("%s · %d · %s", pct(f.Rate), f.Moved, hours(f.MedianHours)))
		y += rowH
	}
	return template.HTML(s.close())
}

// overTimeChart draws NPS (-100..100) and CSAT (1..5) by day; a day without
// answers has no point, and the line breaks there.
func overTimeChart(r *Report) template.HTML {
	left, right, panelH, gap := 50.0, 20.0, 130.0, 40.0
	h := 30 + panelH*2 + gap + 40
	var s svg
	s.open("chart-nps-csat", "chart chart-nps-csat", chartW, h, "NPS and CSAT by day")
	n := len(r.Days)
	xOf := func(i int) float64 {
		if n <= 1 {
			return left + (chartW-left-right)/2
		}
		return left + float64(i)*(chartW-left-right)/float64(n-1)
	}
	panel := func(top float64, title string, lo, hi float64, ticks []float64, val func(Day) (*float64, int64), class string, format func(float64) string) {
		s.text(0, top-8, "start", "chart-title", title)
		yOf := func(v float64) float64 { return top + panelH - (v-lo)/(hi-lo)*panelH }
		for _, t := range ticks {
			s.line(left, yOf(t), chartW-right, yOf(t), "grid")
			s.text(left-6, yOf(t)+4, "end", "axis-label", format(t))
		}
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				s.path("M"+strings.Join(seg, " L"), "series "+class)
			}
			seg = nil
		}
		for i, d := range r.Days {
			v, answers := val(d)
			if v == nil {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(*v)))
			s.circle(xOf(i), yOf(*v), 3.5, "point "+class, fmt.Sprintf("%s: %s (%d answers)", d.Date, format(*v), answers))
		}
		flush()
	}
	panel(40, "NPS by day", -100, 100, []float64{-100, -50, 0, 50, 100}, func(d Day) (*float64, int64) { return d.NPS, d.NPSN }, "series-nps", func(v float64) string { return fmt.Sprintf("%+.0f", v) })
	panel(40+panelH+gap, "CSAT by day (average 1-5)", 1, 5, []float64{1, 2, 3, 4, 5}, func(d Day) (*float64, int64) { return d.CSAT, d.CSATN }, "series-csat", func(v float64) string { return fmt.Sprintf("%.1f", v) })
	every := max(1, int(math.Ceil(float64(n)/10)))
	for i, d := range r.Days {
		if i%every == 0 || i == n-1 {
			s.text(xOf(i), h-10, "middle", "axis-label", shortDate(d.Date))
		}
	}
	return template.HTML(s.close())
}

// shortDate is MM-DD of a YYYY-MM-DD date.
func shortDate(d string) string {
	if len(d) == 10 {
		return d[5:]
	}
	return d
}

// dropOffChart draws a flow's drop-off by step.
func dropOffChart(i int, f Flow) template.HTML {
	rowH, left := 24.0, 170.0
	h := 24 + rowH*float64(len(f.Steps)) + 6
	barW := chartW - left - 160
	var s svg
	s.open(fmt.Sprintf("chart-dropoff-%d", i), "chart chart-dropoff", chartW, h, "Drop-off by step in "+f.ID)
	s.text(0, 16, "start", "chart-title", "Drop-off by step")
	y := 24.0
	for _, st := range f.Steps {
		s.text(left-8, y+15, "end", "axis-label", clip(stepName(st), 26))
		s.rect(left, y+4, barW, rowH-8, "bar bar-track", "")
		if st.DropOff != nil {
			s.rect(left, y+4, barW*min(*st.DropOff, 1), rowH-8, "bar bar-dropoff", fmt.Sprintf("%s: %d of %d left here", st.ID, st.Abandoned, st.Reached))
		}
		s.text(left+barW+6, y+16, "start", "value-label", fmt.Sprintf("%s · %d left of %d · %d waiting", pct(st.DropOff), st.Abandoned, st.Reached, st.Waiting))
		y += rowH
	}
	return template.HTML(s.close())
}

// experimentChart draws each variant's rate with its 95% interval, on a
// scale from 0 to just above the highest interval.
func experimentChart(i int, e Experiment) template.HTML {
	rowH, left := 30.0, 130.0
	h := 40 + rowH*float64(len(e.Variants)) + 24
	axisW := chartW - left - 190
	top := 0.0
	for _, v := range e.Variants {
		if v.Customers > 0 {
			top = max(top, v.Interval[1])
		}
	}
	top = math.Min(1, math.Max(0.1, math.Ceil(top*10+0.5)/10))
	xOf := func(v float64) float64 { return left + axisW*min(v, top)/top }
	var s svg
	s.open(fmt.Sprintf("chart-exp-%d", i), "chart chart-experiment", chartW, h, "Results of experiment "+e.ID)
	s.text(0, 16, "start", "chart-title", "Conversion rate with its 95% interval")
	for k := 0; k <= 5; k++ {
		v := top * float64(k) / 5
		s.line(xOf(v), 28, xOf(v), h-24, "grid")
		s.text(xOf(v), h-8, "middle", "axis-label", pctOf(v))
	}
	y := 34.0
	for _, v := range e.Variants {
		name := v.Name
		if v.Name == e.Winner && e.Winner != "" {
			name += " ★"
		}
		s.text(left-8, y+rowH/2+4, "end", "axis-label", name)
		if v.Customers == 0 || v.Rate == nil {
			s.text(left+6, y+rowH/2+4, "start", "value-label no-traffic", "no customers yet")
		} else {
			cy := y + rowH/2
			class := "interval"
			if v.Name == e.Winner && e.Winner != "" {
				class += " winner"
			}
			s.raw(`<g class="%s">`, class)
			s.rect(xOf(v.Interval[0]), cy-5, xOf(v.Interval[1])-xOf(v.Interval[0]), 10, "interval-bar", fmt.Sprintf("%s: %s (%s)", v.Name, pct(v.Rate), interval(v.Interval, v.Customers)))
			s.circle(xOf(*v.Rate), cy, 5, "interval-rate", fmt.Sprintf("%s: %d of %d", v.Name, v.Conversions, v.Customers))
			s.raw(`</g>`)
		}
		s.text(left+axisW+10, y+rowH/2+4, "start", "value-label", fmt.Sprintf("%s · %d/%d · P(best) %s", pct(v.Rate), v.Conversions, v.Customers, probText(v.ProbabilityBest)))
		y += rowH
	}
	return template.HTML(s.close())
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct": pct, "prob": probText, "num": num, "signed": signed, "minutes": minutes, "pctOf": pctOf,
	"interval": interval, "rate": rate,
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #59636e; margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card .big { font-size: 26px; font-weight: 600; } .card .small { color: #59636e; font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0 10px; } th, td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; text-align: right; } th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; font-weight: 600; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 6px 0 12px; }
.chart-title { font-size: 13px; font-weight: 600; fill: #1f2328; }
.axis-label { font-size: 11px; fill: #59636e; } .value-label { font-size: 11px; fill: #1f2328; } .no-traffic { fill: #9a6700; font-style: italic; }
.grid { stroke: #eaeef2; stroke-width: 1; }
.bar-entered { fill: #0969da; } .bar-now { fill: #b6d4fe; } .bar-track { fill: #f0f2f4; } .bar-rate { fill: #1a7f37; } .bar-dropoff { fill: #cf222e; }
.series { fill: none; stroke-width: 2; } path.series-nps { stroke: #8250df; } path.series-csat { stroke: #1a7f37; } circle.series-nps { fill: #8250df; } circle.series-csat { fill: #1a7f37; }
.interval-bar { fill: #b6d4fe; } .interval-rate { fill: #0969da; } .winner .interval-bar { fill: #aceebb; } .winner .interval-rate { fill: #1a7f37; }
.verdict { font-weight: 600; } .need { color: #59636e; }
.map-wrap { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 8px; padding: 8px; }
svg.journey-map { max-width: 100%; height: auto; }
.map-title { font-size: 14px; font-weight: 600; fill: #1f2328; }
.node rect { fill: #fff; stroke: #57606a; stroke-width: 1; } .node.stage rect { fill: #ddf4ff; stroke: #0969da; } .node.start rect { fill: #fff8c5; stroke: #9a6700; } .node.command rect { fill: #ffebe9; stroke: #cf222e; }
.node-label { font-size: 11px; fill: #1f2328; } .node-note { font-size: 10px; fill: #59636e; }
.flow-frame { fill: #f6f8fa; stroke: #d0d7de; } .flow-label { font-size: 12px; font-weight: 600; fill: #1f2328; }
.edge { fill: none; stroke: #57606a; stroke-width: 1.2; } .edge-jump { stroke: #0969da; } .edge-stage { stroke: #8250df; stroke-dasharray: 4 3; } .arrowhead { fill: #57606a; }
.edge-label { font-size: 10px; fill: #59636e; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{- if .MapOnly}}
<div class="map-wrap">{{.Map}}</div>
{{- else}}{{with .R}}
<p class="meta">Days {{.From}} to {{.To}} in {{.Zone}}; generated {{.Generated}}.</p>
<section id="satisfaction">
<h2>Satisfaction</h2>
<div class="cards">
<div class="card"><div class="small">NPS</div><div class="big" id="nps-score">{{signed .NPS.Score}}</div><div class="small">{{.NPS.Answers}} answers: {{.NPS.Promoters}} promoters, {{.NPS.Passives}} passives, {{.NPS.Detractors}} detractors</div></div>
<div class="card"><div class="small">CSAT</div><div class="big" id="csat-average">{{num .CSAT.Average 2}}</div><div class="small">{{.CSAT.Answers}} answers, {{pct .CSAT.SatisfiedShare}} satisfied (4-5)</div></div>
<div class="card"><div class="small">Repeat buyers</div><div class="big">{{pct .Customers.RepeatRate}}</div><div class="small">{{.Customers.Repeat}} of {{.Customers.Buyers}} buyers; {{.Customers.WonBack}} won back</div></div>
<div class="card"><div class="small">Cases</div><div class="big">{{.Cases.Opened}}</div><div class="small">median takeover {{minutes .Cases.MedianTakeoverMins}}, resolve {{minutes .Cases.MedianResolveMins}}</div></div>
</div>
{{- end}}
{{.OverTime}}
{{- with .R}}{{if or .NPS.ByFlow .CSAT.ByFlow}}
<table><tr><th>flow</th><th>NPS</th><th>answers</th><th>CSAT</th><th>answers</th></tr>
{{- range .NPS.ByFlow}}<tr><td>{{.Flow}}</td><td>{{signed .Score}}</td><td>{{.Answers}}</td><td></td><td></td></tr>{{end}}
{{- range .CSAT.ByFlow}}<tr><td>{{.Flow}}</td><td></td><td></td><td>{{num .Average 2}}</td><td>{{.Answers}}</td></tr>{{end}}
</table>{{end}}{{end}}
</section>
<section id="stages">
<h2>Stages</h2>
{{.Funnel}}
</section>
<section id="flows">
<h2>Flows: where customers leave</h2>
{{- if .Lost}}<p class="verdict" id="most-lost">{{.Lost}}</p>{{end}}
{{- range .Flows}}
<h3>{{.ID}}</h3>
<p>Started {{.Started}}, completed {{.Completed}} ({{.Completion}}), abandoned {{.Abandoned}}, waiting {{.Waiting}}.{{with .Proactive}} Proactive: sent {{.Sent}}, replied within 24 h {{.Replied}} (open rate {{pct .OpenRate}}), opt-outs {{.OptOuts}}, blocks {{.Blocks}}.{{end}}</p>
{{- if .Steps}}{{.Chart}}{{end}}
{{- else}}<p>No flows.</p>{{end}}
</section>
<section id="experiments">
<h2>Experiments</h2>
{{- range .Experiments}}
<h3>{{.ID}}</h3>
<p>{{if .Flow}}Flow {{.Flow}}; {{end}}goal {{.Goal}}{{if .Window}} within {{.Window}}{{end}}{{if .Holdout}}; holdout {{pctOf .Holdout}}{{end}}.</p>
{{.Chart}}
<table><tr><th>variant</th><th>customers</th><th>conversions</th><th>rate</th><th>95% interval</th><th>P(best)</th></tr>
{{- range .Variants}}<tr><td>{{.Name}}</td><td>{{.Customers}}</td><td>{{.Conversions}}</td><td>{{pct .Rate}}</td><td>{{interval .Interval .Customers}}</td><td>{{prob .ProbabilityBest}}</td></tr>{{end}}
</table>
<p class="verdict">{{.Verdict}}</p>{{if and (not .Winner) .NeedMore}}<p class="need">About {{.NeedMore}} more customers per variant would be needed to tell.</p>{{end}}
{{- else}}<p>No experiments.</p>{{end}}
</section>
{{- with .R}}
<section id="offers">
<h2>Offers</h2>
{{- if .Offers}}
<table><tr><th>code</th><th>sent</th><th>redeemed</th><th>conversion</th><th>revenue</th></tr>
{{- range .Offers}}<tr><td>{{.Code}}</td><td>{{.Sent}}</td><td>{{.Redeemed}}</td><td>{{pct .Rate}}</td><td>{{printf "%.2f" .Revenue}}</td></tr>{{end}}
</table>{{else}}<p>No offers.</p>{{end}}
</section>
<section id="customers">
<h2>Customers</h2>
{{- with .Customers}}
<table>
<tr><td>new (first purchase)</td><td>{{.New}}</td></tr>
<tr><td>buyers</td><td>{{.Buyers}}</td></tr>
<tr><td>orders (revenue)</td><td>{{.Orders}} ({{printf "%.2f" .Revenue}} {{.CLV.Currency}})</td></tr>
<tr><td>repeat buyers</td><td>{{.Repeat}} ({{pct .RepeatRate}})</td></tr>
<tr><td>repeat rate, all time</td><td>{{pct .RepeatRateAllTime}}</td></tr>
<tr><td>at risk (churn)</td><td>{{.AtRisk}}</td></tr>
<tr><td>won back</td><td>{{.WonBack}}</td></tr>
<tr><td>CLV (average per customer)</td><td>{{num .CLV.Average 2}} {{.CLV.Currency}}</td></tr>
{{- range $k, $v := .CLV.ByStage}}<tr><td>CLV in stage {{$k}}</td><td>{{printf "%.2f" $v}}</td></tr>{{end}}
{{- range $k, $v := .CLV.ByCohort}}<tr><td>CLV of cohort {{$k}}</td><td>{{printf "%.2f" $v}}</td></tr>{{end}}
</table>
{{- if .Cohorts}}
<h3>Retention by first-purchase month</h3>
<table><tr><th>cohort</th><th>customers</th><th>bought again in month +1, +2, ...</th></tr>
{{- range .Cohorts}}<tr><td>{{.Month}}</td><td>{{.Customers}}</td><td>{{range $i, $v := .Retention}}{{if $i}} · {{end}}{{pctOf $v}}{{end}}</td></tr>{{end}}
</table>{{end}}{{end}}
</section>
<section id="days">
<h2>Days</h2>
<table><tr><th>day</th><th>in</th><th>out</th><th>nudges</th><th>NPS (n)</th><th>CSAT (n)</th><th>opt-outs</th></tr>
{{- range .Days}}<tr><td>{{.Date}}</td><td>{{.Inbound}}</td><td>{{.Outbound}}</td><td>{{.Proactive}}</td><td>{{signed .NPS}} ({{.NPSN}})</td><td>{{num .CSAT 2}} ({{.CSATN}})</td><td>{{.OptOuts}}</td></tr>{{end}}
</table>
</section>
{{- end}}
{{- if .Map}}
<section id="map">
<h2>Journey map</h2>
<div class="map-wrap">{{.Map}}</div>
</section>{{end}}
{{- end}}
<script>
// Marks the page as drawn (the browser test reads it) and lets a click on
// a chart's bar or point show its figure where no tooltip appears (touch).
(function () {
  var charts = document.querySelectorAll("svg.chart, svg.journey-map");
  document.body.setAttribute("data-charts", String(charts.length));
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("rect, circle, g.node") : null;
    var title = t && t.querySelector("title");
    if (title) { window.status = title.textContent; }
  });
})();
</script>
</body>
</html>
`
