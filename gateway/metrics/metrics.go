// Package metrics exports Sluice's Prometheus metrics (names prefixed
// sluice_). It implements bridge.Observer, so the session logic reports
// events without knowing about Prometheus.
package metrics

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// Metrics holds every collector, registered in its own registry (no global
// state: tests and several gateways in one process do not collide).
type Metrics struct {
	reg *prometheus.Registry

	sessions       prometheus.Counter
	sessionsActive prometheus.Gauge
	transactions   *prometheus.CounterVec
	verdicts       *prometheus.CounterVec
	pluginSeconds  *prometheus.HistogramVec
	faults         *prometheus.CounterVec
	breakerOpen    *prometheus.GaugeVec
	upSeconds      *prometheus.HistogramVec
	upReplies      *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	generation     prometheus.Gauge
	kvSeconds      *prometheus.HistogramVec
	kvErrors       *prometheus.CounterVec
}

// New creates the collectors in a new registry, with the Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.sessions = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sessions_total", Help: "SMTP sessions accepted."})
	m.sessionsActive = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_sessions_active", Help: "SMTP sessions open now."})
	m.transactions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_transactions_total",
		Help: "Finished message transactions by outcome (delivered, rejected, tempfailed, discarded)."}, []string{"outcome"})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_plugin_verdicts_total",
		Help: "Plugin verdicts by plugin, phase and verdict (faults count as the verdict on_error chose)."}, []string{"plugin", "phase", "verdict"})
	m.pluginSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_plugin_call_seconds",
		Help: "Latency of one plugin hook call.", Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 5e-3, 0.025, 0.1, 0.5}},
		[]string{"plugin", "phase"})
	m.faults = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_plugin_faults_total",
		Help: "Plugin errors by plugin and kind (trap, timeout, abi, verdict, reply, ...)."}, []string{"plugin", "kind"})
	m.breakerOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_plugin_breaker_open",
		Help: "1 while the plugin's circuit breaker is open or half-open (calls fail without running it), else 0."}, []string{"plugin"})
	m.upSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_upstream_seconds",
		Help: "Latency of downstream commands.", Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10)}, []string{"op"})
	m.upReplies = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_upstream_replies_total",
		Help: "Downstream replies by command and class (2xx, 4xx, 5xx, error)."}, []string{"op", "class"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_reloads_total",
		Help: "Policy reloads by result (ok, failed, unchanged)."}, []string{"result"})
	m.generation = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_policy_generation",
		Help: "The policy generation serving new sessions (1 at start, +1 per successful reload)."})
	m.kvSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_kv_seconds",
		Help: "Latency of one call to a shared key/value store (Redis), by operation.", Buckets: prometheus.ExponentialBuckets(5e-5, 3, 10)},
		[]string{"op"})
	m.kvErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_kv_errors_total",
		Help: "Failed calls to a shared key/value store by operation and kind (timeout, network, server, unavailable, quota)."}, []string{"op", "kind"})
	for _, c := range []prometheus.Collector{m.sessions, m.sessionsActive, m.transactions, m.verdicts, m.pluginSeconds,
		m.faults, m.breakerOpen, m.upSeconds, m.upReplies, m.reloads, m.generation, m.kvSeconds, m.kvErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// SessionStart implements bridge.Observer.
func (m *Metrics) SessionStart() { m.sessions.Inc(); m.sessionsActive.Inc() }

// SessionEnd implements bridge.Observer.
func (m *Metrics) SessionEnd() { m.sessionsActive.Dec() }

// Step implements bridge.Observer.
func (m *Metrics) Step(s filter.Step) {
	ph := s.Phase.String()
	m.verdicts.WithLabelValues(s.Plugin, ph, s.Verdict.String()).Inc()
	m.pluginSeconds.WithLabelValues(s.Plugin, ph).Observe(s.Duration.Seconds())
	if s.Err != nil {
		m.faults.WithLabelValues(s.Plugin, FaultKind(s.Err)).Inc()
	}
}

// PluginBreaker records a change of a plugin's circuit breaker; it has the
// signature of wasmhost.Spec.OnBreaker.
func (m *Metrics) PluginBreaker(plugin string, open bool) {
	v := 0.0
	if open {
		v = 1
	}
	m.breakerOpen.WithLabelValues(plugin).Set(v)
}

// Upstream implements bridge.Observer.
func (m *Metrics) Upstream(op string, d time.Duration, err error) {
	m.upSeconds.WithLabelValues(op).Observe(d.Seconds())
	m.upReplies.WithLabelValues(op, ReplyClass(err)).Inc()
}

// Transaction implements bridge.Observer.
func (m *Metrics) Transaction(outcome string) { m.transactions.WithLabelValues(outcome).Inc() }

// Reload records a reload result and, on success, the new generation.
func (m *Metrics) Reload(result string, generation int) {
	m.reloads.WithLabelValues(result).Inc()
	if result == "ok" {
		m.generation.Set(float64(generation))
	}
}

// KVCall records a call to a shared key/value store: its operation,
// duration and error kind ("" for none).
func (m *Metrics) KVCall(op string, d time.Duration, kind string) {
	m.kvSeconds.WithLabelValues(op).Observe(d.Seconds())
	if kind != "" {
		m.kvErrors.WithLabelValues(op, kind).Inc()
	}
}

// KVPool exports a shared key/value store's connection pool (total and
// idle connections, waits for a free connection that timed out) and
// whether it is up.
func (m *Metrics) KVPool(stats func() (total, idle, timeouts uint32), up func() bool) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_kv_pool_connections",
			Help: "Connections to the shared key/value store."}, func() float64 { t, _, _ := stats(); return float64(t) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_kv_pool_idle_connections",
			Help: "Idle connections to the shared key/value store."}, func() float64 { _, i, _ := stats(); return float64(i) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_kv_pool_timeouts_total",
			Help: "Waits for a free connection to the shared key/value store that timed out."}, func() float64 { _, _, n := stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_kv_up",
			Help: "1 while the shared key/value store answers, else 0."}, func() float64 {
			if up() {
				return 1
			}
			return 0
		}))
}

// SetGeneration sets the current generation (at start).
func (m *Metrics) SetGeneration(n int) { m.generation.Set(float64(n)) }

// FaultKind classifies a plugin error for the faults metric.
func FaultKind(err error) string {
	var ce *wasmhost.CallError
	if errors.As(err, &ce) && ce.Kind != "" {
		return string(ce.Kind)
	}
	return "reply" // the chain's check of verdict and reply
}

// ReplyClass is "2xx" for success, "4xx"/"5xx" for a reply, "error" for a
// failed connection.
func ReplyClass(err error) string {
	if err == nil {
		return "2xx"
	}
	var r *smtp.Reply
	if errors.As(err, &r) {
		switch r.Class() {
		case 4:
			return "4xx"
		case 5:
			return "5xx"
		}
	}
	return "error"
}
