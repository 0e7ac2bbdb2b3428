package insight

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/conversations"
	"journeybot/journey"
)

// ReaderOptions say where the figures are and how to read them.
type ReaderOptions struct {
	Prefix string         // redis.prefix
	Zone   *time.Location // the business's time zone (send.default_timezone); default UTC
	// Scripts give the order of flows, steps and stages (and which flows
	// ask the CSAT after a case); figures of flows no longer in them follow.
	Scripts *conversations.Scripts
	// Current, when set, gives the scripts in use at each report instead
	// (a running bot's, which hot reload swaps).
	Current func() *conversations.Scripts
	// AbandonAfter is insight.abandon_after (default DefaultAbandonAfter).
	AbandonAfter time.Duration
	// Now is the clock (default time.Now): "now" figures, and which waits
	// have run out.
	Now func() time.Time
}

// Reader builds Reports from the figures in Redis.
type Reader struct {
	rdb redis.UniversalClient
	opt ReaderOptions
}

// NewReader returns a reader of the figures under opt.Prefix.
func NewReader(rdb redis.UniversalClient, opt ReaderOptions) *Reader {
	if opt.Zone == nil {
		opt.Zone = time.UTC
	}
	if opt.AbandonAfter <= 0 {
		opt.AbandonAfter = DefaultAbandonAfter
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Prefix == "" {
		opt.Prefix = "jb"
	}
	return &Reader{rdb: rdb, opt: opt}
}

// MaxDays is the longest range a report covers (the daily figures are kept
// 400 days).
const MaxDays = 400

// Report returns the figures of the days from..to (inclusive, as days in
// the reader's zone).
func (r *Reader) Report(ctx context.Context, from, to time.Time) (*Report, error) {
	z := r.opt.Zone
	first := startOfDay(from.In(z))
	last := startOfDay(to.In(z))
	if last.Before(first) {
		return nil, fmt.Errorf("report: the range ends (%s) before it starts (%s)", last.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	var days []time.Time
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
		if len(days) > MaxDays {
			return nil, fmt.Errorf("report: %s to %s is more than %d days", first.Format(time.DateOnly), last.Format(time.DateOnly), MaxDays)
		}
	}
	byDay, all, err := r.read(ctx, days)
	if err != nil {
		return nil, err
	}
	if all[fRecounted] == 0 {
		// Journeys from before the figures were kept are in no stage count:
		// count every journey's stage once, then go on by the changes.
		if all, err = r.recount(ctx, all); err != nil {
			return nil, err
		}
	}
	now := r.opt.Now()
	b := &builder{r: r, days: days, byDay: byDay, all: all, now: now, tot: map[string]int64{}, scripts: r.opt.Scripts}
	if r.opt.Current != nil {
		b.scripts = r.opt.Current()
	}
	for _, d := range byDay {
		for k, v := range d {
			b.tot[k] += v
		}
	}
	rep := &Report{
		From: first.Format(time.DateOnly), To: last.Format(time.DateOnly), Zone: z.String(),
		Generated:   now.In(z).Format(time.RFC3339),
		Experiments: []Experiment{},
	}
	b.flows(rep)
	rep.NPS, rep.CSAT = b.surveys(nil)
	b.stages(rep)
	b.offers(rep)
	b.customers(rep)
	b.cases(rep)
	b.daily(rep)
	if rep.Experiments, err = ReadExperiments(ctx, r.rdb, r.opt.Prefix, b.scripts, first, last); err != nil {
		return nil, err
	}
	return rep, nil
}

// fRecounted marks the all-time figures whose stage counts were counted
// from the journeys once.
const fRecounted = "recount|stages"

// RecountStages counts the customers in each stage afresh from the stored
// journeys (a report does it by itself the first time). Changes committed
// while it runs, in the second they take to be flushed, may be miscounted by
// one each.
func (r *Reader) RecountStages(ctx context.Context) error {
	_, all, err := r.read(ctx, nil)
	if err != nil {
		return err
	}
	_, err = r.recount(ctx, all)
	return err
}

func (r *Reader) recount(ctx context.Context, all map[string]int64) (map[string]int64, error) {
	counts, err := journey.NewStore(r.rdb, journey.Options{Prefix: r.opt.Prefix}).StageCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	old := names(all, "now", 0)
	_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for s := range Shards {
			for _, st := range old {
				p.HDel(ctx, AllKey(r.opt.Prefix, s), fStageNow(st))
			}
		}
		fields := []any{fRecounted, r.opt.Now().Unix()}
		for st, n := range counts {
			fields = append(fields, fStageNow(st), n)
		}
		p.HSet(ctx, AllKey(r.opt.Prefix, 0), fields...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: recount stages: %w", err)
	}
	for _, st := range old {
		delete(all, fStageNow(st))
	}
	for st, n := range counts {
		all[fStageNow(st)] = n
	}
	all[fRecounted] = r.opt.Now().Unix()
	return all, nil
}

// read fetches the days' hashes and the all-time ones in one pipeline.
func (r *Reader) read(ctx context.Context, days []time.Time) ([]map[string]int64, map[string]int64, error) {
	pipe := r.rdb.Pipeline()
	dayCmds := make([][]*redis.MapStringStringCmd, len(days))
	for i, d := range days {
		for s := -1; s < Shards; s++ {
			dayCmds[i] = append(dayCmds[i], pipe.HGetAll(ctx, DayKey(r.opt.Prefix, d.Format(time.DateOnly), s)))
		}
	}
	var allCmds []*redis.MapStringStringCmd
	for s := range Shards {
		allCmds = append(allCmds, pipe.HGetAll(ctx, AllKey(r.opt.Prefix, s)))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("report: read figures: %w", err)
	}
	sum := func(cmds []*redis.MapStringStringCmd) map[string]int64 {
		out := map[string]int64{}
		for _, c := range cmds {
			for k, v := range c.Val() {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[k] += n
			}
		}
		return out
	}
	byDay := make([]map[string]int64, len(days))
	for i := range days {
		byDay[i] = sum(dayCmds[i])
	}
	return byDay, sum(allCmds), nil
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

type builder struct {
	r     *Reader
	days  []time.Time
	byDay []map[string]int64
	all   map[string]int64
	tot   map[string]int64 // the range's day figures summed
	now   time.Time
	// scripts order the flows, steps and stages (nil: as counted).
	scripts *conversations.Scripts
}

func ratio(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	v := float64(a) / float64(b)
	return &v
}

// names returns the distinct values of part i of the fields starting with
// prefix (fields are PART|PART|...), sorted.
func names(m map[string]int64, prefix string, i int) []string {
	seen := map[string]bool{}
	for k := range m {
		if rest, ok := strings.CutPrefix(k, prefix+"|"); ok {
			parts := strings.Split(rest, "|")
			if i < len(parts) {
				seen[parts[i]] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// ---- flows and steps

func (b *builder) flows(rep *Report) {
	rep.Flows = []Flow{}
	type flowDef struct {
		id    string
		steps []string
		kinds []string
		def   *conversations.Flow
	}
	var defs []flowDef
	known := map[string]bool{}
	if s := b.scripts; s != nil {
		for _, f := range s.Flows {
			d := flowDef{id: f.ID, def: f}
			for _, st := range f.Steps {
				d.steps = append(d.steps, st.ID)
				d.kinds = append(d.kinds, st.Kind)
			}
			defs = append(defs, d)
			known[f.ID] = true
		}
	}
	// Flows counted but gone from the scripts (a hot reload removed them).
	for _, id := range append(names(b.tot, "fl", 0), names(b.tot, "st", 0)...) {
		if !known[id] {
			known[id] = true
			defs = append(defs, flowDef{id: id, steps: names(b.tot, "st|"+id, 0)})
		}
	}
	for _, d := range defs {
		f := Flow{ID: d.id, Started: b.tot[fFlowStart(d.id)], Completed: b.tot[fFlowDone(d.id)], Steps: []Step{}}
		for i, st := range d.steps {
			s := Step{ID: st, Reached: b.tot[fStepReach(d.id, st)]}
			if i < len(d.kinds) {
				s.Kind = d.kinds[i]
			}
			s.Abandoned, s.Waiting = b.abandoned(d.id, st)
			s.DropOff = ratio(s.Abandoned, s.Reached)
			f.Abandoned += s.Abandoned
			f.Waiting += s.Waiting
			f.Steps = append(f.Steps, s)
		}
		if sent := b.tot[fNudge(d.id, "sent")]; sent > 0 || proactive(d.def) {
			p := &Proactive{Sent: sent, Replied: b.tot[fNudge(d.id, "replied")], OptOuts: b.tot[fNudge(d.id, "optout")], Blocks: b.tot[fNudge(d.id, "block")]}
			p.OpenRate = ratio(p.Replied, p.Sent)
			f.Proactive = p
		}
		nps, csat := b.surveys(func(flow string) bool { return flow == d.id })
		if nps.Answers > 0 {
			f.NPS = &nps
		}
		if csat.Answers > 0 {
			f.CSAT = &csat
		}
		rep.Flows = append(rep.Flows, f)
	}
}

// abandoned counts the waits at a step that got no answer: those older than
// abandon_after are abandoned, the rest still wait. A wait is counted on the
// day it began, and its answer (when in time) on that same day.
func (b *builder) abandoned(flow, step string) (abandoned, waiting int64) {
	for i, d := range b.days {
		open := b.byDay[i][fStepWait(flow, step)] - b.byDay[i][fStepResume(flow, step)]
		if open <= 0 {
			continue
		}
		// Every wait of day d has run out once the day's end plus
		// abandon_after has passed.
		if !d.AddDate(0, 0, 1).Add(b.r.opt.AbandonAfter).After(b.now) {
			abandoned += open
		} else {
			waiting += open
		}
	}
	return abandoned, waiting
}

// proactive reports whether a flow writes first (time or event triggers).
func proactive(f *conversations.Flow) bool {
	if f == nil {
		return false
	}
	for _, t := range f.Triggers {
		if t.After > 0 || t.Inactive > 0 || t.Event != "" && !strings.HasPrefix(t.Event, "case.") {
			return true
		}
	}
	for _, st := range f.Steps {
		if st.Kind == conversations.KindWait {
			return true
		}
	}
	return false
}

// ---- surveys

// tally is the answers to one kind of survey by score.
type tally map[int]int64

func (b *builder) tallies(m map[string]int64, keep func(flow string) bool) (nps, csat tally) {
	nps, csat = tally{}, tally{}
	for k, n := range m {
		rest, ok := strings.CutPrefix(k, "sv|")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "|")
		if len(parts) != 3 || keep != nil && !keep(parts[0]) {
			continue
		}
		score, err := strconv.Atoi(parts[2])
		if err != nil {
			continue
		}
		switch parts[1] {
		case "nps":
			nps[score] += n
		case "csat":
			csat[score] += n
		}
	}
	return nps, csat
}

func (t tally) nps() NPS {
	var out NPS
	for score, n := range t {
		out.Answers += n
		switch {
		case score >= 9:
			out.Promoters += n
		case score >= 7:
			out.Passives += n
		default:
			out.Detractors += n
		}
	}
	if out.Answers > 0 {
		v := float64(out.Promoters-out.Detractors) * 100 / float64(out.Answers)
		out.Score = &v
	}
	return out
}

func (t tally) csat() CSAT {
	var out CSAT
	var sum, sat int64
	for score, n := range t {
		out.Answers += n
		sum += int64(score) * n
		if score >= 4 {
			sat += n
		}
	}
	if out.Answers > 0 {
		avg := float64(sum) / float64(out.Answers)
		out.Average = &avg
		out.SatisfiedShare = ratio(sat, out.Answers)
	}
	return out
}

// surveys is NPS and CSAT over the range for the flows keep accepts (nil:
// all, with the break-down by flow).
func (b *builder) surveys(keep func(string) bool) (NPS, CSAT) {
	nt, ct := b.tallies(b.tot, keep)
	nps, csat := nt.nps(), ct.csat()
	if keep == nil {
		for _, f := range names(b.tot, "sv", 0) {
			one := func(flow string) bool { return flow == f }
			fn, fc := b.tallies(b.tot, one)
			if n := fn.nps(); n.Answers > 0 {
				nps.ByFlow = append(nps.ByFlow, NPSOf{Flow: f, NPS: n})
			}
			if c := fc.csat(); c.Answers > 0 {
				csat.ByFlow = append(csat.ByFlow, CSATOf{Flow: f, CSAT: c})
			}
		}
	}
	return nps, csat
}

// ---- stages

func (b *builder) stages(rep *Report) {
	var ids []string
	known := map[string]bool{}
	if s := b.scripts; s != nil {
		for _, st := range s.Stages {
			ids = append(ids, st.ID)
			known[st.ID] = true
		}
	}
	for _, id := range append(names(b.tot, "sg", 0), names(b.all, "now", 0)...) {
		if !known[id] {
			known[id] = true
			ids = append(ids, id)
		}
	}
	rep.Stages = Stages{List: []Stage{}, Funnel: []FunnelStep{}}
	for _, id := range ids {
		rep.Stages.List = append(rep.Stages.List, Stage{ID: id, Entered: b.tot[fStageIn(id)], Now: max(0, b.all[fStageNow(id)])})
	}
	// The funnel: each consecutive pair of stages, then any other move seen.
	type pair struct{ from, to string }
	var pairs []pair
	seen := map[pair]bool{}
	for i := 0; i+1 < len(ids); i++ {
		p := pair{ids[i], ids[i+1]}
		pairs = append(pairs, p)
		seen[p] = true
	}
	var other []pair
	for k, n := range b.tot {
		rest, ok := strings.CutPrefix(k, "sm|")
		if !ok || n == 0 {
			continue
		}
		from, to, _ := strings.Cut(rest, "|")
		if p := (pair{from, to}); !seen[p] {
			seen[p] = true
			other = append(other, p)
		}
	}
	order := func(id string) int { return slices.Index(ids, id) }
	slices.SortFunc(other, func(a, b pair) int {
		if d := order(a.from) - order(b.from); d != 0 {
			return d
		}
		return order(a.to) - order(b.to)
	})
	for _, p := range append(pairs, other...) {
		fs := FunnelStep{From: p.from, To: p.to, Moved: b.tot[fStageMove(p.from, p.to)]}
		// Of the customers who entered from in these days, the share who
		// have moved on to to since (moves counted on the entry's day).
		fs.Rate = ratio(b.tot[fStageOn(p.from, p.to)], b.tot[fStageIn(p.from)])
		h := b.histogram("sh|" + p.from + "|" + p.to)
		if d, ok := median(h); ok {
			v := d.Hours()
			fs.MedianHours = &v
		}
		rep.Stages.Funnel = append(rep.Stages.Funnel, fs)
	}
}

// histogram reads the buckets of fields "PREFIX|B" over the range.
func (b *builder) histogram(prefix string) map[int]int64 {
	h := map[int]int64{}
	for k, n := range b.tot {
		if rest, ok := strings.CutPrefix(k, prefix+"|"); ok {
			if i, err := strconv.Atoi(rest); err == nil {
				h[i] += n
			}
		}
	}
	return h
}

// ---- offers, customers, cases

func (b *builder) offers(rep *Report) {
	var codes []string
	known := map[string]bool{}
	if s := b.scripts; s != nil {
		for _, f := range s.Flows {
			for _, st := range f.Steps {
				if st.Kind == conversations.KindOffer && st.Offer != nil && !known[st.Offer.Code] {
					known[st.Offer.Code] = true
					codes = append(codes, st.Offer.Code)
				}
			}
		}
	}
	for _, c := range names(b.tot, "of", 0) {
		if !known[c] {
			known[c] = true
			codes = append(codes, c)
		}
	}
	rep.Offers = []Offer{}
	for _, c := range codes {
		o := Offer{Code: c, Sent: b.tot[fOffer(c, "sent")], Redeemed: b.tot[fOffer(c, "redeemed")], Revenue: money(b.tot[fOffer(c, "revenue")])}
		o.Rate = ratio(o.Redeemed, o.Sent)
		rep.Offers = append(rep.Offers, o)
	}
}

func money(cents int64) float64 { return float64(cents) / 100 }

func avgMoney(cents, n int64) *float64 {
	if n <= 0 {
		return nil
	}
	v := float64(cents) / 100 / float64(n)
	return &v
}

func (b *builder) customers(rep *Report) {
	c := Customers{
		New: b.tot[fCust("new")], Buyers: b.tot[fCust("buy")], Repeat: b.tot[fCust("repeat")],
		AtRisk: b.tot[fCust("atrisk")], WonBack: b.tot[fCust("wonback")],
		Orders: b.tot[fCust("orders")], Revenue: money(b.tot[fCust("revenue")]),
		Cohorts: []Cohort{},
	}
	c.RepeatRate = ratio(c.Repeat, c.Buyers)
	c.RepeatRateAllTime = ratio(b.all[fCLV("repeaters")], b.all[fCLV("n")])
	c.CLV.Average = avgMoney(b.all[fCLV("sum")], b.all[fCLV("n")])
	var best int64
	for _, cur := range names(b.all, "cur", 0) {
		if n := b.all[fCurrency(cur)]; n > best {
			best, c.CLV.Currency = n, cur
		}
	}
	for _, st := range names(b.all, "cvs", 0) {
		if v := avgMoney(b.all[fCLVStage(st, "sum")], b.all[fCLVStage(st, "n")]); v != nil {
			if c.CLV.ByStage == nil {
				c.CLV.ByStage = map[string]float64{}
			}
			c.CLV.ByStage[st] = *v
		}
	}
	lastMonth := monthIndex(b.days[len(b.days)-1])
	for _, m := range names(b.all, "co", 0) {
		t, err := time.Parse("2006-01", m)
		if err != nil || monthIndex(t) > lastMonth {
			continue
		}
		n := b.all[fCohort(m, "n")]
		if n <= 0 {
			continue
		}
		if v := avgMoney(b.all[fCohort(m, "sum")], n); v != nil {
			if c.CLV.ByCohort == nil {
				c.CLV.ByCohort = map[string]float64{}
			}
			c.CLV.ByCohort[m] = *v
		}
		co := Cohort{Month: m, Customers: n, Returned: []int64{}, Retention: []float64{}}
		// Months after the first, up to the report's last month.
		for k := 0; k < int(lastMonth-monthIndex(t)); k++ {
			r := b.all[fCohortReturned(m, k)]
			co.Returned = append(co.Returned, r)
			co.Retention = append(co.Retention, float64(r)/float64(n))
		}
		c.Cohorts = append(c.Cohorts, co)
	}
	rep.Customers = c
}

func (b *builder) cases(rep *Report) {
	c := Cases{Opened: b.tot[fCase("open")], Resolved: b.tot[fCase("resolved")]}
	if d, ok := median(b.histogram("ch|takeover")); ok {
		v := d.Minutes()
		c.MedianTakeoverMins = &v
	}
	if d, ok := median(b.histogram("ch|resolve")); ok {
		v := d.Minutes()
		c.MedianResolveMins = &v
	}
	after := map[string]bool{}
	if s := b.scripts; s != nil {
		for _, f := range s.Flows {
			for _, t := range f.Triggers {
				if t.Event == "case.resolved" {
					after[f.ID] = true
				}
			}
		}
	}
	_, ct := b.tallies(b.tot, func(flow string) bool { return after[flow] })
	c.CSATAfter = ct.csat()
	rep.Cases = c
}

func (b *builder) daily(rep *Report) {
	rep.Days = []Day{}
	for i, d := range b.days {
		m := b.byDay[i]
		nt, ct := b.tallies(m, nil)
		n, c := nt.nps(), ct.csat()
		rep.Days = append(rep.Days, Day{
			Date: d.Format(time.DateOnly), Inbound: m["inbound"], Outbound: m["outbound"], Proactive: m["nudge.sent"],
			NPS: n.Score, NPSN: n.Answers, CSAT: c.Average, CSATN: c.Answers, OptOuts: m["optout"],
		})
	}
}
