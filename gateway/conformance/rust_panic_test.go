package conformance

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/syncbuf"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// TestRustPanicIsLogged: a Rust plugin that panics (an unwrap, or
// SystemTime::now() on wasm32-unknown-unknown) traps with only
// "unreachable"; the SDK's panic hook logs the panic message through the
// host first, so the operator sees why.
func TestRustPanicIsLogged(t *testing.T) {
	wasm, err := os.ReadFile(filepath.Join(binDir, "conformance", "rust.wasm"))
	if err != nil {
		t.Fatalf("%v: run make probes", err)
	}
	var logs syncbuf.Buffer
	e, err := wasmhost.NewEngine(context.Background(), wasmhost.EngineOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	p := load(t, e, wasm, wasmhost.Spec{})
	s := newSessionRun(t, chainOf(entry(p, filter.OnErrorTempfail)))
	out := s.mail("trap@example.org") // the probe panics with "probe trap"
	if out.Verdict != filter.Tempfail || len(out.Steps) != 1 || out.Steps[0].Err == nil {
		t.Fatalf("outcome %+v, want a plugin error", out)
	}
	if !strings.Contains(out.Steps[0].Err.Error(), "unreachable") {
		t.Errorf("plugin error %q, want the trap", out.Steps[0].Err)
	}
	got := logs.String()
	if !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "probe trap") || !strings.Contains(got, "src/lib.rs") {
		t.Fatalf("the panic message was not logged:\n%s", got)
	}
}
