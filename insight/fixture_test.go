package insight

// fixture is a hand-built report covering the awkward cases: a day without
// activity, a tie between variants, a variant with no traffic, and null
// rates (a step nobody reached, an offer never sent, a stage nobody
// entered, a flow nobody started).
func fixture() *Report {
	f := func(v float64) *float64 { return &v }
	return &Report{
		From: "2026-11-24", To: "2026-11-26", Zone: "America/Sao_Paulo", Generated: "2026-11-26T18:00:00-03:00",
		NPS: NPS{Score: f(25), Promoters: 4, Passives: 2, Detractors: 2, Answers: 8,
			ByFlow: []NPSOf{{Flow: "feedback", NPS: NPS{Score: f(25), Promoters: 4, Passives: 2, Detractors: 2, Answers: 8}}}},
		CSAT: CSAT{Average: f(4.2), SatisfiedShare: f(0.8), Answers: 5,
			ByFlow: []CSATOf{{Flow: "tips_day7", CSAT: CSAT{Average: f(4.2), SatisfiedShare: f(0.8), Answers: 5}}}},
		Stages: Stages{
			List: []Stage{{ID: "purchase", Entered: 20, Now: 6}, {ID: "onboarding", Entered: 14, Now: 9}, {ID: "loyalty", Entered: 3, Now: 3}, {ID: "at_risk", Entered: 0, Now: 0}},
			Funnel: []FunnelStep{
				{From: "purchase", To: "onboarding", Moved: 14, Rate: f(0.7), MedianHours: f(52)},
				{From: "onboarding", To: "loyalty", Moved: 3, Rate: f(3.0 / 14), MedianHours: f(0.5)},
				{From: "at_risk", To: "returning", Moved: 0, Rate: nil, MedianHours: nil},
			},
		},
		Flows: []Flow{
			{ID: "feedback", Started: 10, Completed: 6, Abandoned: 3, Waiting: 1, Steps: []Step{
				{ID: "nps", Reached: 10, Abandoned: 2, DropOff: f(0.2)},
				{ID: "why", Reached: 8, Abandoned: 1, Waiting: 1, DropOff: f(0.125)},
				{ID: "thanks", Reached: 7, Abandoned: 0, DropOff: f(0)},
				{ID: "review", Reached: 0, Abandoned: 0, DropOff: nil},
			}, Proactive: &Proactive{Sent: 12, Replied: 10, OpenRate: f(10.0 / 12), OptOuts: 1, Blocks: 0},
				NPS: &NPS{Score: f(25), Promoters: 4, Passives: 2, Detractors: 2, Answers: 8}},
			{ID: "winback", Started: 0, Completed: 0, Abandoned: 0, Steps: []Step{{ID: "1", Reached: 0, DropOff: nil}},
				Proactive: &Proactive{Sent: 0, OpenRate: nil}},
		},
		Experiments: []Experiment{
			{ID: "welcome_copy", Flow: "tips_day1", Goal: "order.paid", Window: "14d", Holdout: 0.1,
				Variants: []Variant{
					{Name: "a", Customers: 40, Conversions: 8, Rate: f(0.2), Interval: [2]float64{0.105, 0.348}, ProbabilityBest: 0.5},
					{Name: "b", Customers: 40, Conversions: 8, Rate: f(0.2), Interval: [2]float64{0.105, 0.348}, ProbabilityBest: 0.5},
					{Name: "c", Customers: 0, Conversions: 0, Rate: nil, Interval: [2]float64{0, 1}, ProbabilityBest: 0},
					{Name: "holdout", Customers: 9, Conversions: 1, Rate: f(1.0 / 9), Interval: [2]float64{0.02, 0.435}, ProbabilityBest: 0},
				},
				Verdict: "No winner yet: c has no customers yet", NeedMore: 620},
			{ID: "coupon_size", Flow: "winback", Goal: "coupon.redeemed", Window: "7d",
				Variants: []Variant{
					{Name: "ten", Customers: 120, Conversions: 12, Rate: f(0.1), Interval: [2]float64{0.058, 0.167}, ProbabilityBest: 0.004},
					{Name: "twenty", Customers: 118, Conversions: 31, Rate: f(31.0 / 118), Interval: [2]float64{0.19, 0.349}, ProbabilityBest: 0.996},
				},
				Winner: "twenty", Verdict: "twenty wins: 26.3% vs 10.0%, 99% likely best"},
		},
		Offers: []Offer{
			{Code: "VOLTA10", Sent: 25, Redeemed: 4, Rate: f(0.16), Revenue: 612.5},
			{Code: "VIP20", Sent: 0, Redeemed: 0, Rate: nil, Revenue: 0},
		},
		Customers: Customers{New: 14, Buyers: 17, Repeat: 3, RepeatRate: f(3.0 / 17), RepeatRateAllTime: f(0.25), Orders: 19, Revenue: 3905.5, AtRisk: 2, WonBack: 1,
			CLV: CLV{Currency: "BRL", Average: f(231.4), ByStage: map[string]float64{"loyalty": 480, "onboarding": 180.25}, ByCohort: map[string]float64{"2026-10": 260, "2026-11": 175.5}},
			Cohorts: []Cohort{
				{Month: "2026-10", Customers: 30, Returned: []int64{6, 2}, Retention: []float64{0.2, 2.0 / 30}},
				{Month: "2026-11", Customers: 14, Returned: []int64{}, Retention: []float64{}},
			}},
		Cases: Cases{Opened: 4, Resolved: 3, MedianTakeoverMins: f(12), MedianResolveMins: f(95),
			CSATAfter: CSAT{Average: f(4.5), SatisfiedShare: f(1), Answers: 2}},
		Days: []Day{
			{Date: "2026-11-24", Inbound: 40, Outbound: 52, Proactive: 12, NPS: f(50), NPSN: 4, CSAT: f(4), CSATN: 2, OptOuts: 1},
			{Date: "2026-11-25"}, // no activity
			{Date: "2026-11-26", Inbound: 33, Outbound: 41, Proactive: 0, NPS: f(0), NPSN: 4, CSAT: f(4.333333), CSATN: 3},
		},
	}
}
