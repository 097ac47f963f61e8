package lifecycle

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/testcert"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// start runs a gateway on the policy src (written to policy.hcl in a new
// directory) and counts its parses. The gateway shuts down at the end of
// the test.
func start(t *testing.T, src string, watch bool) (*Gateway, string, *atomic.Int32, *metrics.Metrics) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var parses atomic.Int32
	met := metrics.New()
	gw, diags, err := Start(context.Background(), Options{Path: path, Metrics: met, Watch: watch, Debounce: 50 * time.Millisecond,
		NewEngine: func(ctx context.Context, store kv.Store) (*wasmhost.Engine, error) {
			return wasmhost.NewEngine(ctx, wasmhost.EngineOptions{KV: store})
		},
		Parse: func(path string) (*policy.Policy, hcl.Diagnostics) {
			parses.Add(1)
			return policy.Load(path)
		}})
	if err != nil {
		t.Fatalf("Start: %v\n%v", err, diags)
	}
	t.Cleanup(gw.Shutdown)
	return gw, path, &parses, met
}

func listenPolicy(addr, extra string) string {
	return fmt.Sprintf("listen {\n  address = %q\n%s}\nupstream { maildir = \"mail\" }\n", addr, extra)
}

// reloadsTotal sums sluice_reloads_total over its results.
func reloadsTotal(t *testing.T, met *metrics.Metrics) int {
	t.Helper()
	rec := httptest.NewRecorder()
	met.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	n := 0
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "sluice_reloads_total{") {
			v, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
			if err != nil {
				t.Fatalf("metric line %q", line)
			}
			n += v
		}
	}
	return n
}

// The policy is parsed once at start-up (the kv store, the generation, the
// listener and the watcher's file list all come from that parse) and once
// per reload, whether the reload finds it unchanged, changed or broken, and
// whether POST /reload, SIGHUP or the file watcher asked.
func TestParseOncePerStartAndReload(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	gw, path, parses, met := start(t, listenPolicy(addr, ""), true)
	if n := parses.Load(); n != 1 {
		t.Fatalf("start-up parsed the policy %d times, want 1", n)
	}
	ctx := context.Background()
	if res := gw.Reload(ctx); res.Status != "unchanged" || parses.Load() != 2 {
		t.Fatalf("unchanged reload: %+v, %d parses in all", res, parses.Load())
	}
	// The watcher notices the edit and reloads; every reload parses once.
	select {
	case <-gw.reloader.watching:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not start")
	}
	os.WriteFile(path, []byte(listenPolicy(addr, "")+"# edited\n"), 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for gw.Generation() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not reload the edited policy")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p, r := int(parses.Load()), reloadsTotal(t, met); p != 1+r {
		t.Errorf("%d parses for %d reloads; want one at start and one per reload", p, r)
	}
	before := parses.Load()
	os.WriteFile(path, []byte("listen { address = \n"), 0o644)
	res := gw.Reload(ctx)
	if res.Status != "failed" || !strings.Contains(res.Diagnostics, "policy.hcl:") || gw.Generation() != 2 {
		t.Fatalf("broken policy: %+v", res)
	}
	if p, r := int(parses.Load()), reloadsTotal(t, met); p != 1+r || p <= int(before) {
		t.Errorf("%d parses for %d reloads after a broken policy", p, r)
	}
}

// A reload that changes a listener setting the running listener cannot
// take says so at the setting's attribute, as a warning; the reload
// succeeds. Moving the address applies every setting: the new address
// serves, the old one is drained and closed, and nothing is reported.
func TestListenerSettingsOnReload(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	gw, path, _, _ := start(t, listenPolicy(addr, "  max_connections = 100\n"), false)
	ctx := context.Background()

	os.WriteFile(path, []byte(listenPolicy(addr, "  max_connections = 10\n  greet_delay = \"1s\"\n")), 0o644)
	res := reloadWarning(ctx, t, gw,
		"policy.hcl:3:3: warning: Listener setting needs a restart: listen max_connections changed from 100 to 10",
		"policy.hcl:4:3: warning: Listener setting needs a restart: listen greet_delay changed from 0s to 1s")
	// Removing an attribute is a change to its default, reported at the
	// listen block; a setting back at the running value is not reported.
	os.WriteFile(path, []byte(listenPolicy(addr, "")), 0o644)
	if res := gw.Reload(ctx); res.Status != "ok" || strings.Contains(res.Diagnostics, "greet_delay") ||
		!strings.Contains(res.Diagnostics, "policy.hcl:1:1: warning: Listener setting needs a restart: listen max_connections changed from 100 to 1000") {
		t.Errorf("reload to defaults: %+v", res)
	}

	// A new address: every setting applies, no warning.
	moved := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	os.WriteFile(path, []byte(listenPolicy(moved, "  max_connections = 10\n")), 0o644)
	res = gw.Reload(ctx)
	if res.Status != "ok" || res.Diagnostics != "" || gw.Addr() != moved {
		t.Fatalf("moved: %+v, listening on %s", res, gw.Addr())
	}
	c, err := net.DialTimeout("tcp", moved, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Errorf("new address greets %q, %v", line, err)
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the old address still accepts connections")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// starttls greets the gateway at addr, sends STARTTLS and returns the
// handshake's error for a client that speaks at most TLS version max.
func starttls(t *testing.T, addr string, ca *testcert.CA, max uint16) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	expect := func(code string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, code) {
				t.Fatalf("want %s, got %q, %v", code, line, err)
			}
			if line[3] == ' ' {
				return
			}
		}
	}
	expect("220")
	fmt.Fprintf(c, "EHLO client.example\r\n")
	expect("250")
	fmt.Fprintf(c, "STARTTLS\r\n")
	expect("220")
	return tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.org", MaxVersion: max}).Handshake()
}

// The STARTTLS settings apply on every reload without a warning: the next
// handshake takes the new min_version.
func TestTLSMinVersionOnReload(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	dir := t.TempDir()
	cert, key := ca.Issue("mx.example.org").Write(t, dir, "mx")
	addr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	tlsBlock := func(min string) string {
		return fmt.Sprintf("  tls {\n    cert_file = %q\n    key_file = %q\n    min_version = %q\n  }\n", cert, key, min)
	}
	gw, path, _, _ := start(t, listenPolicy(addr, tlsBlock("1.2")), false)
	if err := starttls(t, gw.Addr(), ca, tls.VersionTLS12); err != nil {
		t.Fatalf("TLS 1.2 under min_version 1.2: %v", err)
	}
	os.WriteFile(path, []byte(listenPolicy(addr, tlsBlock("1.3"))), 0o644)
	if res := gw.Reload(context.Background()); res.Status != "ok" || res.Diagnostics != "" {
		t.Fatalf("reload: %+v", res)
	}
	if err := starttls(t, gw.Addr(), ca, tls.VersionTLS12); err == nil {
		t.Error("a TLS 1.2 client completed the handshake after the reload to min_version 1.3")
	}
	if err := starttls(t, gw.Addr(), ca, tls.VersionTLS13); err != nil {
		t.Errorf("TLS 1.3 after the reload: %v", err)
	}
}

// `sluice check` parses once too: the kv block's check uses the parse
// that was built.
func TestCheckParsesOnce(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	path := filepath.Join(dir, "policy.hcl")
	os.WriteFile(path, []byte(listenPolicy("127.0.0.1:2525", "")+"kv { path = \"state/kv.db\" }\n"), 0o644)
	ctx := context.Background()
	eng, err := wasmhost.NewEngine(ctx, wasmhost.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	var parses atomic.Int32
	gen, diags := (&Loader{Engine: eng, Parse: func(path string) (*policy.Policy, hcl.Diagnostics) {
		parses.Add(1)
		return policy.Load(path)
	}}).Check(ctx, path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	gen.Release()
	if n := parses.Load(); n != 1 {
		t.Errorf("check parsed the policy %d times, want 1", n)
	}
}

// The kv block is read at start-up only: the store opened then is the one
// saved at shutdown, whatever a reload says about its path.
func TestKVStoreOpenedOnceAtStart(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	src := func(dir string) string { return listenPolicy(addr, "") + "kv { path = \"" + dir + "/kv.db\" }\n" }
	path := filepath.Join(t.TempDir(), "policy.hcl")
	dir := filepath.Dir(path)
	for _, d := range []string{"first", "second"} {
		os.Mkdir(filepath.Join(dir, d), 0o700)
	}
	os.WriteFile(path, []byte(src("first")), 0o644)
	gw, diags, err := Start(context.Background(), Options{Path: path,
		NewEngine: func(ctx context.Context, store kv.Store) (*wasmhost.Engine, error) {
			if store == nil {
				t.Error("the engine got no store for a policy with a kv block")
			}
			return wasmhost.NewEngine(ctx, wasmhost.EngineOptions{KV: store})
		}})
	if err != nil {
		t.Fatalf("Start: %v\n%v", err, diags)
	}
	store := gw.store
	os.WriteFile(path, []byte(src("second")), 0o644)
	res := gw.Reload(context.Background())
	if res.Status != "ok" || gw.store != store {
		t.Fatalf("reload: %+v; store replaced: %v", res, gw.store != store)
	}
	if want := "policy.hcl:5:6: warning: Key/value store needs a restart"; !strings.Contains(res.Diagnostics, want) {
		t.Errorf("reload diagnostics lack %q:\n%s", want, res.Diagnostics)
	}
	store.Set("ns", "k", []byte("v"), 0)
	gw.Shutdown()
	if _, err := os.Stat(filepath.Join(dir, "first", "kv.db")); err != nil {
		t.Errorf("the store was not saved where start-up opened it: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "second", "kv.db")); err == nil {
		t.Error("a reload moved the store")
	}
}

// reloadWarning reloads gw, which must succeed, and checks that its
// diagnostics hold every one of wants; it returns the reload's result.
func reloadWarning(ctx context.Context, t *testing.T, gw *Gateway, wants ...string) Result {
	t.Helper()
	res := gw.Reload(ctx)
	if res.Status != "ok" {
		t.Fatalf("reload: %+v", res)
	}
	for _, want := range wants {
		if !strings.Contains(res.Diagnostics, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, res.Diagnostics)
		}
	}
	return res
}
