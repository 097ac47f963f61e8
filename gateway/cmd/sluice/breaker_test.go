package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// TestBuildWiresBreakerGauge: build passes the metrics' breaker setter to
// every plugin, so sluice_plugin_breaker_open has a series per plugin from
// the start (alerts need it to exist before the first opening).
func TestBuildWiresBreakerGauge(t *testing.T) {
	dir := t.TempDir()
	wasm(t, dir, "stamp")
	p := writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "stamp" { wasm = "stamp.wasm" }
`)
	ctx := context.Background()
	eng, err := wasmhost.NewEngine(ctx, wasmhost.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	met := metrics.New()
	gen, diags := build(ctx, p, eng, slog.New(slog.DiscardHandler), nil, met)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	defer gen.Release()
	rec := httptest.NewRecorder()
	met.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `sluice_plugin_breaker_open{plugin="stamp"} 0`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("exposition lacks %q", want)
	}
}
