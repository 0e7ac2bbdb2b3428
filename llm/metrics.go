package llm

import "github.com/prometheus/client_golang/prometheus"

// Fallback reasons, used as the "reason" label. The first nine are the ones
// the bot's dashboards expect; the rest cover cases that are neither.
const (
	reasonTimeout       = "timeout"
	reasonHTTP429       = "http_429"
	reasonHTTP5xx       = "http_5xx"
	reasonMalformed     = "malformed"
	reasonFactMissing   = "fact_missing"
	reasonInventedFact  = "invented_fact"
	reasonTooLong       = "too_long"
	reasonWrongLanguage = "wrong_language"
	reasonBreakerOpen   = "breaker_open"

	reasonHTTP4xx       = "http_4xx"       // e.g. 401 bad key, 400 unknown model
	reasonNetwork       = "network"        // connection refused, DNS, reset
	reasonCanceled      = "canceled"       // the caller's context ended first
	reasonContentFilter = "content_filter" // provider refused to answer
	reasonUnsure        = "unsure"         // Answer: model said UNSURE / off-topic
	reasonEmptyInput    = "empty_input"    // nothing to rephrase / no question or topics
	reasonInvalidIntent = "invalid_intent" // RouteIntent: the reply is not one of the intents nor none
	reasonSecret        = "secret_request" // asks for a password, PIN, card number or security code
	reasonPromise       = "promise"        // a promise (free, refund, discount, points, a delivery day) the facts do not make
	reasonObfuscated    = "obfuscated"     // invisible formatting characters in the reply
)

type metrics struct {
	tokens    *prometheus.CounterVec   // kind: prompt|completion
	latency   *prometheus.HistogramVec // op, outcome: ok|error
	fallbacks *prometheus.CounterVec   // op, reason
	cacheHits prometheus.Counter
	routes    *prometheus.CounterVec // outcome: routed|none|rejected|failed; cache: hit|miss
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeybot_llm_tokens_total",
			Help: "Tokens used by language model calls, by kind (prompt, completion).",
		}, []string{"kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "journeybot_llm_call_duration_seconds",
			Help:    "Latency of language model calls.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 4, 6, 10},
		}, []string{"op", "outcome"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeybot_llm_fallbacks_total",
			Help: "Model replies not used (scripted text or a person used instead), by reason.",
		}, []string{"op", "reason"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "journeybot_llm_cache_hits_total",
			Help: "Rephrase requests served from the cache without calling the model.",
		}),
		routes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "journeybot_llm_intent_routes_total",
			Help: "Texts no keyword matched that the model sorted into an intent, by outcome (routed, none, rejected, failed) and cache (hit, miss).",
		}, []string{"outcome", "cache"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.tokens, m.latency, m.fallbacks, m.cacheHits, m.routes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
