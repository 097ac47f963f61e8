package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/console"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// TestBuildWiresBreakerGauge: build passes the metrics' breaker setter to
// every plugin, so sluice_plugin_breaker_open has a series per plugin from
// the start (alerts need it to exist before the first opening).
func TestBuildWiresBreakerGauge(t *testing.T) {
	p := pluginPolicy(t, "stamp", `plugin "stamp" { wasm = "stamp.wasm" }
`)
	ctx := context.Background()
	eng := testEngine(t)
	met := metrics.New()
	gen, diags := build(ctx, p, eng, slog.New(slog.DiscardHandler), nil, met)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	defer gen.Release()
	exposes(t, met, `sluice_plugin_breaker_open{plugin="stamp"} 0`)
}

// TestBreakerReachesConsole: a plugin whose breaker opens shows in the
// console's open breakers, and still in the metrics' gauge.
func TestBreakerReachesConsole(t *testing.T) {
	p := pluginPolicy(t, "trap", `plugin "trap" {
  wasm              = "trap.wasm"
  on_error          = "continue"
  breaker_threshold = 2
}
`)
	ctx := context.Background()
	eng := testEngine(t)
	met := metrics.New()
	rec := console.NewRecorder(console.Options{})
	gen, diags := (&lifecycle.Loader{Engine: eng, Logger: slog.New(slog.DiscardHandler), Observer: met, Recorder: rec}).Load(ctx, p)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	defer gen.Release()
	for i := range 5 {
		bridge.RunTest(ctx, gen, bridge.TestInput{ClientIP: "192.0.2.1", Helo: "h", From: "a@example.org", Rcpts: []string{"b@example.net"},
			Message: []byte(fmt.Sprintf("Message-ID: <%d@example.org>\n\nhi\n", i))})
	}
	if got := rec.Stats().OpenBreakers; len(got) != 1 || got[0] != "trap" {
		t.Fatalf("console's open breakers: %v", got)
	}
	exposes(t, met, `sluice_plugin_breaker_open{plugin="trap"} 1`)
}

// testEngine is a wasmhost engine with default options, closed when the
// test ends.
func testEngine(t *testing.T) *wasmhost.Engine {
	t.Helper()
	ctx := context.Background()
	eng, err := wasmhost.NewEngine(ctx, wasmhost.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(ctx) })
	return eng
}

// exposes checks that met's exposition holds the line want.
func exposes(t *testing.T, met *metrics.Metrics, want string) {
	t.Helper()
	rec := httptest.NewRecorder()
	met.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("exposition lacks %q", want)
	}
}
