package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

func TestExposition(t *testing.T) {
	m := New()
	m.SessionStart()
	m.Step(filter.Step{Plugin: "tag", Phase: filter.Data, Verdict: filter.Tempfail, Duration: time.Millisecond,
		Err: &wasmhost.CallError{Kind: wasmhost.KindTimeout}})
	m.Step(filter.Step{Plugin: "tag", Phase: filter.Data, Verdict: filter.Tempfail, Err: errors.New("reply mismatch")})
	m.Upstream("data", 2*time.Millisecond, smtp.NewReply(554, "5.7.1", "no"))
	m.Upstream("mail", time.Millisecond, errors.New("connection reset"))
	m.Transaction("rejected")
	m.Reload("ok", 2)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		"sluice_sessions_active 1",
		`sluice_plugin_faults_total{kind="timeout",plugin="tag"} 1`,
		`sluice_plugin_faults_total{kind="reply",plugin="tag"} 1`,
		`sluice_plugin_verdicts_total{phase="data",plugin="tag",verdict="tempfail"} 2`,
		`sluice_upstream_replies_total{class="5xx",op="data"} 1`,
		`sluice_upstream_replies_total{class="error",op="mail"} 1`,
		`sluice_transactions_total{outcome="rejected"} 1`,
		"sluice_policy_generation 2",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

// TestPluginBreaker: the breaker gauge follows the last change per plugin,
// and a call refused by an open breaker counts as a fault of kind breaker.
func TestPluginBreaker(t *testing.T) {
	m := New()
	m.PluginBreaker("flaky", false)
	m.PluginBreaker("flaky", true)
	m.PluginBreaker("fine", false)
	m.PluginBreaker("flapping", true)
	m.PluginBreaker("flapping", false)
	refused := &wasmhost.CallError{Plugin: "flaky", Kind: wasmhost.KindBreaker, Reason: "circuit breaker open"}
	m.Step(filter.Step{Plugin: "flaky", Phase: filter.Rcpt, Verdict: filter.Tempfail, Err: refused})
	m.Step(filter.Step{Plugin: "flaky", Phase: filter.Rcpt, Verdict: filter.Tempfail, Err: refused})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`sluice_plugin_breaker_open{plugin="flaky"} 1`,
		`sluice_plugin_breaker_open{plugin="fine"} 0`,
		`sluice_plugin_breaker_open{plugin="flapping"} 0`,
		`sluice_plugin_faults_total{kind="breaker",plugin="flaky"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
