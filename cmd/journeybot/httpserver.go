package main

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"journeybot/config"
)

// newServer is the HTTP server of http.addr (or metrics.addr): timeouts
// bound what a slow or idle client can hold (bodies are small: events are
// at most 1 MiB, webhooks less; an event's answer waits for its commit, at
// most 30 s), and every answer says nosniff.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           nosniff(h),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 45 * time.Second, IdleTimeout: 2 * time.Minute,
	}
}

// listen opens addr with at most maxConns connections open at once: more
// wait in the kernel's backlog instead of costing a goroutine and a buffer each.
func listen(key, addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", key, addr, err)
	}
	return netutil.LimitListener(ln, maxConns), nil
}

func nosniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// metricsHandler serves the registry, asking for metrics.token as a bearer
// token when one is set.
func metricsHandler(reg *prometheus.Registry, token string) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need Authorization: Bearer <metrics.token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveMetrics starts the metrics listener (metrics.addr); "" serves none.
// It returns the server to shut down, or nil.
func serveMetrics(c *config.Config, reg *prometheus.Registry, log *slog.Logger, fail func()) (*http.Server, error) {
	if c.MetricsAddr == "" {
		log.Info("metrics not served (metrics.addr is empty)")
		return nil, nil
	}
	ln, err := listen("metrics.addr", c.MetricsAddr, 64)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg, c.MetricsToken))
	srv := newServer(mux)
	log.Info("metrics served", "addr", ln.Addr().String(), "path", "/metrics", "token", c.MetricsToken != "")
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("metrics server", "err", err)
			fail()
		}
	}()
	return srv, nil
}
