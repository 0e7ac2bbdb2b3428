package insight

import (
	"math"
)

// The statistics of experiments, as pure functions of the counts: a rate's
// Wilson score interval, the probability that each arm is the best under
// Beta-Binomial posteriors, and a decision that stays valid however often
// the results are looked at (the mixture sequential probability ratio test
// of Johari, Koomen, Pekelis and Walsh, "Peeking at A/B Tests", KDD 2017).
// docs/insight.md gives the formulas.

// Arm is one arm's counts: customers exposed and, of them, conversions.
type Arm struct {
	N, C int64
}

// z95 is the standard normal quantile of 97.5%: a two-sided 95% interval.
const z95 = 1.959963984540054

// Wilson is the Wilson score interval of c successes in n trials at normal
// quantile z (z95 for 95%). Unlike p ± z·se it stays inside [0, 1] and is
// honest for small n and rates near 0 or 1. With n = 0 it is [0, 1].
func Wilson(c, n int64, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(c) / nf
	z2 := z * z
	den := 1 + z2/nf
	mid := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

// lbeta is ln B(a, b).
func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// ProbBBeatsA is P(pB > pA) for pA ~ Beta(1+a.C, 1+a.N-a.C) and pB likewise,
// exactly (Evan Miller, "Formulas for Bayesian A/B Testing", 2015):
//
//	P = Σ_{i=0}^{αB-1} B(αA+i, βA+βB) / ((βB+i) B(1+i, βB) B(αA, βA))
//
// The sum has 1+b.C terms.
func ProbBBeatsA(a, b Arm) float64 {
	aA, bA := float64(1+a.C), float64(1+a.N-a.C)
	aB, bB := float64(1+b.C), float64(1+b.N-b.C)
	total := 0.0
	for i := 0.0; i < aB; i++ {
		total += math.Exp(lbeta(aA+i, bA+bB) - math.Log(bB+i) - lbeta(1+i, bB) - lbeta(aA, bA))
	}
	return math.Min(1, math.Max(0, total))
}

// ProbBest is, for each arm, the probability that its rate is the highest,
// under independent Beta(1+C, 1+N-C) posteriors (a uniform prior):
//
//	P(i best) = ∫ f_i(x) Π_{j≠i} F_j(x) dx
//
// integrated numerically (Simpson's rule over each arm's own range, its
// mean ± 12 standard deviations, with the other arms' exact Beta CDFs), so
// it is deterministic for any number of arms. The results sum to 1; arms
// with equal counts get equal probabilities.
func ProbBest(arms []Arm) []float64 {
	out := make([]float64, len(arms))
	switch len(arms) {
	case 0:
		return out
	case 1:
		out[0] = 1
		return out
	}
	type beta struct{ a, b, lnorm float64 }
	bs := make([]beta, len(arms))
	for i, arm := range arms {
		a, b := float64(1+arm.C), float64(1+arm.N-arm.C)
		bs[i] = beta{a, b, lbeta(a, b)}
	}
	const steps = 2000 // even, for Simpson's rule
	sum := 0.0
	for i, bi := range bs {
		mean := bi.a / (bi.a + bi.b)
		sd := math.Sqrt(bi.a * bi.b / ((bi.a + bi.b) * (bi.a + bi.b) * (bi.a + bi.b + 1)))
		lo, hi := math.Max(0, mean-12*sd), math.Min(1, mean+12*sd)
		h := (hi - lo) / steps
		f := func(x float64) float64 {
			lp := -bi.lnorm
			if bi.a != 1 {
				if x <= 0 {
					return 0
				}
				lp += (bi.a - 1) * math.Log(x)
			}
			if bi.b != 1 {
				if x >= 1 {
					return 0
				}
				lp += (bi.b - 1) * math.Log1p(-x)
			}
			v := math.Exp(lp)
			for j, bj := range bs {
				if j != i {
					v *= betaCDF(x, bj.a, bj.b, bj.lnorm)
				}
			}
			return v
		}
		acc := f(lo) + f(hi)
		for k := 1; k < steps; k++ {
			w := 2.0
			if k%2 == 1 {
				w = 4
			}
			acc += w * f(lo+float64(k)*h)
		}
		out[i] = acc * h / 3
		sum += out[i]
	}
	if sum > 0 {
		for i := range out {
			out[i] /= sum
		}
	}
	return out
}

// betaCDF is the regularised incomplete beta function I_x(a, b); lnorm is
// ln B(a, b).
func betaCDF(x, a, b, lnorm float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	front := math.Exp(a*math.Log(x) + b*math.Log1p(-x) - lnorm)
	// The continued fraction converges fast for x < (a+1)/(a+b+2); past
	// it, by symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
	if x < (a+1)/(a+b+2) {
		return front * betaCF(x, a, b) / a
	}
	return 1 - front*betaCF(1-x, b, a)/b
}

// betaCF evaluates the continued fraction of the incomplete beta function
// by the modified Lentz method (Numerical Recipes, 6.4).
func betaCF(x, a, b float64) float64 {
	const tiny, eps = 1e-300, 1e-14
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 100000; m++ {
		mf := float64(m)
		m2 := 2 * mf
		aa := mf * (b - mf) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + mf) * (qab + mf) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// Alpha is the error rate of the always-valid test: the chance, over the
// whole life of an A/A experiment looked at any number of times, that it
// ever declares a winner.
const Alpha = 0.05

// MixingShare sets the mSPRT's mixing distribution: the difference of two
// rates is weighed by N(0, τ²) with τ² = MixingShare · p(1-p), p the pooled
// rate, i.e. standardised effects of about ±0.22 are the expected ones.
const MixingShare = 0.05

// MinArm is the customers an arm needs before the test runs (the normal
// approximation behind it is poor on fewer).
const MinArm = 10

// MSPRT is the mixture likelihood ratio Λ of arm b against arm a (Johari et
// al. 2017, two-sample normal approximation):
//
//	Λ = sqrt(V / (V + τ²)) · exp(τ² θ² / (2 V (V + τ²)))
//
// θ the observed difference of rates, V its variance (pa(1-pa)/na +
// pb(1-pb)/nb) and τ² the mixing variance (MixingShare · p(1-p)). Under no
// difference, the chance that Λ ever reaches 1/α, however often it is
// computed as customers arrive, is at most α (Ville's inequality): so
// "Λ ≥ 1/α now" is a decision that peeking does not inflate.
func MSPRT(a, b Arm) float64 {
	if a.N <= 0 || b.N <= 0 {
		return 1
	}
	// Rates for the variance are shrunk by half a customer each way, so
	// that 0 of 30 does not claim a variance of 0.
	pa := float64(a.C) / float64(a.N)
	pb := float64(b.C) / float64(b.N)
	va := (float64(a.C) + 0.5) / (float64(a.N) + 1)
	vb := (float64(b.C) + 0.5) / (float64(b.N) + 1)
	pooled := (float64(a.C+b.C) + 0.5) / (float64(a.N+b.N) + 1)
	v := va*(1-va)/float64(a.N) + vb*(1-vb)/float64(b.N)
	tau2 := MixingShare * pooled * (1 - pooled)
	theta := pb - pa
	return math.Sqrt(v/(v+tau2)) * math.Exp(tau2*theta*theta/(2*v*(v+tau2)))
}

// Decision is what the always-valid test says of a set of arms.
type Decision struct {
	// Winner is the index of the arm that beats every other one, or -1.
	Winner int
	// Best is the arm with the highest rate (-1 without customers), and
	// Runner the next one (-1 with fewer than two arms with customers).
	Best, Runner int
	// NeedMore estimates how many more customers each arm needs before the
	// best could be told from the runner-up, at the current rates (0 when
	// there is a winner or the rates give no estimate: equal, or none yet).
	NeedMore int64
}

// Decide runs the always-valid test of the best arm against every other
// one, each at α/(k-1) (Bonferroni, so k arms keep the overall α): the best
// wins when it beats all. An arm with fewer than MinArm customers cannot be
// beaten yet.
func Decide(arms []Arm) Decision {
	d := Decision{Winner: -1, Best: -1, Runner: -1}
	rate := func(a Arm) float64 { return float64(a.C) / float64(a.N) }
	for i, a := range arms {
		if a.N == 0 {
			continue
		}
		switch {
		case d.Best < 0 || rate(a) > rate(arms[d.Best]):
			d.Best, d.Runner = i, d.Best
		case d.Runner < 0 || rate(a) > rate(arms[d.Runner]):
			d.Runner = i
		}
	}
	if d.Best < 0 || len(arms) < 2 {
		return d
	}
	threshold := float64(len(arms)-1) / Alpha
	won := true
	for i, a := range arms {
		if i == d.Best {
			continue
		}
		if a.N < MinArm || arms[d.Best].N < MinArm || MSPRT(a, arms[d.Best]) < threshold {
			won = false
			break
		}
	}
	if won {
		d.Winner = d.Best
		return d
	}
	if d.Runner >= 0 {
		d.NeedMore = needMore(arms, d.Best, d.Runner, threshold)
	}
	return d
}

// needMore estimates the customers each arm still needs to tell the best
// from the runner-up, if their rates stay as they are: the larger of a
// fixed-horizon sample size (two-sided 5%, 80% power) and the size at which
// the always-valid test would reject at these rates. 0 when the rates are
// equal (nothing to detect yet).
func needMore(arms []Arm, best, runner int, threshold float64) int64 {
	b, r := arms[best], arms[runner]
	pb, pr := float64(b.C)/float64(b.N), float64(r.C)/float64(r.N)
	if pb <= pr {
		return 0
	}
	n := SampleSize(pr, pb, Alpha, 0.8)
	// The smallest n per arm at which Λ, at these rates, reaches the
	// threshold (doubling, then halving the step).
	at := func(n int64) bool {
		return MSPRT(Arm{N: n, C: int64(math.Round(pr * float64(n)))}, Arm{N: n, C: int64(math.Round(pb * float64(n)))}) >= threshold
	}
	hi := int64(MinArm)
	for !at(hi) && hi < 1<<40 {
		hi *= 2
	}
	lo := hi / 2
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if at(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	n = max(n, hi)
	have := min(b.N, r.N)
	for i, a := range arms { // every arm needs them, the smallest one too
		if i != best && a.N < have {
			have = a.N
		}
	}
	if n <= have {
		// The rates say enough customers, yet no winner: the test's
		// evidence moves with the counts; say a little more is needed.
		return max(1, n/10)
	}
	return n - have
}

// SampleSize is the customers per arm a fixed-horizon two-proportion test
// needs to detect rates p1 against p2 at two-sided level alpha with the
// given power (the normal approximation, e.g. Fleiss 1981):
//
//	n = (z_{1-α/2} sqrt(2 p̄(1-p̄)) + z_{power} sqrt(p1(1-p1) + p2(1-p2)))² / (p1-p2)²
func SampleSize(p1, p2, alpha, power float64) int64 {
	if p1 == p2 {
		return 0
	}
	za := normalQuantile(1 - alpha/2)
	zb := normalQuantile(power)
	pbar := (p1 + p2) / 2
	num := za*math.Sqrt(2*pbar*(1-pbar)) + zb*math.Sqrt(p1*(1-p1)+p2*(1-p2))
	return int64(math.Ceil(num * num / ((p1 - p2) * (p1 - p2))))
}

// normalQuantile is the standard normal quantile of p (0 < p < 1).
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
