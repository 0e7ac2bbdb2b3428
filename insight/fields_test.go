package insight

import (
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Minute, 0}, {time.Minute + time.Second, 1}, {10 * time.Minute, 2},
		{90 * time.Minute, 5}, {25 * time.Hour, 10}, {51 * time.Hour, 11}, {400 * 24 * time.Hour, len(bounds)},
	} {
		if got := bucket(c.d); got != c.want {
			t.Errorf("bucket(%s) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestMedianInterpolatesInsideItsBucket(t *testing.T) {
	for _, c := range []struct {
		name string
		h    map[int]int64
		want time.Duration
		ok   bool
	}{
		{"none", map[int]int64{}, 0, false},
		{"one in 5-15 min", map[int]int64{2: 1}, 10 * time.Minute, true},
		// 4 answers: the median (2nd of 4) is the end of the first bucket's pair.
		{"spread", map[int]int64{0: 2, 4: 2}, time.Minute, true},
		{"most in 1-2 h", map[int]int64{0: 1, 5: 3}, 3600*time.Second + time.Duration(float64(3600*time.Second)*(1.0/3)), true},
		{"beyond the last bound", map[int]int64{len(bounds): 1}, time.Duration(bounds[len(bounds)-1]) * time.Second * 3 / 2, true},
	} {
		got, ok := median(c.h)
		if ok != c.ok || (got-c.want).Abs() > time.Second {
			t.Errorf("%s: median = %s, %v; want %s, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestMonthsAndDays(t *testing.T) {
	sp := time.FixedZone("BRT", -3*3600)
	if got := monthName(monthIndex(time.Date(2026, 1, 31, 23, 0, 0, 0, sp))); got != "2026-01" {
		t.Errorf("month %s", got)
	}
	// 23:00 in São Paulo is the next day in UTC; the day is the local one.
	a, b := dayIndex(time.Date(2026, 3, 2, 23, 0, 0, 0, sp)), dayIndex(time.Date(2026, 3, 2, 1, 0, 0, 0, sp))
	if a != b {
		t.Errorf("one local day, two indexes: %d %d", a, b)
	}
}
