package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// sleepyPolicy is genPolicy(maildir, gen) plus the plugin of
// cmd/sluice/testdata/sleepy.wat, which sleeps 60 s in sluice_configure,
// with the given init_timeout.
func sleepyPolicy(t *testing.T, maildir, gen, initTimeout string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "sleepy.wasm")
	src := filepath.Join(repoRoot(), "gateway", "cmd", "sluice", "testdata", "sleepy.wat")
	if msg, err := exec.Command("wat2wasm", src, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	return genPolicy(maildir, gen) + fmt.Sprintf(`plugin "sleepy" {
  wasm         = %q
  init_timeout = %q
}
`, out, initTimeout)
}

// A reload to a plugin that sleeps in sluice_configure fails at its
// init_timeout, by POST /reload and by SIGHUP, also when one is queued
// behind the other; the running policy keeps serving. SIGTERM during such a
// reload (one that would hang for a minute) exits at once.
func TestReloadOfSleepingPluginIsBounded(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	admin := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	gw := startSluice(t, genPolicy(md, "one"), "", "--admin", admin, "--watch=false")
	const margin = 10 * time.Second // a loaded 2-core machine

	writePolicy(t, policyPath(gw), sleepyPolicy(t, md, "two", "1s"), gw)
	start := time.Now()
	code, body := httpDo(t, "POST", "http://"+admin+"/reload")
	if code != 422 || !strings.Contains(body, `plugin "sleepy"`) || !strings.Contains(body, "sluice_configure: did not return within 1s") {
		t.Fatalf("reload: %d %s", code, body)
	}
	if d := time.Since(start); d > time.Second+margin {
		t.Errorf("POST /reload took %v with init_timeout = 1s", d)
	}

	// SIGHUP, and POST /reload queued behind it: both fail in bounded time.
	start = time.Now()
	gw.cmd.Process.Signal(syscall.SIGHUP)
	code, body = httpDo(t, "POST", "http://"+admin+"/reload")
	if code != 422 || !strings.Contains(body, "sluice_configure: did not return within 1s") {
		t.Fatalf("queued reload: %d %s", code, body)
	}
	if d := time.Since(start); d > 2*time.Second+margin {
		t.Errorf("SIGHUP and a queued POST /reload took %v with init_timeout = 1s", d)
	}
	for strings.Count(gw.Log(), "reload failed") < 3 {
		if time.Since(start) > 2*time.Second+margin {
			t.Fatalf("the SIGHUP reload did not fail in time; log:\n%s", gw.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The first policy still delivers.
	c := dialSMTP(t, gw.Addr)
	c.Cmd("MAIL FROM:<a@example.org>", "250")
	c.Cmd("RCPT TO:<b@example.net>", "250")
	c.Cmd("DATA", "354")
	c.Write("Subject: still here\r\n\r\nbody\r\n.\r\n")
	c.Expect("250")
	c.Cmd("QUIT", "221")
	if msgs := waitMaildir(t, md, 1); len(msgs) != 1 || !strings.Contains(msgs[0], "X-Gen: one") {
		t.Fatalf("delivery after failed reloads: %q", msgs)
	}

	// A reload that would hang for a minute, then SIGTERM.
	writePolicy(t, policyPath(gw), sleepyPolicy(t, md, "three", "1m"), gw)
	configuring := strings.Count(gw.Log(), "configuring")
	gw.cmd.Process.Signal(syscall.SIGHUP)
	start = time.Now()
	for strings.Count(gw.Log(), "configuring") == configuring {
		if time.Since(start) > margin {
			t.Fatalf("the plugin did not start configuring; log:\n%s", gw.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start = time.Now()
	gw.cmd.Process.Signal(syscall.SIGTERM)
	if err := gw.wait(margin); err != nil {
		t.Fatalf("sluice did not exit after SIGTERM during a reload: %v\n%s", err, gw.Log())
	}
	t.Logf("exited %v after SIGTERM during a hanging reload", time.Since(start))
}
