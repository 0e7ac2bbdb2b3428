package insight

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"journeybot/conversations"
)

// Experiments are counted in Redis as one hash per experiment and day of
// exposure, prefix:x:ID:YYYY-MM-DD (the business's time zone), with fields
// VARIANT:n (customers exposed that day) and VARIANT:c (of them, customers
// who converted, whenever within the window they did). HINCRBY sums the
// writes of every process; a conversion counts on its customer's exposure
// day, so a range of days holds whole cohorts and a rate never exceeds 1.

// experimentTTL keeps a day's counts for a little over a year.
const experimentTTL = 400 * 24 * time.Hour

// ExperimentKey is the hash of experiment id's customers exposed on day.
func ExperimentKey(prefix, id string, day time.Time) string {
	return prefix + ":x:" + id + ":" + day.Format("2006-01-02")
}

// ExperimentCounter counts exposures and conversions. Counts are buffered in memory
// and written once a second in one pipeline (Run), like the daily figures,
// so the hot path pays no round trip; a process that dies loses at most
// the last second's counts (a count is lost, never doubled: the journey
// commit, not the counter, decides whether a customer is new or converted).
type ExperimentCounter struct {
	rdb    redis.UniversalClient
	prefix string
	zone   *time.Location
	mu     sync.Mutex
	buf    map[recKey]int64
}

type recKey struct{ key, field string }

// NewExperimentCounter returns a counter under prefix whose days are in zone (nil: UTC).
func NewExperimentCounter(rdb redis.UniversalClient, prefix string, zone *time.Location) *ExperimentCounter {
	if zone == nil {
		zone = time.UTC
	}
	return &ExperimentCounter{rdb: rdb, prefix: prefix, zone: zone, buf: map[recKey]int64{}}
}

// Record counts one exposure or conversion.
func (r *ExperimentCounter) Record(h conversations.ExperimentHit) {
	if r == nil {
		return
	}
	field := h.Variant + ":n"
	if h.Converted {
		field = h.Variant + ":c"
	}
	k := recKey{ExperimentKey(r.prefix, h.Experiment, h.Exposed.In(r.zone)), field}
	r.mu.Lock()
	r.buf[k]++
	r.mu.Unlock()
}

// Flush writes the buffered counts in one pipeline; on failure they are
// kept for the next one.
func (r *ExperimentCounter) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	buf := r.buf
	r.buf = map[recKey]int64{}
	r.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		keys := map[string]bool{}
		for k, n := range buf {
			p.HIncrBy(ctx, k.key, k.field, n)
			keys[k.key] = true
		}
		for k := range keys {
			p.Expire(ctx, k, experimentTTL)
		}
		return nil
	})
	if err != nil {
		r.mu.Lock()
		for k, n := range buf {
			r.buf[k] += n
		}
		r.mu.Unlock()
		return fmt.Errorf("experiments: %w", err)
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (r *ExperimentCounter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

// ReadExperiments reads the results of the scripts' experiments for the
// customers exposed on the days from..to (inclusive, days in from's
// location: the business's time zone), with their statistics and verdict.
func ReadExperiments(ctx context.Context, rdb redis.UniversalClient, prefix string, scripts *conversations.Scripts, from, to time.Time) ([]Experiment, error) {
	loc := from.Location()
	first := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	to = to.In(loc)
	last := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)
	if last.Before(first) {
		return nil, fmt.Errorf("experiments: the range ends (%s) before it starts (%s)", last.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	if last.Sub(first) > 3700*24*time.Hour {
		return nil, fmt.Errorf("experiments: a range of more than ten years (%s to %s)", first.Format(time.DateOnly), last.Format(time.DateOnly))
	}
	if scripts == nil || len(scripts.Experiments) == 0 {
		return []Experiment{}, nil
	}
	pipe := rdb.Pipeline()
	cmds := make([][]*redis.MapStringStringCmd, len(scripts.Experiments))
	for i, e := range scripts.Experiments {
		for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
			cmds[i] = append(cmds[i], pipe.HGetAll(ctx, ExperimentKey(prefix, e.ID, d)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("experiments: %w", err)
	}
	out := make([]Experiment, 0, len(scripts.Experiments))
	for i, e := range scripts.Experiments {
		counts := map[string]*Arm{}
		for _, c := range cmds[i] {
			for f, v := range c.Val() {
				name, kind, ok := cut(f)
				n, err := strconv.ParseInt(v, 10, 64)
				if !ok || err != nil {
					continue
				}
				a := counts[name]
				if a == nil {
					a = &Arm{}
					counts[name] = a
				}
				if kind == "n" {
					a.N += n
				} else {
					a.C += n
				}
			}
		}
		out = append(out, Summarize(e, counts))
	}
	return out, nil
}

// cut splits a field VARIANT:n or VARIANT:c.
func cut(field string) (name, kind string, ok bool) {
	i := strings.LastIndexByte(field, ':')
	if i <= 0 {
		return "", "", false
	}
	name, kind = field[:i], field[i+1:]
	return name, kind, kind == "n" || kind == "c"
}

// Summarize is an experiment's results from its arms' counts by variant
// name: every variant of the script in its order (those without customers
// too), then the holdout.
func Summarize(e *conversations.Experiment, counts map[string]*Arm) Experiment {
	x := Experiment{ID: e.ID, Flow: e.Flow, Window: formatWindow(e.Window), Holdout: e.Holdout, Variants: []Variant{}}
	if e.Goal != nil {
		x.Goal = e.Goal.Raw
	}
	names := make([]string, 0, len(e.Variants)+1)
	for _, v := range e.Variants {
		names = append(names, v.Name)
	}
	if e.Holdout > 0 || counts[conversations.HoldoutName] != nil {
		names = append(names, conversations.HoldoutName)
	}
	arms := make([]Arm, len(names))
	for i, n := range names {
		if a := counts[n]; a != nil {
			arms[i] = Arm{N: a.N, C: min(a.C, a.N)}
		}
	}
	probs := ProbBest(arms)
	var total int64
	for i, n := range names {
		a := arms[i]
		total += a.N
		v := Variant{Name: n, Customers: a.N, Conversions: a.C, ProbabilityBest: round(probs[i], 4)}
		lo, hi := Wilson(a.C, a.N, z95)
		v.Interval = [2]float64{round(lo, 4), round(hi, 4)}
		if a.N > 0 {
			r := round(float64(a.C)/float64(a.N), 4)
			v.Rate = &r
		}
		x.Variants = append(x.Variants, v)
	}
	switch {
	case total == 0:
		x.Verdict = "No customers yet"
		for i := range x.Variants { // nothing to be best at yet
			x.Variants[i].ProbabilityBest = 0
		}
		return x
	case e.Goal == nil:
		x.Verdict = "No goal: customers are counted, conversions are not (give the step a goal)"
		for i := range x.Variants {
			x.Variants[i].Rate, x.Variants[i].Interval, x.Variants[i].ProbabilityBest = nil, [2]float64{0, 1}, 0
		}
		return x
	}
	d := Decide(arms)
	pct := func(i int) string { return fmt.Sprintf("%.1f%%", 100*float64(arms[i].C)/float64(arms[i].N)) }
	if d.Winner >= 0 {
		x.Winner = names[d.Winner]
		x.Verdict = fmt.Sprintf("%s wins: %s vs %s, %.0f%% likely best", names[d.Winner], pct(d.Winner), pct(d.Runner), math.Floor(100*probs[d.Winner]))
		return x
	}
	x.NeedMore = roundUp(d.NeedMore) // the verdict's figure, wherever it is shown
	for i, a := range arms {
		if a.N == 0 {
			x.Verdict = fmt.Sprintf("No winner yet: %s has no customers yet", names[i])
			return x
		}
	}
	switch {
	case d.NeedMore > 0:
		x.Verdict = fmt.Sprintf("No winner yet: about %d more customers per variant needed", x.NeedMore)
	case total > 0 && allZero(arms):
		x.Verdict = "No winner yet: no conversions so far"
	default:
		x.Verdict = fmt.Sprintf("No winner yet: the variants convert alike so far (%s vs %s)", pct(d.Best), pct(d.Runner))
	}
	return x
}

func allZero(arms []Arm) bool {
	for _, a := range arms {
		if a.C != 0 {
			return false
		}
	}
	return true
}

// roundUp rounds an estimate up to two significant digits (340, 1200).
func roundUp(n int64) int64 {
	step := int64(1)
	for n/step >= 100 {
		step *= 10
	}
	return (n + step - 1) / step * step
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// formatWindow writes a window as the scripts do: 7d, 36h.
func formatWindow(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
