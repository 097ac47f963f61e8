package wasmhost

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/syncbuf"
	"github.com/sluice-mail/sluice/gateway/message"
)

// modules holds testdata/*.wat compiled by TestMain, by base name.
var modules = map[string][]byte{}

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		fmt.Fprintln(os.Stderr, "wasmhost tests need wat2wasm (Debian package wabt: apt-get install -y wabt)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "wasmhost-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srcs, _ := filepath.Glob("testdata/*.wat")
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".wat")
		b, err := wat2wasm(src, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		modules[name] = b
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func wat2wasm(src, dir string) ([]byte, error) {
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".wat")+".wasm")
	cmd := exec.Command("wat2wasm", src, "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wat2wasm %s: %v\n%s", src, err, msg)
	}
	return os.ReadFile(out)
}

// watModule compiles an inline WAT module.
func watModule(t testing.TB, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "m.wat")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := wat2wasm(path, dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func module(t testing.TB, name string) []byte {
	t.Helper()
	b, ok := modules[name]
	if !ok {
		t.Fatalf("no testdata/%s.wat", name)
	}
	return b
}

func newEngine(t testing.TB) (*Engine, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	e, err := NewEngine(context.Background(), EngineOptions{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, logs
}

func load(t testing.TB, e *Engine, s Spec) *Plugin {
	t.Helper()
	if s.Name == "" {
		s.Name = "test"
	}
	p, err := e.Load(context.Background(), s)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

const testMessage = "From: alice@example.org\r\n" +
	"Subject: Hello there\r\n" +
	"\r\n" +
	"line one\r\n" +
	"line two\r\n"

func newSession() *filter.Session {
	return &filter.Session{
		ID:         "S1",
		ClientIP:   netip.MustParseAddr("192.0.2.1"),
		ClientPort: 4242,
		Helo:       "client.example",
		Hostname:   "mx.example",
	}
}

// stateAt returns a transaction state in phase ph with one recipient and,
// in the data phase, testMessage.
func stateAt(t testing.TB, ph filter.Phase) *filter.State {
	t.Helper()
	st := filter.NewState(newSession())
	st.Phase = ph
	if ph >= filter.Mail {
		st.From = "alice@example.org"
	}
	if ph >= filter.Rcpt {
		st.Rcpts = []string{"bob@example.com"}
	}
	if ph == filter.Data {
		m, err := message.Parse([]byte(testMessage), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st.Msg = m
	}
	return st
}

// idle returns the pooled instances (for white-box checks).
func (p *Plugin) idleInstances() []*instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*instance(nil), p.idle...)
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
