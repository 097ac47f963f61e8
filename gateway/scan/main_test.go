package scan

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/sluice-mail/sluice/gateway/internal/scantest"
)

// The real daemons, started once for the package when a test first needs
// one, and stopped after the last test.
var daemons struct {
	mu      sync.Mutex
	started map[string]*scantest.Daemon
	failed  map[string]error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for name, d := range daemons.started {
		fmt.Fprintf(os.Stderr, "scan: %s started in %s\n", name, d.Startup.Round(1e6))
		d.Stop()
	}
	os.Exit(code)
}

// daemon returns the package's instance of a scanner daemon, starting it on
// first use.
func daemon(t testing.TB, name string) *scantest.Daemon {
	t.Helper()
	daemons.mu.Lock()
	defer daemons.mu.Unlock()
	if d := daemons.started[name]; d != nil {
		return d
	}
	if err := daemons.failed[name]; err != nil {
		t.Fatalf("%s did not start: %v", name, err)
	}
	start := map[string]func() (*scantest.Daemon, error){
		EngineRspamd: scantest.StartRspamd, EngineClamd: scantest.StartClamd, EngineSpamd: scantest.StartSpamd,
	}[name]
	d, err := start()
	if daemons.started == nil {
		daemons.started, daemons.failed = map[string]*scantest.Daemon{}, map[string]error{}
	}
	if err != nil {
		daemons.failed[name] = err
		t.Fatalf("%s did not start: %v", name, err)
	}
	t.Logf("%s started in %s", name, d.Startup)
	daemons.started[name] = d
	return d
}

// scanner returns a scanner of the package's daemon for engine.
func scanner(t testing.TB, engine string, tweak ...func(*Config)) Scanner {
	t.Helper()
	d := daemon(t, engine)
	c := Config{Name: "test-" + engine, Engine: engine, Address: d.Address, Timeout: 30e9}
	for _, f := range tweak {
		f(&c)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
