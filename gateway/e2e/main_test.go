// Package e2e runs the real thing: the sluice binary with Go-built plugins,
// swaks as the client and Debian's Postfix as the downstream MTA.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/syncbuf"
)

var (
	binDir   string // sluice and plugins/*.wasm, built once
	cacheDir string // shared wazero compilation cache
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir, cacheDir = dir, filepath.Join(dir, "cache")
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopScanDaemons()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func buildAll(dir string) error {
	root := repoRoot()
	run := func(env []string, args ...string) error {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run(nil, "build", "-o", filepath.Join(dir, "sluice"), "./gateway/cmd/sluice"); err != nil {
		return err
	}
	for _, p := range []string{"tag", "access", "auth-results", "dmarc", "dkim-sign", "dnsbl", "footer", "attachments", "greylist", "ratelimit", "rewrite", "rspamd", "clamav", "spamassassin"} {
		if err := run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "build", "-buildmode=c-shared",
			"-o", filepath.Join(dir, "plugins", p+".wasm"), "./plugins/"+p); err != nil {
			return err
		}
	}
	return nil
}

func plugin(name string) string { return filepath.Join(binDir, "plugins", name+".wasm") }

// gateway is a running sluice process.
type gateway struct {
	Addr   string
	cmd    *exec.Cmd
	policy string            // the policy file
	repl   *strings.Replacer // fills %LISTEN%, %UPSTREAM%, %BIN%
	done   chan struct{}     // closed when the process exited
	err    error             // its exit status
	log    syncbuf.Buffer    // its stdout and stderr
}

// wait waits (bounded) for the process to exit and returns its status.
func (g *gateway) wait(timeout time.Duration) error {
	select {
	case <-g.done:
		return g.err
	case <-time.After(timeout):
		return fmt.Errorf("still running after %v", timeout)
	}
}

func policyPath(g *gateway) string { return g.policy }

// writePolicy replaces the running gateway's policy file (placeholders
// filled in).
func writePolicy(t *testing.T, path, src string, g *gateway) {
	t.Helper()
	if err := os.WriteFile(path, []byte(g.repl.Replace(src)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Log returns what sluice logged so far.
func (g *gateway) Log() string { return g.log.String() }

// startSluice writes policy (with %LISTEN% and %UPSTREAM% filled in) and
// runs `sluice serve` on it until the test ends.
func startSluice(t *testing.T, policy, upstream string, extra ...string) *gateway {
	t.Helper()
	g := &gateway{Addr: fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))}
	g.repl = strings.NewReplacer("%LISTEN%", g.Addr, "%UPSTREAM%", upstream, "%BIN%", binDir)
	policy = g.repl.Replace(policy)
	path := filepath.Join(t.TempDir(), "policy.hcl")
	g.policy = path
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	g.run(t, sluiceServe(path, extra...))
	return g
}

// sluiceServe is `sluice serve` on the policy file at path, with the
// tests' module cache.
func sluiceServe(path string, extra ...string) *exec.Cmd {
	args := append([]string{"serve", "--policy", path, "--cache-dir", cacheDir}, extra...)
	return exec.Command(filepath.Join(binDir, "sluice"), args...)
}

// run starts cmd as g's process, with its output in g's log, stops it when
// the test ends, and waits for g.Addr (unless empty) to accept connections.
func (g *gateway) run(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	g.done = make(chan struct{})
	g.cmd = cmd
	cmd.Stdout, cmd.Stderr = &g.log, &g.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.err = cmd.Wait(); close(g.done) }()
	t.Cleanup(func() { stopGateway(g) })
	if g.Addr != "" && !postfixtest.WaitPort(g.Addr, 60*time.Second) {
		t.Fatalf("sluice did not listen on %s; log:\n%s", g.Addr, g.Log())
	}
}

// stopGateway interrupts g's process, and kills it when it has not exited
// 20 s later.
func stopGateway(g *gateway) {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Signal(os.Interrupt)
	if g.wait(20*time.Second) != nil {
		g.cmd.Process.Kill()
		<-g.done
	}
}

// swaks runs one SMTP transaction and returns its transcript.
func swaks(t *testing.T, server string, args ...string) (string, error) {
	t.Helper()
	args = append([]string{"--server", server, "--timeout", "30", "--helo", "client.sluice.test"}, args...)
	out, err := exec.Command("swaks", args...).CombinedOutput()
	return string(out), err
}
