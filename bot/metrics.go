package bot

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"journeybot/insight"
)

// Metrics are the bot's Prometheus metrics, served at /metrics.
type Metrics struct {
	Registry      *prometheus.Registry
	inbound       *prometheus.CounterVec
	outbound      *prometheus.CounterVec
	notes         *prometheus.CounterVec
	errors        *prometheus.CounterVec
	duplicates    prometheus.Counter
	casesOpened   prometheus.Counter
	timersFired   prometheus.Counter
	handleSeconds prometheus.Histogram
	intakeLimited *prometheus.CounterVec
	stats         *Stats
}

// NewMetrics registers the bot's metrics on a new registry. stats, when not
// nil, also receives every count for the daily figures in Redis.
func NewMetrics(stats *Stats) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		inbound:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_inbound_messages_total", Help: "Customer messages handled, by channel."}, []string{"channel"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_outbound_messages_total", Help: "Messages sent, by channel and kind (reply or proactive)."}, []string{"channel", "kind"}),
		notes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_journey_events_total",
			Help: "Journey happenings: stage changes, surveys (survey.nps=9), nudges sent/deferred/dropped, fallbacks, escalations."}, []string{"event"}),
		errors:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_errors_total", Help: "Errors by where they happened."}, []string{"where"}),
		duplicates:    prometheus.NewCounter(prometheus.CounterOpts{Name: "journeybot_duplicate_messages_total", Help: "Inbound messages or events seen before and skipped."}),
		casesOpened:   prometheus.NewCounter(prometheus.CounterOpts{Name: "journeybot_cases_opened_total", Help: "Support cases opened."}),
		timersFired:   prometheus.NewCounter(prometheus.CounterOpts{Name: "journeybot_scheduled_customers_woken_total", Help: "Customers woken by the scheduler."}),
		handleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "journeybot_handle_seconds", Help: "Time to handle one inbound message, up to its commit.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		intakeLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "journeybot_intake_limited_total",
			Help: "Customer messages over the per-chat intake limit: acknowledged, not answered."}, []string{"channel"}),
		stats: stats,
	}
	r.MustRegister(m.intakeLimited, m.inbound, m.outbound, m.notes, m.errors, m.duplicates, m.casesOpened, m.timersFired, m.handleSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) note(n string) {
	m.notes.WithLabelValues(n).Inc()
	m.stats.Add(n, 1)
}

// Stats keeps the daily figures in Redis, shared by all bot processes: a hash
// per day and shard (prefix:stats:DAY:S), and the marketers' all-time
// figures in prefix:insight:all:S (package insight reads both). Each process
// writes one shard, picked at random when it starts, so in Redis Cluster the
// figures are spread over statShards slots; a read sums them. Counts are
// buffered in memory and flushed every second, so the hot path pays no
// extra round trip (and a crash loses at most the last second's counts).
type Stats struct {
	rdb    redis.UniversalClient
	prefix string
	shard  int
	now    func() time.Time
	zone   *time.Location // whose "today" the figures are
	mu     sync.Mutex
	buf    map[string]map[string]int64 // day ("" for all time) -> field -> n
}

// NewStats returns daily stats under prefix (e.g. "jb").
func NewStats(rdb redis.UniversalClient, prefix string, now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	return &Stats{rdb: rdb, prefix: prefix, shard: rand.IntN(statShards), now: now, zone: time.UTC, buf: map[string]map[string]int64{}}
}

// InZone makes days run midnight to midnight in loc (the business's time
// zone) instead of UTC.
func (s *Stats) InZone(loc *time.Location) *Stats {
	if loc != nil {
		s.zone = loc
	}
	return s
}

// Add counts n of field for today.
func (s *Stats) Add(field string, n int64) {
	if s == nil {
		return
	}
	day := s.now().In(s.zone).Format("2006-01-02")
	s.mu.Lock()
	s.addLocked(day, field, n)
	s.mu.Unlock()
}

// AddCounts adds the marketers' figures of a committed update: each on the
// day it happened (an imported event's own day), or to all time.
func (s *Stats) AddCounts(cs []insight.Count) {
	if s == nil || len(cs) == 0 {
		return
	}
	s.mu.Lock()
	for _, c := range cs {
		day := ""
		if c.At != 0 {
			day = time.Unix(c.At, 0).In(s.zone).Format("2006-01-02")
		}
		s.addLocked(day, c.Field, c.N)
	}
	s.mu.Unlock()
}

func (s *Stats) addLocked(day, field string, n int64) {
	m := s.buf[day]
	if m == nil {
		m = map[string]int64{}
		s.buf[day] = m
	}
	m[field] += n
}

// Zone is the time zone the days are in.
func (s *Stats) Zone() *time.Location { return s.zone }

// statShards is how many hashes one day's figures are spread over.
const statShards = insight.Shards

// key is the day's hash of shard (-1: the one unsharded hash of earlier versions).
func (s *Stats) key(day time.Time, shard int) string {
	return insight.DayKey(s.prefix, day.In(s.zone).Format("2006-01-02"), shard)
}

// Flush writes buffered counts to Redis in one pipeline.
func (s *Stats) Flush(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	buf := s.buf
	s.buf = map[string]map[string]int64{}
	s.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for day, fields := range buf {
			key := insight.AllKey(s.prefix, s.shard)
			if day != "" {
				key = insight.DayKey(s.prefix, day, s.shard)
			}
			for f, n := range fields {
				if n != 0 {
					p.HIncrBy(ctx, key, f, n)
				}
			}
			if day != "" {
				p.Expire(ctx, key, 400*24*time.Hour)
			}
		}
		return nil
	})
	if err != nil { // keep the counts for the next try
		s.mu.Lock()
		for day, fields := range buf {
			for f, n := range fields {
				s.addLocked(day, f, n)
			}
		}
		s.mu.Unlock()
	}
	return err
}

// Run flushes every interval until ctx ends, then once more.
func (s *Stats) Run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() { s.Flush(ctx) })
	s.Flush(context.WithoutCancel(ctx))
}

// Day returns the figures of the day containing t.
func (s *Stats) Day(ctx context.Context, t time.Time) (map[string]int64, error) {
	pipe := s.rdb.Pipeline()
	var parts []*redis.MapStringStringCmd
	for shard := -1; shard < statShards; shard++ {
		parts = append(parts, pipe.HGetAll(ctx, s.key(t, shard)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, p := range parts {
		for k, v := range p.Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			out[k] += n
		}
	}
	return out, nil
}

// Summary is a day's figures as marketers and staff read them.
type Summary struct {
	Inbound, Outbound, Proactive, CasesOpened, Fallbacks int64
	NPS                                                  *float64 // -100..100
	NPSAnswers                                           int64
	CSAT                                                 *float64 // share of 4-5 answers, %
	CSATAnswers                                          int64
	TakeoverSeconds                                      *float64 // mean time to takeover
	OptOuts                                              int64
}

// Summarize turns raw day figures into NPS, CSAT and the rest.
func Summarize(d map[string]int64) Summary {
	s := Summary{Inbound: d["inbound"], Outbound: d["outbound"], Proactive: d["nudge.sent"], CasesOpened: d["escalated"], Fallbacks: d["fallback"], OptOuts: d["optout"]}
	var prom, det, sat int64
	for k, n := range d {
		if v, ok := strings.CutPrefix(k, "survey.nps="); ok {
			score, _ := strconv.Atoi(v)
			s.NPSAnswers += n
			if score >= 9 {
				prom += n
			} else if score <= 6 {
				det += n
			}
		}
		if v, ok := strings.CutPrefix(k, "survey.csat="); ok {
			score, _ := strconv.Atoi(v)
			s.CSATAnswers += n
			if score >= 4 {
				sat += n
			}
		}
	}
	if s.NPSAnswers > 0 {
		v := float64(prom-det) * 100 / float64(s.NPSAnswers)
		s.NPS = &v
	}
	if s.CSATAnswers > 0 {
		v := float64(sat) * 100 / float64(s.CSATAnswers)
		s.CSAT = &v
	}
	if n := d["takeover.count"]; n > 0 {
		v := float64(d["takeover.seconds"]) / float64(n)
		s.TakeoverSeconds = &v
	}
	return s
}
