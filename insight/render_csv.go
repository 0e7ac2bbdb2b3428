package insight

import (
	"encoding/csv"
	"io"
	"maps"
	"slices"
	"strconv"
)

// writeCSV writes one row per figure: section,id,metric,value. section names
// what the row is about (report, nps, csat, stage, funnel, flow, step,
// proactive, experiment, variant, offer, customers, clv_stage, clv_cohort,
// cohort, cases, cases_csat, day); id is the thing within it (a flow, a
// step as FLOW/STEP, a variant as EXPERIMENT/VARIANT, a funnel passage as
// FROM>TO, a day), empty for overall figures; a null figure has an empty
// value. Rates are 0..1, not percentages. Long and narrow on purpose: a
// spreadsheet's pivot table makes any layout of it.
func writeCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	row := func(section, id, metric, value string) { cw.Write([]string{section, id, metric, value}) }
	i := func(section, id, metric string, v int64) { row(section, id, metric, strconv.FormatInt(v, 10)) }
	f := func(section, id, metric string, v *float64) {
		s := ""
		if v != nil {
			s = strconv.FormatFloat(*v, 'f', -1, 64)
		}
		row(section, id, metric, s)
	}
	fv := func(section, id, metric string, v float64) { f(section, id, metric, &v) }

	cw.Write([]string{"section", "id", "metric", "value"})
	row("report", "", "from", r.From)
	row("report", "", "to", r.To)
	row("report", "", "zone", r.Zone)
	row("report", "", "generated", r.Generated)
	nps := func(id string, n NPS) {
		f("nps", id, "score", n.Score)
		i("nps", id, "promoters", n.Promoters)
		i("nps", id, "passives", n.Passives)
		i("nps", id, "detractors", n.Detractors)
		i("nps", id, "answers", n.Answers)
	}
	csat := func(section, id string, c CSAT) {
		f(section, id, "average", c.Average)
		f(section, id, "satisfied_share", c.SatisfiedShare)
		i(section, id, "answers", c.Answers)
	}
	nps("", r.NPS)
	for _, x := range r.NPS.ByFlow {
		nps(x.Flow, x.NPS)
	}
	csat("csat", "", r.CSAT)
	for _, x := range r.CSAT.ByFlow {
		csat("csat", x.Flow, x.CSAT)
	}
	for _, s := range r.Stages.List {
		i("stage", s.ID, "entered", s.Entered)
		i("stage", s.ID, "now", s.Now)
	}
	for _, s := range r.Stages.Funnel {
		id := s.From + ">" + s.To
		i("funnel", id, "moved", s.Moved)
		f("funnel", id, "rate", s.Rate)
		f("funnel", id, "median_hours", s.MedianHours)
	}
	for _, fl := range r.Flows {
		i("flow", fl.ID, "started", fl.Started)
		i("flow", fl.ID, "completed", fl.Completed)
		i("flow", fl.ID, "abandoned", fl.Abandoned)
		i("flow", fl.ID, "waiting", fl.Waiting)
		for _, s := range fl.Steps {
			id := fl.ID + "/" + s.ID
			i("step", id, "reached", s.Reached)
			i("step", id, "waiting", s.Waiting)
			i("step", id, "abandoned", s.Abandoned)
			f("step", id, "drop_off", s.DropOff)
		}
		if p := fl.Proactive; p != nil {
			i("proactive", fl.ID, "sent", p.Sent)
			i("proactive", fl.ID, "replied", p.Replied)
			f("proactive", fl.ID, "open_rate", p.OpenRate)
			i("proactive", fl.ID, "opt_outs", p.OptOuts)
			i("proactive", fl.ID, "blocks", p.Blocks)
		}
	}
	for _, e := range r.Experiments {
		row("experiment", e.ID, "flow", e.Flow)
		row("experiment", e.ID, "goal", e.Goal)
		row("experiment", e.ID, "window", e.Window)
		fv("experiment", e.ID, "holdout", e.Holdout)
		row("experiment", e.ID, "winner", e.Winner)
		row("experiment", e.ID, "verdict", e.Verdict)
		i("experiment", e.ID, "need_more", e.NeedMore)
		for _, v := range e.Variants {
			id := e.ID + "/" + v.Name
			i("variant", id, "customers", v.Customers)
			i("variant", id, "conversions", v.Conversions)
			f("variant", id, "rate", v.Rate)
			fv("variant", id, "interval_low", v.Interval[0])
			fv("variant", id, "interval_high", v.Interval[1])
			fv("variant", id, "probability_best", v.ProbabilityBest)
		}
	}
	for _, o := range r.Offers {
		i("offer", o.Code, "sent", o.Sent)
		i("offer", o.Code, "redeemed", o.Redeemed)
		f("offer", o.Code, "rate", o.Rate)
		fv("offer", o.Code, "revenue", o.Revenue)
	}
	c := r.Customers
	i("customers", "", "new", c.New)
	i("customers", "", "buyers", c.Buyers)
	i("customers", "", "orders", c.Orders)
	fv("customers", "", "revenue", c.Revenue)
	i("customers", "", "repeat", c.Repeat)
	f("customers", "", "repeat_rate", c.RepeatRate)
	f("customers", "", "repeat_rate_all_time", c.RepeatRateAllTime)
	i("customers", "", "at_risk", c.AtRisk)
	i("customers", "", "won_back", c.WonBack)
	row("customers", "", "currency", c.CLV.Currency)
	f("customers", "", "clv_average", c.CLV.Average)
	for _, k := range slices.Sorted(maps.Keys(c.CLV.ByStage)) {
		fv("clv_stage", k, "average", c.CLV.ByStage[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.CLV.ByCohort)) {
		fv("clv_cohort", k, "average", c.CLV.ByCohort[k])
	}
	for _, co := range c.Cohorts {
		i("cohort", co.Month, "customers", co.Customers)
		for k, n := range co.Returned {
			i("cohort", co.Month, "returned_"+strconv.Itoa(k+1), n)
		}
		for k, v := range co.Retention {
			fv("cohort", co.Month, "retention_"+strconv.Itoa(k+1), v)
		}
	}
	i("cases", "", "opened", r.Cases.Opened)
	i("cases", "", "resolved", r.Cases.Resolved)
	f("cases", "", "median_takeover_minutes", r.Cases.MedianTakeoverMins)
	f("cases", "", "median_resolve_minutes", r.Cases.MedianResolveMins)
	csat("cases_csat", "", r.Cases.CSATAfter)
	for _, d := range r.Days {
		i("day", d.Date, "inbound", d.Inbound)
		i("day", d.Date, "outbound", d.Outbound)
		i("day", d.Date, "proactive", d.Proactive)
		f("day", d.Date, "nps", d.NPS)
		i("day", d.Date, "nps_answers", d.NPSN)
		f("day", d.Date, "csat", d.CSAT)
		i("day", d.Date, "csat_answers", d.CSATN)
		i("day", d.Date, "opt_outs", d.OptOuts)
	}
	cw.Flush()
	return cw.Error()
}
