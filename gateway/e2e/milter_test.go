package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/docsnippet"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// Milter mode against Debian's Postfix: Postfix is configured from
// examples/postfix/milter/main.cf with smtpd_milters and non_smtpd_milters
// pointing at a `sluice serve` that has only a milter block; swaks talks to
// Postfix, which delivers to its Maildir.

// milterGateway runs `sluice serve` on policy (%MILTER% and %BIN% filled
// in) and waits for its milter port.
func milterGateway(t *testing.T, policy string) *gateway {
	t.Helper()
	addr := loopback(t)
	g := &gateway{Addr: addr, done: make(chan struct{})}
	g.repl = strings.NewReplacer("%MILTER%", addr, "%BIN%", binDir)
	path := filepath.Join(t.TempDir(), "policy.hcl")
	g.policy = path
	if err := os.WriteFile(path, []byte(g.repl.Replace(policy)), 0o644); err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(filepath.Join(binDir, "sluice"), "serve", "--policy", path, "--cache-dir", cacheDir, "--watch=false")
	g.cmd.Stdout, g.cmd.Stderr = g, g
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.err = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() { stopGateway(g) })
	if !postfixtest.WaitPort(addr, 60*time.Second) {
		t.Fatalf("sluice did not listen for milter connections on %s; log:\n%s", addr, g.Log())
	}
	return g
}

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

// milterPostfix starts Postfix with the example milter settings pointing at
// addr.
func milterPostfix(t *testing.T, addr string, extra ...string) *postfixtest.Postfix {
	t.Helper()
	return postfixtest.Start(t, postfixtest.Options{
		MainCF: append(postfixtest.Snippet(t, "milter/main.cf", map[string]string{"MILTER": "inet:" + addr}), extra...),
	})
}

// delivered returns the one delivered message containing marker.
func deliveredWith(t *testing.T, pf *postfixtest.Postfix, n int, marker string, g *gateway) string {
	t.Helper()
	got := pf.WaitDelivered(n, 30*time.Second)
	for _, m := range got {
		if bytes.Contains(m, []byte(marker)) {
			return string(m)
		}
	}
	t.Fatalf("no delivered message contains %q (%d delivered)\nsluice log:\n%s\npostfix log:\n%s", marker, len(got), g.Log(), pf.Log())
	return ""
}

const milterChain = `
milter { address = "%MILTER%" }
plugin "access" {
  wasm   = "%BIN%/plugins/access.wasm"
  config = { deny_recipients = ["blocked@*"], code = 550, enhanced = "5.7.1", message = "Recipient refused by milter policy" }
}
plugin "rewrite" {
  wasm   = "%BIN%/plugins/rewrite.wasm"
  grants = ["envelope"]
  config = {
    senders    = { "old@sender.test" = "new@sender.test" }
    recipients = { "alias@example.test" = "real@example.test" }
  }
}
plugin "tag" {
  wasm   = "%BIN%/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "scanned" }, subject_prefix = "[milter] " }
}
plugin "footer" {
  wasm   = "%BIN%/plugins/footer.wasm"
  config = { text = "-- filtered by sluice milter" }
}
`

// TestMilterPostfix: tag, access, footer and rewrite through Postfix's
// smtpd_milters, and sendmail(1) through non_smtpd_milters.
func TestMilterPostfix(t *testing.T) {
	g := milterGateway(t, milterChain)
	pf := milterPostfix(t, g.Addr)
	n := 0

	t.Run("tag and footer", func(t *testing.T) {
		out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain,
			"--header", "Subject: hello one", "--body", "first body line")
		if err != nil {
			t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, g.Log())
		}
		n++
		msg := deliveredWith(t, pf, n, "hello one", g)
		for _, want := range []string{"X-Sluice: scanned", "Subject: [milter] hello one", "first body line", "-- filtered by sluice milter"} {
			if !strings.Contains(msg, want) {
				t.Errorf("delivered message lacks %q:\n%s", want, msg)
			}
		}
	})

	t.Run("access refuses a recipient with the plugin's reply", func(t *testing.T) {
		out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "blocked@"+postfixtest.Domain)
		if err == nil || !strings.Contains(out, "<** 550 5.7.1 Recipient refused by milter policy") {
			t.Fatalf("want Postfix to relay the plugin's 550: %v\n%s\nsluice log:\n%s", err, out, g.Log())
		}
	})

	t.Run("rewrite changes the envelope", func(t *testing.T) {
		out, err := swaks(t, pf.Addr, "--from", "old@sender.test", "--to", "alias@"+postfixtest.Domain,
			"--header", "Subject: rewritten envelope")
		if err != nil {
			t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, g.Log())
		}
		n++
		msg := deliveredWith(t, pf, n, "rewritten envelope", g)
		// virtual(8) records the envelope: Return-Path is the sender,
		// Delivered-To the recipient.
		if !strings.Contains(msg, "Return-Path: <new@sender.test>") {
			t.Errorf("sender not rewritten:\n%s", msg)
		}
		if !strings.Contains(msg, "Delivered-To: real@example.test") || strings.Contains(msg, "Delivered-To: alias@") {
			t.Errorf("recipient not rewritten:\n%s", msg)
		}
	})

	t.Run("sendmail passes non_smtpd_milters", func(t *testing.T) {
		cmd := exec.Command("sendmail", "-C", pf.ConfDir, "-f", "local@sender.test", "bob@"+postfixtest.Domain)
		cmd.Stdin = strings.NewReader("Subject: local submission\n\nfrom sendmail\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sendmail: %v\n%s", err, out)
		}
		n++
		msg := deliveredWith(t, pf, n, "local submission", g)
		if !strings.Contains(msg, "X-Sluice: scanned") {
			t.Errorf("locally submitted mail not tagged:\n%s", msg)
		}
	})
}

// shippedMilterPolicy is policies/postfix-milter.hcl with its module paths
// pointing at the test's plugins, served on addr through SLUICE_MILTER.
func TestMilterShippedPolicy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "policies", "postfix-milter.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	path, err := docsnippet.Snippet{File: "policies/postfix-milter.hcl", Line: 1, Source: string(b)}.Sandbox(t.TempDir(), binDir)
	if err != nil {
		t.Fatal(err)
	}
	addr := loopback(t)
	check := exec.Command(filepath.Join(binDir, "sluice"), "check", path)
	check.Env = append(os.Environ(), "SLUICE_MILTER="+addr)
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "serves milter "+addr) {
		t.Fatalf("sluice check: %v\n%s", err, out)
	}
	g := &gateway{Addr: addr, done: make(chan struct{})}
	g.cmd = exec.Command(filepath.Join(binDir, "sluice"), "serve", "--policy", path, "--cache-dir", cacheDir, "--watch=false")
	g.cmd.Env = check.Env
	g.cmd.Stdout, g.cmd.Stderr = g, g
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.err = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() { stopGateway(g) })
	if !postfixtest.WaitPort(addr, 60*time.Second) {
		t.Fatalf("sluice did not listen on %s; log:\n%s", addr, g.Log())
	}
	pf := milterPostfix(t, addr)
	if out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain, "--header", "Subject: shipped"); err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, g.Log())
	}
	if msg := deliveredWith(t, pf, 1, "shipped", g); !strings.Contains(msg, "X-Sluice: scanned") {
		t.Errorf("not tagged:\n%s", msg)
	}
	out2, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "blocked@"+postfixtest.Domain)
	if err == nil || !strings.Contains(out2, "<** 550 5.7.1 Recipient refused by policy") {
		t.Errorf("blocked recipient not refused: %v\n%s", err, out2)
	}
}

var _ = fmt.Sprint
var _ = regexp.MustCompile
