package insight

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Newcombe (1998), "Two-sided confidence intervals for the single
// proportion: comparison of seven methods", Statistics in Medicine 17,
// table II, method 3 (Wilson's score interval without continuity
// correction), to the four decimals published.
func TestWilsonNewcombeExamples(t *testing.T) {
	for _, tc := range []struct {
		c, n   int64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0.0000, 0.1611},
		{1, 29, 0.0061, 0.1718},
	} {
		lo, hi := Wilson(tc.c, tc.n, z95)
		if math.Abs(lo-tc.lo) > 0.00005 || math.Abs(hi-tc.hi) > 0.00005 {
			t.Errorf("Wilson(%d of %d) = [%.4f, %.4f], want [%.4f, %.4f]", tc.c, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
	if lo, hi := Wilson(0, 0, z95); lo != 0 || hi != 1 {
		t.Errorf("Wilson of no trials = [%v, %v], want [0, 1]", lo, hi)
	}
	if lo, hi := Wilson(20, 20, z95); hi != 1 || lo < 0.83 || lo > 0.84 {
		t.Errorf("Wilson(20 of 20) = [%v, %v], want [0.8389, 1]", lo, hi)
	}
}

// Evan Miller's exact two-arm formula against closed forms, and the
// numerical k-arm integration against the exact formula.
func TestProbBest(t *testing.T) {
	// Beta(2,1) against the uniform: ∫ 2x·x dx = 2/3.
	if p := ProbBBeatsA(Arm{}, Arm{N: 1, C: 1}); math.Abs(p-2.0/3) > 1e-12 {
		t.Errorf("P(Beta(2,1) > U) = %v, want 2/3", p)
	}
	for _, tc := range []struct{ a, b Arm }{
		{Arm{N: 100, C: 10}, Arm{N: 100, C: 15}},
		{Arm{N: 263, C: 81}, Arm{N: 250, C: 60}},
		{Arm{N: 30, C: 0}, Arm{N: 30, C: 2}},
		{Arm{N: 5000, C: 400}, Arm{N: 5000, C: 460}},
		{Arm{N: 12, C: 11}, Arm{N: 40, C: 39}},
	} {
		exact := ProbBBeatsA(tc.a, tc.b)
		num := ProbBest([]Arm{tc.a, tc.b})
		if math.Abs(num[1]-exact) > 1e-4 || math.Abs(num[0]+num[1]-1) > 1e-9 {
			t.Errorf("%v vs %v: numerical %v, exact P(B best) %.6f", tc.a, tc.b, num, exact)
		}
	}
}

func TestProbBestTiesAndNoTraffic(t *testing.T) {
	for _, arms := range [][]Arm{
		{{N: 50, C: 5}, {N: 50, C: 5}},
		{{}, {}},
		{{N: 80, C: 8}, {N: 80, C: 8}, {N: 80, C: 8}},
	} {
		p := ProbBest(arms)
		for i := range p {
			if math.Abs(p[i]-1/float64(len(arms))) > 1e-9 {
				t.Errorf("tie %v: P(best) = %v, want %v each", arms, p, 1/float64(len(arms)))
			}
		}
	}
	// A variant with no customers has the uniform prior: it beats
	// X ~ Beta(11, 91) with probability E[1-X] = 91/102.
	p := ProbBest([]Arm{{N: 100, C: 10}, {}})
	if math.Abs(p[1]-91.0/102) > 1e-4 {
		t.Errorf("no-traffic arm P(best) = %v, want 91/102 = %.4f", p[1], 91.0/102)
	}
	if d := Decide([]Arm{{N: 100, C: 30}, {}}); d.Winner != -1 || d.Best != 0 || d.Runner != -1 {
		t.Errorf("decision with an arm without customers: %+v, want no winner", d)
	}
}

func TestDecide(t *testing.T) {
	d := Decide([]Arm{{N: 2000, C: 200}, {N: 2000, C: 300}})
	if d.Winner != 1 || d.NeedMore != 0 {
		t.Errorf("10%% vs 15%% on 2000 each: %+v, want arm 1 to win", d)
	}
	d = Decide([]Arm{{N: 40, C: 4}, {N: 40, C: 7}})
	if d.Winner != -1 || d.Best != 1 || d.Runner != 0 || d.NeedMore <= 0 {
		t.Errorf("10%% vs 17.5%% on 40 each: %+v, want no winner and an estimate", d)
	}
	// The estimate: at least the fixed-horizon size less the 40 there are.
	// 10% vs 17.5% at 5% two-sided, 80% power: p̄ = 0.1375,
	// (1.95996·√(2·0.1375·0.8625) + 0.84162·√(0.09+0.144375))² / 0.075²
	// = 329.7, so 330 per arm.
	if fixed := SampleSize(0.1, 0.175, 0.05, 0.8); fixed != 330 || d.NeedMore < fixed-40 {
		t.Errorf("fixed-horizon size %d (want 330), need more %d", fixed, d.NeedMore)
	}
	if d := Decide([]Arm{{N: 60, C: 6}, {N: 60, C: 6}}); d.Winner != -1 || d.NeedMore != 0 {
		t.Errorf("a tie: %+v, want no winner and no estimate", d)
	}
	// Three arms: the best must beat both.
	d = Decide([]Arm{{N: 3000, C: 300}, {N: 3000, C: 450}, {N: 3000, C: 440}})
	if d.Winner != -1 || d.Best != 1 || d.Runner != 2 {
		t.Errorf("15%% vs 14.7%% vs 10%%: %+v, want no winner between the two best", d)
	}
}

// Looking at an A/A experiment after every 20 customers per arm, up to
// 1000 each, must not declare winners more often than α over the whole
// run; a naive fixed-horizon z-test at each look does (the reason the
// always-valid test is used). Fixed seed: the same draws every run.
func TestRepeatedLooksKeepAlpha(t *testing.T) {
	const sims, step, maxN, p = 400, 20, 1000, 0.1
	rng := rand.New(rand.NewPCG(12, 2026))
	seqWins, naiveWins := 0, 0
	for range sims {
		var a, b Arm
		seq, naive := false, false
		for a.N < maxN {
			for range step {
				a.N++
				b.N++
				if rng.Float64() < p {
					a.C++
				}
				if rng.Float64() < p {
					b.C++
				}
			}
			if Decide([]Arm{a, b}).Winner >= 0 {
				seq = true
			}
			if naiveZ(a, b) > z95 {
				naive = true
			}
		}
		if seq {
			seqWins++
		}
		if naive {
			naiveWins++
		}
	}
	seqRate, naiveRate := float64(seqWins)/sims, float64(naiveWins)/sims
	t.Logf("A/A, 50 looks: always-valid test declared a winner in %.1f%%, naive z-test in %.1f%%", 100*seqRate, 100*naiveRate)
	if seqRate > Alpha {
		t.Errorf("always-valid test: winners in %.1f%% of A/A runs, over α = %.0f%%", 100*seqRate, 100*Alpha)
	}
	if naiveRate < 2*Alpha {
		t.Errorf("naive test under peeking: %.1f%% winners; the simulation should show the inflation", 100*naiveRate)
	}
	// And the test finds a real difference: 10% vs 20% by 1000 each.
	found := 0
	for range 100 {
		var a, b Arm
		for a.N < maxN {
			a.N++
			b.N++
			if rng.Float64() < 0.1 {
				a.C++
			}
			if rng.Float64() < 0.2 {
				b.C++
			}
		}
		if Decide([]Arm{a, b}).Winner == 1 {
			found++
		}
	}
	t.Logf("10%% vs 20%%, 1000 each: winner found in %d of 100 runs", found)
	if found < 90 {
		t.Errorf("10%% vs 20%% on 1000 each: winner found in %d of 100 runs, want 90 or more", found)
	}
}

// naiveZ is the pooled two-proportion z statistic, |z|.
func naiveZ(a, b Arm) float64 {
	p := float64(a.C+b.C) / float64(a.N+b.N)
	se := math.Sqrt(p * (1 - p) * (1/float64(a.N) + 1/float64(b.N)))
	if se == 0 {
		return 0
	}
	return math.Abs(float64(a.C)/float64(a.N)-float64(b.C)/float64(b.N)) / se
}
