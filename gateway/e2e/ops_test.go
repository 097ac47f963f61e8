package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
)

// dialSMTP connects to addr, reads the greeting and says EHLO.
func dialSMTP(t *testing.T, addr string) *smtptest.Client {
	t.Helper()
	return smtptest.Dial(t, addr).Hello("ops.test")
}

func maildirMessages(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, "new"))
	var out []string
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		out = append(out, string(b))
	}
	return out
}

func waitMaildir(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := maildirMessages(t, dir)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func genPolicy(maildir, gen string) string {
	return fmt.Sprintf(`listen   { address = "%%LISTEN%%" }
upstream { maildir = %q }
plugin "tag" {
  wasm   = "%%BIN%%/plugins/tag.wasm"
  config = { headers = { "X-Gen" = %q } }
}
`, maildir, gen)
}

// httpDo is adminDo without a token.
func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	return adminDo(t, method, url, "")
}

// A transaction open across a reload finishes on the generation it started
// with; new sessions take the new one; a broken policy is refused with its
// diagnostics and the running one keeps serving; metrics show it all.
func TestReloadKeepsSessionsOnTheirGeneration(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	admin := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	gw := startSluice(t, genPolicy(md, "one"), "", "--admin", admin, "--watch=false")
	policyFile := policyPath(gw)

	a := dialSMTP(t, gw.Addr)
	a.Cmd("MAIL FROM:<a@example.org>", "250")
	a.Cmd("RCPT TO:<b@example.net>", "250")

	writePolicy(t, policyFile, genPolicy(md, "two"), gw)
	if code, body := httpDo(t, "POST", "http://"+admin+"/reload"); code != 200 || !strings.Contains(body, "ok: generation 2") {
		t.Fatalf("reload: %d %s", code, body)
	}
	b := dialSMTP(t, gw.Addr)
	send := func(c *smtptest.Client) {
		c.Cmd("DATA", "354")
		c.Write("Subject: gen\r\n\r\nbody\r\n.\r\n")
		c.Expect("250")
	}
	send(a)
	b.Cmd("MAIL FROM:<a@example.org>", "250")
	b.Cmd("RCPT TO:<b@example.net>", "250")
	send(b)
	msgs := waitMaildir(t, md, 2)
	gens := strings.Count(strings.Join(msgs, ""), "X-Gen: one") + 10*strings.Count(strings.Join(msgs, ""), "X-Gen: two")
	if len(msgs) != 2 || gens != 11 {
		t.Fatalf("want one message per generation, got %d messages:\n%s", len(msgs), strings.Join(msgs, "\n---\n"))
	}

	// Same bytes: not rebuilt.
	if code, body := httpDo(t, "POST", "http://"+admin+"/reload"); code != 200 || !strings.HasPrefix(body, "unchanged") {
		t.Fatalf("unchanged reload: %d %s", code, body)
	}
	// Broken policy: 422 with file:line:col, old generation keeps serving.
	writePolicy(t, policyFile, "listen { address = \n", gw)
	code, body := httpDo(t, "POST", "http://"+admin+"/reload")
	if code != 422 || !strings.Contains(body, "policy.hcl:") {
		t.Fatalf("broken reload: %d %s", code, body)
	}
	c := dialSMTP(t, gw.Addr)
	c.Cmd("MAIL FROM:<a@example.org>", "250")
	c.Cmd("RCPT TO:<b@example.net>", "250")
	send(c)
	if msgs := waitMaildir(t, md, 3); len(msgs) != 3 {
		t.Fatalf("no delivery after a failed reload")
	}

	_, metrics := httpDo(t, "GET", "http://"+admin+"/metrics")
	for _, want := range []string{`sluice_reloads_total{result="ok"} 1`, `sluice_reloads_total{result="failed"} 1`,
		`sluice_reloads_total{result="unchanged"} 1`, "sluice_policy_generation 2", `sluice_transactions_total{outcome="delivered"} 3`,
		`sluice_plugin_verdicts_total{phase="data",plugin="tag",verdict="continue"} 3`, "sluice_plugin_call_seconds_bucket",
		"sluice_upstream_seconds_bucket", "sluice_sessions_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, _ := httpDo(t, "GET", "http://"+admin+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
}

// SIGTERM during a transaction: the transaction completes (250 only with the
// message delivered), idle sessions get 421, and the process exits 0.
func TestSigtermDrains(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	gw := startSluice(t, genPolicy(md, "one"), "", "--watch=false")
	busy := dialSMTP(t, gw.Addr)
	idle := dialSMTP(t, gw.Addr)
	busy.Cmd("MAIL FROM:<a@example.org>", "250")
	busy.Cmd("RCPT TO:<b@example.net>", "250")
	busy.Cmd("DATA", "354")
	gw.cmd.Process.Signal(syscall.SIGTERM)
	idle.Expect("421")
	busy.Write("Subject: drain\r\n\r\nbody\r\n.\r\n")
	busy.Expect("250")
	if got := waitMaildir(t, md, 1); len(got) != 1 {
		t.Fatal("message acknowledged during shutdown was not delivered")
	}
	// Between transactions a draining gateway answers 421 and closes.
	busy.Cmd("QUIT", "421")
	if err := gw.wait(20 * time.Second); err != nil {
		t.Fatalf("sluice did not exit cleanly: %v\n%s", err, gw.Log())
	}
}

// A reload that changes the listen address binds the new one; sessions on
// the old listener finish there, then it stops accepting.
func TestReloadMovesListener(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	admin := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	gw := startSluice(t, genPolicy(md, "one"), "", "--admin", admin, "--watch=false")
	old := dialSMTP(t, gw.Addr)
	old.Cmd("MAIL FROM:<a@example.org>", "250")

	newAddr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	writePolicy(t, policyPath(gw), strings.Replace(genPolicy(md, "two"), "%LISTEN%", newAddr, 1), gw)
	if code, body := httpDo(t, "POST", "http://"+admin+"/reload"); code != 200 || !strings.Contains(body, "ok: generation 2") {
		t.Fatalf("reload: %d %s", code, body)
	}
	c := dialSMTP(t, newAddr)
	c.Cmd("MAIL FROM:<a@example.org>", "250")
	c.Cmd("RCPT TO:<b@example.net>", "250")
	c.Cmd("DATA", "354")
	c.Write("Subject: moved\r\n\r\nbody\r\n.\r\n")
	c.Expect("250")

	// The session on the old address finishes its transaction.
	old.Cmd("RCPT TO:<b@example.net>", "250")
	old.Cmd("DATA", "354")
	old.Write("Subject: old\r\n\r\nbody\r\n.\r\n")
	old.Expect("250")
	if msgs := waitMaildir(t, md, 2); len(msgs) != 2 {
		t.Fatalf("want 2 deliveries, got %d", len(msgs))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", gw.Addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("old listener still accepting")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
