package conversations

import (
	"hash/fnv"
	"time"

	"journeybot/journey"
)

// Assign is the variant of experiment e for customer id: deterministic (a
// hash of the customer's and the experiment's ids, so the same customer
// gets the same variant in every process and independent variants in
// different experiments), by the shares; HoldoutName for the holdout.
func Assign(id string, e *Experiment) string {
	u := unit(id, e.ID)
	if u < e.Holdout {
		return HoldoutName
	}
	u = (u - e.Holdout) / (1 - e.Holdout)
	var total float64
	for _, v := range e.Variants {
		total += v.Share
	}
	acc := 0.0
	for _, v := range e.Variants {
		acc += v.Share / total
		if u < acc {
			return v.Name
		}
	}
	return e.Variants[len(e.Variants)-1].Name
}

// unit maps the ids to a number in [0, 1), uniformly: FNV-1a, then
// SplitMix64's finaliser so that ids differing in one character spread.
func unit(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// assign returns the customer's variant of e, assigning it the first time
// (an exposure, counted once), or nil for a customer in the holdout.
func (x *run) assign(e *Experiment) *Variant {
	a, ok := x.j.Experiments[e.ID]
	name := a.Variant
	defer func() { x.cover(Hit{Flow: e.Flow, Step: e.Step, Arm: "v:" + name}) }()
	if !ok {
		name = Assign(x.j.ID, e)
		if x.j.Experiments == nil {
			x.j.Experiments = map[string]journey.Assignment{}
		}
		x.j.Experiments[e.ID] = journey.Assignment{Variant: name, At: x.now.Unix()}
		x.r.Experiments = append(x.r.Experiments, ExperimentHit{Experiment: e.ID, Variant: name, Exposed: x.now, At: x.now})
		x.r.note("experiment.%s.%s", e.ID, name)
	}
	if name == HoldoutName {
		if e.Holdout > 0 {
			return nil
		}
		// The holdout was dropped from the script: the customer now gets a
		// variant, still counted in the holdout they were exposed as.
		name = Assign(x.j.ID, e)
	}
	if v := e.Variant(name); v != nil {
		return v
	}
	// A variant removed since the customer was assigned: another one,
	// still counted as the variant they were first shown.
	return e.Variant(Assign(x.j.ID, e))
}

// reached counts a conversion in every experiment the customer is in whose
// goal is met (once per customer and experiment), when it happens within
// the window after their exposure.
func (x *run) reached(met func(*Goal) bool, at time.Time) {
	for id, a := range x.j.Experiments {
		e := x.s.Experiment(id)
		if a.Won != 0 || e == nil || e.Goal == nil || !met(e.Goal) {
			continue
		}
		t := at.Unix()
		if t < a.At || t > a.At+int64(e.Window/time.Second) {
			continue
		}
		a.Won = t
		x.j.Experiments[id] = a
		x.r.Experiments = append(x.r.Experiments, ExperimentHit{Experiment: id, Variant: a.Variant, Converted: true, Exposed: time.Unix(a.At, 0), At: at})
		x.r.note("experiment.%s.%s.converted", id, a.Variant)
	}
}

func compareScore(n int, op string, v int) bool {
	switch op {
	case ">=":
		return n >= v
	case ">":
		return n > v
	case "<=":
		return n <= v
	case "<":
		return n < v
	}
	return n == v
}

// keepAssignment is how long the assignment to an experiment the scripts no
// longer have is kept (as long as its counts): the experiment may come back
// in a later version of the scripts, and its customers must keep their variant.
const keepAssignment = 400 * 24 * time.Hour

// forgetExperiments drops the assignments to experiments gone from the
// scripts for longer than keepAssignment, so journeys do not grow with
// every experiment ever run.
func (x *run) forgetExperiments() {
	for id, a := range x.j.Experiments {
		if x.now.Unix()-a.At > int64(keepAssignment/time.Second) && x.s.Experiment(id) == nil {
			delete(x.j.Experiments, id)
		}
	}
	if len(x.j.Experiments) == 0 {
		x.j.Experiments = nil
	}
}
