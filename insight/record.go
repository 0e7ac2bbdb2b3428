package insight

import (
	"math"
	"time"

	"journeybot/conversations"
	"journeybot/journey"
)

// Count is one figure to add: N to Field on the day containing At (Unix
// seconds, in the business's time zone), or to the all-time figures when
// At is 0. The runtime buffers counts in memory and writes them once a
// second (bot.Stats), so recording costs no Redis round trip of its own.
type Count struct {
	At    int64
	Field string
	N     int64
}

// RiskStage is the stage whose entries count as customers at risk of
// churning, and a purchase from it as a customer won back (the shipped
// scripts' win-back stage).
const RiskStage = "at_risk"

// DefaultAbandonAfter is insight.abandon_after's default.
const DefaultAbandonAfter = 3 * 24 * time.Hour

// Recorder turns what one input did to a journey into counts. It keeps the
// per-customer state it needs in the journey itself (journey.Figures,
// journey.Conv.Since), changed inside the same commit, so counting adds no
// Redis work: the runtime calls Snapshot before the engine, Observe after
// it, and adds the counts once the commit is in Redis.
type Recorder struct {
	zone    *time.Location
	abandon time.Duration
}

// NewRecorder returns a recorder whose days and months are in zone (the
// business's, send.default_timezone) and that counts a step abandoned after
// abandonAfter without an answer (0: DefaultAbandonAfter).
func NewRecorder(zone *time.Location, abandonAfter time.Duration) *Recorder {
	if zone == nil {
		zone = time.UTC
	}
	if abandonAfter <= 0 {
		abandonAfter = DefaultAbandonAfter
	}
	return &Recorder{zone: zone, abandon: abandonAfter}
}

// Before is what Observe needs of the journey as it was before the input.
type Before struct {
	stage         string
	stageSince    int64
	conv          journey.Conv
	lastProactive int64
	fig           journey.Figures
	paidBefore    bool // the order of an order.paid input was paid already
}

// Snapshot remembers what Observe compares the journey with; in is the
// input about to be handled.
func (r *Recorder) Snapshot(j *journey.Journey, in conversations.Input) Before {
	b := Before{stage: j.Stage, stageSince: j.StageSince, conv: j.Conv, lastProactive: j.LastProactive}
	if ev := in.Event; in.Kind == conversations.InEvent && ev != nil && ev.Type == "order.paid" && ev.Order != nil {
		if o := j.Order(ev.Order.ID); o != nil {
			switch o.Status {
			case "paid", "shipped", "delivered", "refunded":
				b.paidBefore = true // the store said so again (a retry with a new event id)
			}
		}
	}
	if j.Figures != nil {
		b.fig = *j.Figures
	}
	return b
}

// Observe returns the counts of what in did to j (res is the engine's
// result, now the runtime's clock) and updates j's figure state. An event
// with a time of its own (an import, a late webhook) is counted on its day.
func (r *Recorder) Observe(b Before, j *journey.Journey, in conversations.Input, res *conversations.Result, now time.Time) []Count {
	o := observation{r: r, b: b, j: j}
	at := now
	var ev *journey.Event
	if in.Kind == conversations.InEvent && in.Event != nil {
		ev = in.Event
		if !ev.At.IsZero() && ev.At.Before(now) {
			at = ev.At
		}
	}
	t := at.Unix()
	fig := o.figures()
	for _, s := range fig.Unstage {
		o.add(0, fStageNow(s), -1)
	}
	fig.Unstage = nil

	switch in.Kind {
	case conversations.InText, conversations.InButton, conversations.InCommand, conversations.InMedia:
		// The customer wrote or pressed: a reply to the last nudge, when
		// within 24 hours of it, counted once on the nudge's day.
		if fig.NudgeFlow != "" && !fig.Replied && b.lastProactive > 0 && now.Unix()-b.lastProactive <= 24*3600 {
			fig.Replied = true
			o.add(b.lastProactive, fNudge(fig.NudgeFlow, "replied"), 1)
		}
	}
	for _, n := range res.Notes {
		switch n {
		case "optout":
			if fig.NudgeFlow != "" && b.lastProactive > 0 && now.Unix()-b.lastProactive <= 48*3600 {
				o.add(b.lastProactive, fNudge(fig.NudgeFlow, "optout"), 1)
			}
		case "escalated":
			o.add(t, fCase("open"), 1)
		}
	}

	// The flows' marks.
	waitedAt := -1
	for i, m := range res.Marks {
		switch m.Kind {
		case conversations.MarkStart:
			o.add(t, fFlowStart(m.Flow), 1)
		case conversations.MarkReach:
			o.add(t, fStepReach(m.Flow, m.Step), 1)
		case conversations.MarkWait:
			o.add(t, fStepWait(m.Flow, m.Step), 1)
			waitedAt = i
		case conversations.MarkResume:
			// Answered in time: the wait is not abandoned. Counted on the
			// day it began, beside the wait it cancels.
			if s := b.conv.Since; s > 0 && b.conv.Flow == m.Flow && b.conv.Step == m.Step && now.Unix()-s <= int64(r.abandon/time.Second) {
				o.add(s, fStepResume(m.Flow, m.Step), 1)
			}
		case conversations.MarkDone:
			o.add(t, fFlowDone(m.Flow), 1)
		case conversations.MarkSurvey:
			o.add(t, fSurvey(m.Flow, m.Value, m.Score), 1)
		case conversations.MarkNudge:
			o.add(now.Unix(), fNudge(m.Flow, "sent"), 1)
			fig.NudgeFlow, fig.Replied = m.Flow, false
		case conversations.MarkOffer:
			o.add(t, fOffer(m.Value, "sent"), 1)
		}
	}
	if waitedAt >= 0 {
		if m := res.Marks[waitedAt]; j.Conv.Waiting && j.Conv.Flow == m.Flow && j.Conv.Step == m.Step {
			j.Conv.Since = t
		}
	}

	// Stages: entries, the funnel, who is where now.
	if j.Stage != b.stage {
		o.add(t, fStageIn(j.Stage), 1)
		o.add(0, fStageNow(j.Stage), 1)
		if j.Stage == RiskStage {
			o.add(t, fCust("atrisk"), 1)
		}
		if b.stage != "" {
			o.add(0, fStageNow(b.stage), -1)
			o.add(t, fStageMove(b.stage, j.Stage), 1)
			if b.stageSince > 0 && t >= b.stageSince {
				o.add(t, fStageHist(b.stage, j.Stage, bucket(time.Duration(t-b.stageSince)*time.Second)), 1)
				o.add(b.stageSince, fStageOn(b.stage, j.Stage), 1)
			}
			if fig.Buys > 0 {
				o.add(0, fCLVStage(b.stage, "sum"), -fig.Spent)
				o.add(0, fCLVStage(b.stage, "n"), -1)
				o.add(0, fCLVStage(j.Stage, "sum"), fig.Spent)
				o.add(0, fCLVStage(j.Stage, "n"), 1)
			}
		}
		j.StageSince = t // the event's own time, for imports
	}

	if ev != nil {
		o.event(ev, t, fig)
	}
	o.done(fig)
	return o.counts
}

type observation struct {
	r      *Recorder
	b      Before
	j      *journey.Journey
	counts []Count
}

func (o *observation) add(at int64, f string, n int64) {
	o.counts = append(o.counts, Count{At: at, Field: f, N: n})
}

// figures is a working copy of the journey's figure state; done stores it
// back, or drops it when it holds nothing.
func (o *observation) figures() *journey.Figures {
	f := o.b.fig
	if o.j.Figures != nil {
		f = *o.j.Figures
	}
	return &f
}

func (o *observation) done(f *journey.Figures) {
	if f.NudgeFlow == "" && !f.Replied && f.FirstBuy == 0 && f.Buys == 0 && f.BuyDay == 0 && f.BuyMonth == 0 && f.Spent == 0 && len(f.Unstage) == 0 {
		o.j.Figures = nil
		return
	}
	o.j.Figures = f
}

// event counts purchases, redemptions and cases.
func (o *observation) event(ev *journey.Event, t int64, fig *journey.Figures) {
	j := o.j
	at := time.Unix(t, 0).In(o.r.zone)
	switch ev.Type {
	case "order.paid":
		if ev.Order == nil || ev.Order.ID == "" || o.b.paidBefore {
			return
		}
		var cents int64
		var cur string
		if ord := j.Order(ev.Order.ID); ord != nil {
			cents, cur = toCents(ord.Total), ord.Currency
		}
		o.add(t, fCust("orders"), 1)
		o.add(t, fCust("revenue"), cents)
		day, month := dayIndex(at), monthIndex(at)
		if fig.Buys == 0 || fig.BuyDay != day {
			o.add(t, fCust("buy"), 1)
			if fig.Buys > 0 {
				o.add(t, fCust("repeat"), 1)
			}
		}
		if o.b.stage == RiskStage {
			o.add(t, fCust("wonback"), 1)
		}
		if cur != "" {
			o.add(0, fCurrency(cur), 1)
		}
		if fig.Buys == 0 {
			fig.FirstBuy, fig.BuyMonth = t, month
			o.add(t, fCust("new"), 1)
			o.add(0, fCLV("n"), 1)
			o.add(0, fCLVStage(j.Stage, "n"), 1)
			o.add(0, fCohort(monthName(month), "n"), 1)
		} else if fig.Buys == 1 {
			o.add(0, fCLV("repeaters"), 1)
		}
		first := monthIndex(time.Unix(fig.FirstBuy, 0).In(o.r.zone))
		if month > fig.BuyMonth && month > first {
			o.add(0, fCohortReturned(monthName(first), int(month-first-1)), 1)
			fig.BuyMonth = month
		}
		o.add(0, fCLV("sum"), cents)
		o.add(0, fCLVStage(j.Stage, "sum"), cents)
		o.add(0, fCohort(monthName(first), "sum"), cents)
		fig.Buys++
		fig.Spent += cents
		fig.BuyDay = max(fig.BuyDay, day)
	case "coupon.redeemed":
		if ev.Coupon == "" {
			return
		}
		o.add(t, fOffer(ev.Coupon, "redeemed"), 1)
		if ev.Order != nil && ev.Order.ID != "" {
			if ord := j.Order(ev.Order.ID); ord != nil && ord.Total > 0 {
				o.add(t, fOffer(ev.Coupon, "revenue"), toCents(ord.Total))
			}
		}
	}
}

// CaseClaimed counts a case taken over by staff wait after it opened.
func (r *Recorder) CaseClaimed(wait time.Duration, now time.Time) []Count {
	return []Count{{At: now.Unix(), Field: fCaseHist("takeover", bucket(wait)), N: 1}}
}

// CaseResolved counts a case closed after open (the runtime closes the case
// before the engine runs the case.resolved flow, so it says how long).
func (r *Recorder) CaseResolved(open time.Duration, now time.Time) []Count {
	return []Count{
		{At: now.Unix(), Field: fCase("resolved"), N: 1},
		{At: now.Unix(), Field: fCaseHist("resolve", bucket(open)), N: 1},
	}
}

// Blocked counts a customer who blocked the bot, against the last nudge
// when it was sent within 48 hours.
func (r *Recorder) Blocked(j *journey.Journey, now time.Time) []Count {
	if j.Figures == nil || j.Figures.NudgeFlow == "" || j.LastProactive == 0 || now.Unix()-j.LastProactive > 48*3600 {
		return nil
	}
	return []Count{{At: j.LastProactive, Field: fNudge(j.Figures.NudgeFlow, "block"), N: 1}}
}

// Erased takes an erased customer out of the figures about now (their
// stage, CLV by stage); what they did stays counted, as numbers only.
func (r *Recorder) Erased(j *journey.Journey) []Count {
	if j == nil || j.Stage == "" {
		return nil
	}
	out := []Count{{Field: fStageNow(j.Stage), N: -1}}
	if f := j.Figures; f != nil && f.Buys > 0 {
		out = append(out, Count{Field: fCLVStage(j.Stage, "sum"), N: -f.Spent}, Count{Field: fCLVStage(j.Stage, "n"), N: -1})
	}
	return out
}

func toCents(v float64) int64 { return int64(math.Round(v * 100)) }
