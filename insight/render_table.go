package insight

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// writeTable writes r for a terminal: one section after another, each a
// small aligned table; "-" is a figure that cannot be computed (a rate
// with nothing to divide by).
func writeTable(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	p := func(format string, a ...any) { fmt.Fprintf(ew, format, a...) }
	section := func(title string) { p("\n%s\n%s\n", title, strings.Repeat("=", len(title))) }
	table := func(rows func(tw io.Writer)) {
		// Cells are padded up to the next column: the trailing blanks of
		// short rows are cut.
		var b bytes.Buffer
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		rows(tw)
		tw.Flush()
		for _, l := range strings.SplitAfter(b.String(), "\n") {
			if l != "" {
				io.WriteString(ew, strings.TrimRight(l, " \n")+"\n")
			}
		}
	}

	p("Journey report %s .. %s (%s), generated %s\n", r.From, r.To, r.Zone, r.Generated)

	section("Satisfaction")
	table(func(tw io.Writer) {
		fmt.Fprintln(tw, "survey\tflow\tscore\tanswers\tdetail")
		npsRow := func(flow string, n NPS) {
			fmt.Fprintf(tw, "NPS\t%s\t%s\t%d\t%d promoters, %d passives, %d detractors\n", flow, signed(n.Score), n.Answers, n.Promoters, n.Passives, n.Detractors)
		}
		csatRow := func(flow string, c CSAT) {
			fmt.Fprintf(tw, "CSAT\t%s\t%s\t%d\t%s satisfied (4-5)\n", flow, num(c.Average, 2), c.Answers, pct(c.SatisfiedShare))
		}
		npsRow("all", r.NPS)
		for _, f := range r.NPS.ByFlow {
			npsRow(f.Flow, f.NPS)
		}
		csatRow("all", r.CSAT)
		for _, f := range r.CSAT.ByFlow {
			csatRow(f.Flow, f.CSAT)
		}
	})

	section("Flows: where customers leave")
	if len(r.Flows) == 0 {
		p("no flows\n")
	} else {
		p("%s\n", mostLost(r.Flows))
	}
	var idle []string
	for _, f := range r.Flows {
		if quiet(f) {
			idle = append(idle, f.ID)
			continue
		}
		completion := rate(f.Completed, f.Started)
		p("\n%s: started %d, completed %d (%s), abandoned %d, waiting %d\n", f.ID, f.Started, f.Completed, pct(completion), f.Abandoned, f.Waiting)
		if pr := f.Proactive; pr != nil {
			p("  proactive: sent %d, replied within 24 h %d (open rate %s), opt-outs %d, blocks %d within 48 h\n", pr.Sent, pr.Replied, pct(pr.OpenRate), pr.OptOuts, pr.Blocks)
		}
		if len(f.Steps) == 0 {
			continue
		}
		table(func(tw io.Writer) {
			fmt.Fprintln(tw, "  step\treached\twaiting\tabandoned\tdrop-off\t")
			worst := worstStep(f.Steps)
			for i, s := range f.Steps {
				mark := ""
				if i == worst {
					mark = "  <- most leave here"
				}
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s%s\n", stepName(s), s.Reached, s.Waiting, s.Abandoned, pct(s.DropOff), bar(s.DropOff, 20), mark)
			}
		})
	}
	if len(idle) > 0 {
		p("\n%d flows without activity in these days: %s\n", len(idle), strings.Join(idle, ", "))
	}

	section("Stages")
	table(func(tw io.Writer) {
		fmt.Fprintln(tw, "stage\tentered\tin it now")
		for _, s := range r.Stages.List {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", s.ID, s.Entered, s.Now)
		}
	})
	if len(r.Stages.Funnel) > 0 {
		p("\nFunnel\n")
		table(func(tw io.Writer) {
			fmt.Fprintln(tw, "from\tto\tmoved\trate\tmedian time")
			for _, f := range r.Stages.Funnel {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.From, f.To, f.Moved, pct(f.Rate), hours(f.MedianHours))
			}
		})
	}

	section("Experiments")
	if len(r.Experiments) == 0 {
		p("no experiments\n")
	}
	for _, e := range r.Experiments {
		p("\n%s", e.ID)
		var about []string
		if e.Flow != "" {
			about = append(about, "flow "+e.Flow)
		}
		goal := "goal " + e.Goal
		if e.Window != "" {
			goal += " within " + e.Window
		}
		about = append(about, goal)
		if e.Holdout > 0 {
			about = append(about, "holdout "+pctOf(e.Holdout))
		}
		p(" (%s)\n", strings.Join(about, ", "))
		table(func(tw io.Writer) {
			fmt.Fprintln(tw, "  variant\tcustomers\tconversions\trate\t95% interval\tP(best)")
			for _, v := range e.Variants {
				name := v.Name
				if v.Name == e.Winner && e.Winner != "" {
					name += " *"
				}
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\n", name, v.Customers, v.Conversions, pct(v.Rate), interval(v.Interval, v.Customers), probText(v.ProbabilityBest))
			}
		})
		if e.Verdict != "" {
			p("  verdict: %s\n", e.Verdict)
		}
		if e.Winner == "" && e.NeedMore > 0 {
			p("  about %d more customers per variant would be needed to tell\n", e.NeedMore)
		}
	}

	section("Offers")
	if len(r.Offers) == 0 {
		p("no offers\n")
	} else {
		table(func(tw io.Writer) {
			fmt.Fprintln(tw, "code\tsent\tredeemed\tconversion\trevenue")
			for _, o := range r.Offers {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.2f\n", o.Code, o.Sent, o.Redeemed, pct(o.Rate), o.Revenue)
			}
		})
	}

	section("Customers")
	c := r.Customers
	cur := ""
	if c.CLV.Currency != "" {
		cur = " " + c.CLV.Currency
	}
	table(func(tw io.Writer) {
		fmt.Fprintf(tw, "new (first purchase)\t%d\n", c.New)
		fmt.Fprintf(tw, "buyers\t%d\n", c.Buyers)
		fmt.Fprintf(tw, "orders (revenue)\t%d (%.2f%s)\n", c.Orders, c.Revenue, cur)
		fmt.Fprintf(tw, "repeat buyers\t%d (%s)\n", c.Repeat, pct(c.RepeatRate))
		fmt.Fprintf(tw, "repeat rate, all time\t%s\n", pct(c.RepeatRateAllTime))
		fmt.Fprintf(tw, "at risk (churn)\t%d\n", c.AtRisk)
		fmt.Fprintf(tw, "won back\t%d\n", c.WonBack)
		fmt.Fprintf(tw, "CLV (average per customer)\t%s%s\n", num(c.CLV.Average, 2), cur)
		for _, k := range slices.Sorted(maps.Keys(c.CLV.ByStage)) {
			fmt.Fprintf(tw, "  CLV in stage %s\t%.2f%s\n", k, c.CLV.ByStage[k], cur)
		}
		for _, k := range slices.Sorted(maps.Keys(c.CLV.ByCohort)) {
			fmt.Fprintf(tw, "  CLV of cohort %s\t%.2f%s\n", k, c.CLV.ByCohort[k], cur)
		}
	})
	if len(c.Cohorts) > 0 {
		p("\nRetention by first-purchase month (share who bought again in month +1, +2, ...)\n")
		table(func(tw io.Writer) {
			months := 0
			for _, co := range c.Cohorts {
				months = max(months, len(co.Retention))
			}
			fmt.Fprint(tw, "cohort\tcustomers")
			for k := range months {
				fmt.Fprintf(tw, "\t+%d", k+1)
			}
			fmt.Fprintln(tw)
			for _, co := range c.Cohorts {
				fmt.Fprintf(tw, "%s\t%d", co.Month, co.Customers)
				for k := range months {
					cell := ""
					if k < len(co.Retention) {
						cell = pctOf(co.Retention[k])
						if k < len(co.Returned) {
							cell += fmt.Sprintf(" (%d)", co.Returned[k])
						}
						if monthRunning(co.Month, k+1, r.To) {
							cell += " so far"
						}
					}
					fmt.Fprintf(tw, "\t%s", cell)
				}
				fmt.Fprintln(tw)
			}
		})
	}

	section("Cases")
	table(func(tw io.Writer) {
		cs := r.Cases
		fmt.Fprintf(tw, "opened\t%d\n", cs.Opened)
		fmt.Fprintf(tw, "resolved\t%d\n", cs.Resolved)
		fmt.Fprintf(tw, "median time to takeover\t%s\n", minutes(cs.MedianTakeoverMins))
		fmt.Fprintf(tw, "median time to resolve\t%s\n", minutes(cs.MedianResolveMins))
		fmt.Fprintf(tw, "CSAT after a case\t%s (%d answers, %s satisfied)\n", num(cs.CSATAfter.Average, 2), cs.CSATAfter.Answers, pct(cs.CSATAfter.SatisfiedShare))
	})

	section("Days")
	table(func(tw io.Writer) {
		fmt.Fprintln(tw, "day\tin\tout\tnudges\tNPS (n)\tCSAT (n)\topt-outs")
		for _, d := range r.Days {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d\n", d.Date, d.Inbound, d.Outbound, d.Proactive,
				withN(signed(d.NPS), d.NPSN), withN(num(d.CSAT, 2), d.CSATN), d.OptOuts)
		}
	})
	p("\nNPS: %% promoters (9-10) minus %% detractors (0-6). CSAT: average 1-5, satisfied = share of 4-5.\n")
	p("Drop-off: customers whose last progress was at the step (no answer for insight.abandon_after) over those who reached it;\n")
	p("waiting: asked there, not answered yet, not abandoned yet. * marks the winner.\n")
	return ew.err
}

// probText writes a probability without rounding 99.6% up to a certainty.
func probText(p float64) string {
	switch {
	case p > 0.99 && p < 1:
		return ">99%"
	case p > 0 && p < 0.01:
		return "<1%"
	}
	return pctOf(p)
}

func withN(s string, n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%d)", s, n)
}

func rate(n, of int64) *float64 {
	if of == 0 {
		return nil
	}
	v := float64(n) / float64(of)
	return &v
}

// mostLost names the flows that lost the most customers midway, and the
// step most of them left at: the first thing a marketer looks for.
func mostLost(flows []Flow) string {
	var lost []Flow
	for _, f := range flows {
		if f.Abandoned > 0 {
			lost = append(lost, f)
		}
	}
	if len(lost) == 0 {
		return "No customer left a flow midway in these days."
	}
	slices.SortStableFunc(lost, func(a, b Flow) int { return cmp.Compare(b.Abandoned, a.Abandoned) })
	var parts []string
	for _, f := range lost[:min(3, len(lost))] {
		t := fmt.Sprintf("%s (%d of %d started)", f.ID, f.Abandoned, f.Started)
		if w := worstStep(f.Steps); w >= 0 {
			s := f.Steps[w]
			t += fmt.Sprintf(", most at %s (%d of %d, %s)", s.ID, s.Abandoned, s.Reached, pct(s.DropOff))
		}
		parts = append(parts, t)
	}
	return "Most customers lost: " + strings.Join(parts, "; ") + "."
}

// worstStep is the step with the most customers abandoned, or -1 if none.
func worstStep(steps []Step) int {
	worst, most := -1, int64(0)
	for i, s := range steps {
		if s.Abandoned > most {
			worst, most = i, s.Abandoned
		}
	}
	return worst
}

func bar(v *float64, width int) string {
	if v == nil {
		return ""
	}
	n := int(*v*float64(width) + 0.5)
	return strings.Repeat("█", min(max(n, 0), width))
}

// errWriter keeps the first write error, so the renderers can print freely
// and report it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// quiet says whether nothing happened in a flow in the report's days: the
// table lists such flows on one line, so the active ones stand out.
func quiet(f Flow) bool {
	if f.Started != 0 || f.Completed != 0 || f.Abandoned != 0 || f.Waiting != 0 {
		return false
	}
	if f.Proactive != nil && f.Proactive.Sent != 0 {
		return false
	}
	for _, s := range f.Steps {
		if s.Reached != 0 {
			return false
		}
	}
	return true
}

// stepName is a step's id, with what it does when the script left it
// unnamed (its id is then only its position).
func stepName(s Step) string {
	if s.Kind != "" && strings.Trim(s.ID, "0123456789") == "" {
		return s.ID + " (" + s.Kind + ")"
	}
	return s.ID
}

// monthRunning says whether the month k months after cohort (YYYY-MM) is
// the one the report ends in (YYYY-MM-DD), so still running.
func monthRunning(cohort string, k int, to string) bool {
	c, err1 := time.Parse("2006-01", cohort)
	end, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return false
	}
	m := c.AddDate(0, k, 0)
	return m.Year() == end.Year() && m.Month() == end.Month()
}
