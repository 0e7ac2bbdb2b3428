package insight

import (
	"strconv"
	"strings"
	"time"
)

// Where the figures are kept. Day figures are fields of the runtime's daily
// hashes, prefix:stats:DAY:SHARD (bot.Stats buffers them and writes each
// process's shard once a second); figures about all time (customers in a
// stage now, CLV, cohorts) are fields of prefix:insight:all:SHARD. A read
// sums the shards. Field names are PART|PART|..., so ids with dots stay whole.
const (
	// Shards is how many hashes one day's figures are spread over.
	Shards = 8
)

// DayKey is the hash of one day (YYYY-MM-DD) and shard; shard -1 is the
// unsharded hash of earlier versions.
func DayKey(prefix, day string, shard int) string {
	k := prefix + ":stats:" + day
	if shard < 0 {
		return k
	}
	return k + ":" + strconv.Itoa(shard)
}

// AllKey is the hash of the all-time figures of one shard.
func AllKey(prefix string, shard int) string {
	return prefix + ":insight:all:" + strconv.Itoa(shard)
}

func field(parts ...string) string { return strings.Join(parts, "|") }

// Field names (see docs/insight.md for what each counts).
func fFlowStart(flow string) string        { return field("fl", flow, "start") }
func fFlowDone(flow string) string         { return field("fl", flow, "done") }
func fStepReach(flow, step string) string  { return field("st", flow, step, "reach") }
func fStepWait(flow, step string) string   { return field("st", flow, step, "wait") }
func fStepResume(flow, step string) string { return field("st", flow, step, "resume") }
func fStageIn(stage string) string         { return field("sg", stage, "in") }
func fStageNow(stage string) string        { return field("now", stage) }
func fStageMove(from, to string) string    { return field("sm", from, to) }

// fStageOn counts a move from -> to on the day the customer entered from,
// so a range's rate is over the customers who entered from in it.
func fStageOn(from, to string) string { return field("so", from, to) }
func fStageHist(from, to string, b int) string {
	return field("sh", from, to, strconv.Itoa(b))
}
func fSurvey(flow, kind string, score int) string {
	return field("sv", flow, kind, strconv.Itoa(score))
}
func fNudge(flow, what string) string { return field("pr", flow, what) }
func fOffer(code, what string) string { return field("of", code, what) }
func fCust(what string) string        { return field("cu", what) }
func fCase(what string) string        { return field("ca", what) }
func fCaseHist(what string, b int) string {
	return field("ch", what, strconv.Itoa(b))
}

// All-time fields.
func fCLV(what string) string             { return field("cv", what) }
func fCLVStage(stage, what string) string { return field("cvs", stage, what) }
func fCohort(month, what string) string   { return field("co", month, what) }
func fCohortReturned(month string, k int) string {
	return field("co", month, "ret", strconv.Itoa(k))
}
func fCurrency(cur string) string { return field("cur", cur) }

// Histogram buckets of durations: the upper bounds, in seconds. A duration
// falls in the first bucket whose bound it does not exceed; the last bucket
// is everything longer. Medians are read to the precision of these buckets.
var bounds = []int64{
	60, 5 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600,
	86400, 2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 60 * 86400,
	90 * 86400, 180 * 86400, 365 * 86400,
}

// bucket is the histogram bucket of d.
func bucket(d time.Duration) int {
	s := int64(d / time.Second)
	for i, b := range bounds {
		if s <= b {
			return i
		}
	}
	return len(bounds)
}

// median is the median duration of a histogram (counts by bucket),
// interpolated linearly inside the median's bucket; false without counts.
func median(h map[int]int64) (time.Duration, bool) {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	half := float64(total) / 2
	var seen int64
	for b := 0; b <= len(bounds); b++ {
		n := h[b]
		if n == 0 {
			continue
		}
		if float64(seen+n) >= half {
			lo := int64(0)
			if b > 0 {
				lo = bounds[b-1]
			}
			hi := lo * 2 // beyond the last bound: twice it, a guess said so in the docs
			if b < len(bounds) {
				hi = bounds[b]
			}
			frac := (half - float64(seen)) / float64(n)
			return time.Duration((float64(lo) + frac*float64(hi-lo)) * float64(time.Second)), true
		}
		seen += n
	}
	return 0, false
}

// monthIndex numbers months (year*12 + month-1), for cohorts.
func monthIndex(t time.Time) int32 { return int32(t.Year()*12 + int(t.Month()) - 1) }

func monthName(i int32) string {
	return time.Date(int(i/12), time.Month(i%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

// dayIndex numbers days (since 1970-01-01) in t's location.
func dayIndex(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}
