// Package insight holds what marketers read about their journey: the figures
// the runtime records in Redis (flows, steps, stages, surveys, nudges, offers,
// customers, cases, experiments) and the Report built from them for a range of
// days. Rendering (table, JSON, CSV, HTML) and the journey map live beside it.
//
// Report is the contract between the three parts: the recorder fills it, the
// renderers print it, and other tools read its JSON, so its JSON names are
// stable (the issue that asked for it names the top-level keys).
package insight

// Report is every figure for the days From..To (inclusive, the business's
// time zone). Counts are of things that happened on those days; "now" figures
// (customers in a stage) are as of the moment the report was built.
type Report struct {
	From        string       `json:"from"` // YYYY-MM-DD
	To          string       `json:"to"`   // YYYY-MM-DD
	Zone        string       `json:"zone"` // IANA time zone the days are in
	Generated   string       `json:"generated"`
	NPS         NPS          `json:"nps"`
	CSAT        CSAT         `json:"csat"`
	Stages      Stages       `json:"stages"`
	Flows       []Flow       `json:"flows"`
	Experiments []Experiment `json:"experiments"`
	Offers      []Offer      `json:"offers"`
	Customers   Customers    `json:"customers"`
	Cases       Cases        `json:"cases"`
	Days        []Day        `json:"days"` // one per day From..To, days without activity included
}

// NPS is the Net Promoter Score of the answers in the range, overall; ByFlow
// breaks it down by the flow that asked.
type NPS struct {
	Score      *float64 `json:"score"` // % promoters (9-10) minus % detractors (0-6); null without answers
	Promoters  int64    `json:"promoters"`
	Passives   int64    `json:"passives"`
	Detractors int64    `json:"detractors"`
	Answers    int64    `json:"answers"`
	ByFlow     []NPSOf  `json:"by_flow,omitempty"`
}

// NPSOf is one flow's NPS.
type NPSOf struct {
	Flow string `json:"flow"`
	NPS
}

// CSAT is customer satisfaction (1-5) in the range.
type CSAT struct {
	Average        *float64 `json:"average"`         // mean score; null without answers
	SatisfiedShare *float64 `json:"satisfied_share"` // share of 4-5 answers, 0..1
	Answers        int64    `json:"answers"`
	ByFlow         []CSATOf `json:"by_flow,omitempty"`
}

// CSATOf is one flow's CSAT.
type CSATOf struct {
	Flow string `json:"flow"`
	CSAT
}

// Stages are the journey's stages: entries per stage, who is where now, and
// the funnel between consecutive stages.
type Stages struct {
	List   []Stage      `json:"list"`
	Funnel []FunnelStep `json:"funnel"`
}

// Stage is one stage of the journey.
type Stage struct {
	ID      string `json:"id"`
	Entered int64  `json:"entered"` // customers who entered it in the range
	Now     int64  `json:"now"`     // customers in it when the report was built
}

// FunnelStep is the passage from one stage to another.
type FunnelStep struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Moved is how many customers went From -> To in the range; Rate is
	// the share of the customers who entered From in the range that have
	// moved on to To since (null when none entered From).
	Moved int64    `json:"moved"`
	Rate  *float64 `json:"rate"`
	// MedianHours is the median time spent in From before moving to To
	// (null without moves); from a histogram, so to its bucket's precision.
	MedianHours *float64 `json:"median_hours"`
}

// Flow is one script flow and what customers did in it.
type Flow struct {
	ID        string `json:"id"`
	Started   int64  `json:"started"`
	Completed int64  `json:"completed"`
	Abandoned int64  `json:"abandoned"` // no progress for insight.abandon_after
	// Waiting are customers at one of its steps for less than
	// insight.abandon_after: not abandoned yet.
	Waiting int64  `json:"waiting"`
	Steps   []Step `json:"steps"`
	// Proactive is set for flows that write first (nudges, timers).
	Proactive *Proactive `json:"proactive,omitempty"`
	NPS       *NPS       `json:"nps,omitempty"`
	CSAT      *CSAT      `json:"csat,omitempty"`
}

// Step is one step of a flow, in script order.
type Step struct {
	ID string `json:"id"`
	// Kind is what the step does (say, ask, survey, experiment, goto, ...),
	// for steps the script left unnamed: their id is only their position.
	Kind      string `json:"kind,omitempty"`
	Reached   int64  `json:"reached"`
	Abandoned int64  `json:"abandoned"` // customers whose last progress was here
	Waiting   int64  `json:"waiting"`   // asked here, no answer yet, not abandoned yet
	// DropOff is Abandoned over Reached (null when not reached).
	DropOff *float64 `json:"drop_off"`
}

// Proactive are the messages a flow sent without being asked.
type Proactive struct {
	Sent    int64 `json:"sent"`
	Replied int64 `json:"replied"` // replied or pressed a button within 24 h
	// OpenRate is Replied over Sent (null when none sent).
	OpenRate *float64 `json:"open_rate"`
	OptOuts  int64    `json:"opt_outs"` // opt-outs within 48 h of one of its nudges
	Blocks   int64    `json:"blocks"`   // customers who blocked the bot within 48 h
}

// Offer is one coupon code.
type Offer struct {
	Code     string   `json:"code"`
	Sent     int64    `json:"sent"`
	Redeemed int64    `json:"redeemed"`
	Rate     *float64 `json:"rate"` // Redeemed over Sent
	Revenue  float64  `json:"revenue"`
}

// Customers are purchase and retention figures from the order events.
type Customers struct {
	New        int64    `json:"new"`         // first purchase in the range
	Buyers     int64    `json:"buyers"`      // customers who bought in the range
	Repeat     int64    `json:"repeat"`      // of them, customers with an earlier purchase
	RepeatRate *float64 `json:"repeat_rate"` // Repeat over Buyers
	// RepeatRateAllTime is customers with two or more purchases over
	// customers with one or more, ever.
	RepeatRateAllTime *float64 `json:"repeat_rate_all_time"`
	Orders            int64    `json:"orders"`   // purchases (order.paid) in the range
	Revenue           float64  `json:"revenue"`  // their order totals
	AtRisk            int64    `json:"at_risk"`  // entered the churn-risk stage in the range
	WonBack           int64    `json:"won_back"` // bought again after being at risk
	CLV               CLV      `json:"clv"`
	Cohorts           []Cohort `json:"retention"` // by first-purchase month
}

// CLV is the value of customers: order totals per customer.
type CLV struct {
	Currency string             `json:"currency,omitempty"`
	Average  *float64           `json:"average"` // total revenue over customers who bought, all time
	ByStage  map[string]float64 `json:"by_stage,omitempty"`
	ByCohort map[string]float64 `json:"by_cohort,omitempty"` // YYYY-MM -> average
}

// Cohort is the customers whose first purchase was in one month, and how
// many of them bought again in each later month.
type Cohort struct {
	Month     string  `json:"month"` // YYYY-MM
	Customers int64   `json:"customers"`
	Returned  []int64 `json:"returned"` // [k] = bought again in month +k+1
	// Retention[k] is Returned[k] over Customers.
	Retention []float64 `json:"retention_rates"`
}

// Cases are support cases (escalations to staff).
type Cases struct {
	Opened             int64    `json:"opened"`
	Resolved           int64    `json:"resolved"`
	MedianTakeoverMins *float64 `json:"median_takeover_minutes"`
	MedianResolveMins  *float64 `json:"median_resolve_minutes"`
	CSATAfter          CSAT     `json:"csat_after"`
}

// Day is the figures of one day, for charts over time.
type Day struct {
	Date      string   `json:"date"`
	Inbound   int64    `json:"inbound"`
	Outbound  int64    `json:"outbound"`
	Proactive int64    `json:"proactive"`
	NPS       *float64 `json:"nps"`
	NPSN      int64    `json:"nps_answers"`
	CSAT      *float64 `json:"csat"` // average
	CSATN     int64    `json:"csat_answers"`
	OptOuts   int64    `json:"opt_outs"`
}

// Experiment is one experiment and its variants' results.
type Experiment struct {
	ID     string `json:"id"`
	Flow   string `json:"flow,omitempty"`
	Goal   string `json:"goal"` // event type, stage.ID or survey.NAME>=N
	Window string `json:"window"`
	// Holdout is the share of customers kept out of the flow (0 when none);
	// its results are in Variants under the name "holdout".
	Holdout  float64   `json:"holdout"`
	Variants []Variant `json:"variants"`
	// Winner is the variant that won under the always-valid test, or "".
	Winner string `json:"winner"`
	// Verdict says it plainly, in a sentence a marketer reads.
	Verdict string `json:"verdict"`
	// NeedMore estimates how many more customers per variant would be
	// needed to tell the best from the rest at the current rates (0 when
	// there is a winner or no estimate can be made).
	NeedMore int64 `json:"need_more"`
}

// Variant is one arm of an experiment.
type Variant struct {
	Name        string     `json:"name"`
	Customers   int64      `json:"customers"`
	Conversions int64      `json:"conversions"`
	Rate        *float64   `json:"rate"`     // conversions / customers
	Interval    [2]float64 `json:"interval"` // 95% interval of the rate
	// ProbabilityBest is P(this variant's rate is the highest) under
	// independent Beta(1+conversions, 1+customers-conversions) posteriors.
	ProbabilityBest float64 `json:"probability_best"`
}
