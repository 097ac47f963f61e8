package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/docsnippet"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/testcert"
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
	g := &gateway{Addr: addr}
	g.repl = strings.NewReplacer("%MILTER%", addr, "%BIN%", binDir)
	path := filepath.Join(t.TempDir(), "policy.hcl")
	g.policy = path
	if err := os.WriteFile(path, []byte(g.repl.Replace(policy)), 0o644); err != nil {
		t.Fatal(err)
	}
	g.run(t, sluiceServe(path, "--watch=false"))
	return g
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
	g := &gateway{Addr: addr}
	serve := sluiceServe(path, "--watch=false")
	serve.Env = check.Env
	g.run(t, serve)
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

// wasm compiles a WAT module of testdata into the test's directory.
func wasm(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".wasm")
	if msg, err := exec.Command("wat2wasm", filepath.Join("testdata", name+".wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	return out
}

// Header edits on repeated fields keep their index semantics in Postfix:
// the first X-Dup is deleted, the one that is then second changed, and a
// field inserted at the top lands above every field the client sent, one
// inserted at Subject's index just above Subject. The queue_id info key is
// Postfix's queue id.
func TestMilterHeaderIndexes(t *testing.T) {
	g := milterGateway(t, fmt.Sprintf(`
milter { address = "%%MILTER%%" }
plugin "edit" { wasm = %q }
`, wasm(t, "headeredit")))
	pf := milterPostfix(t, g.Addr)
	check := func(msg string) {
		t.Helper()
		dups := regexp.MustCompile(`(?m)^X-Dup: .*$`).FindAllString(msg, -1)
		if strings.Join(dups, "|") != "X-Dup: two|X-Dup: changed three" {
			t.Errorf("X-Dup fields are %q, want [X-Dup: two, X-Dup: changed three]:\n%s", dups, msg)
		}
		top, date := strings.Index(msg, "X-Top: inserted"), strings.Index(msg, "\nDate:")
		if top < 0 || date < 0 || top > date {
			t.Errorf("X-Top not inserted above the client's fields:\n%s", msg)
		}
		if !regexp.MustCompile(`X-Mid: middle\nSubject: indexes`).MatchString(msg) {
			t.Errorf("X-Mid not inserted just above Subject:\n%s", msg)
		}
		// info("queue_id") is Postfix's queue id (macro i), the one in
		// Postfix's Received field.
		id := regexp.MustCompile(`by postfix\.sluice\.test \(Postfix[^)]*\)(?:\s+with \S+)?\s+id ([0-9A-F]+)`).FindStringSubmatch(msg)
		if id == nil || !strings.Contains(msg, "X-Queue-Id: "+id[1]+"\n") {
			t.Errorf("X-Queue-Id is not Postfix's queue id %v:\n%s", id, msg)
		}
	}
	// SMTP (smtpd_milters).
	out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain,
		"--header", "Subject: indexes", "--add-header", "X-Dup: one", "--add-header", "X-Dup: two", "--add-header", "X-Dup: three")
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, g.Log())
	}
	check(deliveredWith(t, pf, 1, "indexes", g))
	// sendmail(1) (non_smtpd_milters): pickup's Received field is hidden
	// the same way.
	cmd := exec.Command("sendmail", "-C", pf.ConfDir, "-f", "local@sender.test", "bob@"+postfixtest.Domain)
	cmd.Stdin = strings.NewReader("Date: Mon, 7 Dec 2026 00:00:00 +0000\nFrom: local@sender.test\nSubject: indexes local\nX-Dup: one\nX-Dup: two\nX-Dup: three\n\nbody\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sendmail: %v\n%s", err, out)
	}
	check(deliveredWith(t, pf, 2, "indexes local", g))
}

// Postfix's TLS macros become the tls and tls.cipher info keys: a client
// that used STARTTLS with Postfix gets a message whose X-TLS and X-Cipher
// (copied by the plugin) name the protocol and cipher Postfix logged.
func TestMilterTLSInfo(t *testing.T) {
	g := milterGateway(t, fmt.Sprintf(`
milter { address = "%%MILTER%%" }
plugin "edit" { wasm = %q }
`, wasm(t, "headeredit")))
	srv := testcert.NewCA(t, "Postfix CA").Issue("postfix.sluice.test")
	pf := postfixtest.Start(t, postfixtest.Options{
		Files: map[string][]byte{"tls.pem": srv.CertPEM, "tls.key": srv.KeyPEM},
		MainCF: append(postfixtest.Snippet(t, "milter/main.cf", map[string]string{"MILTER": "inet:" + g.Addr}),
			"smtpd_tls_security_level = may",
			"smtpd_tls_cert_file = $config_directory/tls.pem",
			"smtpd_tls_key_file = $config_directory/tls.key",
			"smtpd_tls_loglevel = 1"),
	})
	out, err := swaks(t, pf.Addr, "--tls", "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain, "--header", "Subject: over tls")
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, g.Log())
	}
	msg := deliveredWith(t, pf, 1, "over tls", g)
	m := regexp.MustCompile(`Anonymous TLS connection established from \S+: (TLSv[0-9.]+) with cipher (\S+)`).FindStringSubmatch(pf.Log())
	if m == nil {
		t.Fatalf("Postfix logged no TLS session:\n%s", pf.Log())
	}
	if want := "X-TLS: " + strings.ReplaceAll(m[1], "v", "") + "\n"; !strings.Contains(msg, want) {
		t.Errorf("want %q:\n%s", want, msg)
	}
	if want := "X-Cipher: " + m[2] + "\n"; !strings.Contains(msg, want) {
		t.Errorf("want %q:\n%s", want, msg)
	}
}

// dkim-sign in milter mode: the signature is made over the message as
// Postfix has it (the chain's other changes included) and dkimpy verifies
// it on the delivered message.
func TestMilterDKIM(t *testing.T) {
	keyFile, record := keygen(t, "ed25519")
	g := milterGateway(t, fmt.Sprintf(`
milter { address = "%%MILTER%%" }
dkim_key "main" {
  domain           = "sluice.test"
  selector         = "s1"
  private_key_file = %q
}
plugin "tag" {
  wasm   = "%%BIN%%/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "scanned" }, subject_prefix = "[milter] " }
}
plugin "footer" {
  wasm   = "%%BIN%%/plugins/footer.wasm"
  config = { text = "-- signed footer" }
}
plugin "dkim-sign" {
  wasm   = "%%BIN%%/plugins/dkim-sign.wasm"
  grants = ["dkim:main"]
}
`, keyFile))
	pf := milterPostfix(t, g.Addr)
	out, err := swaks(t, pf.Addr, "--from", "carol@sluice.test", "--to", "bob@"+postfixtest.Domain,
		"--header", "Subject: signed in milter mode", "--body", "line one\n.leading dot\n\nlast line")
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, g.Log())
	}
	msg := deliveredWith(t, pf, 1, "signed in milter mode", g)
	if !strings.Contains(msg, "DKIM-Signature:") || !strings.Contains(msg, "-- signed footer") {
		t.Fatalf("not signed or footer missing:\n%s\nsluice log:\n%s", msg, g.Log())
	}
	if err := dkimpyVerify(t, []byte(msg), record); err != nil {
		t.Errorf("%v\nmessage:\n%s", err, msg)
	}
	if err := dkimpyVerify(t, []byte(strings.Replace(msg, "last line", "last lime", 1)), record); err == nil {
		t.Error("dkimpy accepted a changed body: the check is not real")
	}
}

// verdictPolicy: four instances of testdata/verdict.wat, each acting on
// the messages whose first recipient starts with its digit.
func verdictPolicy(t *testing.T) string {
	mod := wasm(t, "verdict")
	var b strings.Builder
	b.WriteString(`milter { address = "%MILTER%" }` + "\n")
	for _, p := range []struct {
		v       int
		onError string
	}{{4, "tempfail"}, {5, "tempfail"}, {8, "tempfail"}, {9, "reject"}} {
		fmt.Fprintf(&b, "plugin \"v%d\" {\n  wasm = %q\n  timeout = \"500ms\"\n  on_error = %q\n  config = { v = %d }\n}\n", p.v, mod, p.onError, p.v)
	}
	return b.String()
}

// Verdicts through Postfix, one Sluice and one Postfix for all:
//   - discard: Postfix answers 250 and drops the message (milter-discard);
//   - quarantine: Postfix answers 250 and puts the message on hold
//     (postqueue shows it with "!"), with the X-Sluice-Quarantine field;
//     Postfix logs the hold, not the SMFIR_QUARANTINE reason;
//   - a plugin that spins past its timeout: on_error's reply (tempfail:
//     451 4.3.0; reject: 550 5.7.1), in bounded time, never a 250.
//
// Nothing is delivered.
func TestMilterVerdicts(t *testing.T) {
	g := milterGateway(t, verdictPolicy(t))
	pf := milterPostfix(t, g.Addr)
	to := func(digit string) string { return digit + "user@" + postfixtest.Domain }

	t.Run("discard", func(t *testing.T) {
		out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", to("4"))
		if err != nil || !strings.Contains(out, "<-  250") {
			t.Fatalf("want 250 for a discarded message: %v\n%s", err, out)
		}
		if !waitFor(20*time.Second, func() bool { return strings.Contains(pf.Log(), "milter-discard") }) {
			t.Fatalf("Postfix did not log the discard:\n%s", pf.Log())
		}
	})
	t.Run("quarantine", func(t *testing.T) {
		out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", to("5"), "--header", "Subject: to hold")
		if err != nil || !strings.Contains(out, "<-  250") {
			t.Fatalf("want 250 for a quarantined message: %v\n%s", err, out)
		}
		var id string
		if !waitFor(20*time.Second, func() bool {
			q, _ := exec.Command("postqueue", "-c", pf.ConfDir, "-p").CombinedOutput()
			m := regexp.MustCompile(`(?m)^([0-9A-F]+)!`).FindStringSubmatch(string(q))
			if m != nil {
				id = m[1]
			}
			return m != nil
		}) {
			q, _ := exec.Command("postqueue", "-c", pf.ConfDir, "-p").CombinedOutput()
			t.Fatalf("no message on hold; postqueue -p:\n%s\npostfix log:\n%s\nsluice log:\n%s", q, pf.Log(), g.Log())
		}
		if !strings.Contains(pf.Log(), "milter triggers HOLD action") {
			t.Errorf("Postfix did not log the hold:\n%s", pf.Log())
		}
		body, err := exec.Command("postcat", "-c", pf.ConfDir, "-q", id).CombinedOutput()
		if err != nil || !strings.Contains(string(body), "X-Sluice-Quarantine: v5: held for review") {
			t.Errorf("held message lacks X-Sluice-Quarantine: %v\n%s", err, body)
		}
	})
	for _, tc := range []struct{ digit, onError, want string }{
		{"8", "tempfail", "<** 451 4.3.0"},
		{"9", "reject", "<** 550 5.7.1"},
	} {
		t.Run("timeout with on_error "+tc.onError, func(t *testing.T) {
			start := time.Now()
			out, _ := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", to(tc.digit))
			if !strings.Contains(out, tc.want) {
				t.Fatalf("want %q:\n%s\nsluice log:\n%s", tc.want, out, g.Log())
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	if n := len(pf.Delivered()); n != 0 {
		t.Errorf("%d messages delivered; none of these may be", n)
	}
}

func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Sluice down: Postfix's milter_default_action = tempfail (the example
// main.cf) answers 451 and queues nothing.
func TestMilterSluiceDown(t *testing.T) {
	addr := loopback(t) // nothing listens there
	pf := milterPostfix(t, addr)
	out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain)
	if err == nil || !regexp.MustCompile(`<\*\* 451 `).MatchString(out) {
		t.Fatalf("want 451 from Postfix with Sluice down: %v\n%s", err, out)
	}
	if pf.Queued() != 0 || len(pf.Delivered()) != 0 {
		t.Errorf("mail was accepted with Sluice down")
	}
}

func genPolicyMilter(gen string) string {
	return `
milter { address = "%MILTER%" }
plugin "tag" {
  wasm   = "%BIN%/plugins/tag.wasm"
  config = { headers = { "X-Gen" = "` + gen + `" }, subject_prefix = "" }
}
`
}

// Reload under milter traffic loses nothing: clients keep sending through
// Postfix while the policy is reloaded three times; every message is
// accepted and delivered with exactly one X-Gen field, and a session open
// across a reload finishes on the generation it started on.
func TestMilterReloadUnderTraffic(t *testing.T) {
	g := milterGateway(t, genPolicyMilter("g1"))
	pf := milterPostfix(t, g.Addr)

	// A session pinned to generation 1: MAIL and RCPT before the reloads,
	// DATA after them.
	pinned := dialSMTP(t, pf.Addr)
	pinned.Cmd("MAIL FROM:<pinned@sender.test>", "250")
	pinned.Cmd("RCPT TO:<bob@"+postfixtest.Domain+">", "250")

	const clients, each = 3, 8
	errs := make(chan error, clients*each)
	done := make(chan struct{})
	for c := 0; c < clients; c++ {
		go func(c int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < each; i++ {
				out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain,
					"--header", fmt.Sprintf("Subject: load %d-%d", c, i))
				if err != nil {
					errs <- fmt.Errorf("client %d message %d: %v\n%s", c, i, err, out)
				}
			}
		}(c)
	}
	for i, gen := range []string{"g2", "g3", "g4"} {
		writePolicy(t, g.policy, genPolicyMilter(gen), g)
		g.cmd.Process.Signal(syscall.SIGHUP)
		want := fmt.Sprintf("generation=%d", i+2)
		if !waitFor(60*time.Second, func() bool { return strings.Contains(g.Log(), "policy reloaded") && strings.Contains(g.Log(), want) }) {
			t.Fatalf("reload to %s not seen; log:\n%s", gen, g.Log())
		}
	}
	for c := 0; c < clients; c++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	pinned.Cmd("DATA", "354")
	fmt.Fprintf(pinned.Conn, "Subject: pinned\r\n\r\nbody\r\n.\r\n")
	pinned.Expect("250")
	pinned.Cmd("QUIT", "221")

	total := clients*each + 1
	got := pf.WaitDelivered(total, 60*time.Second)
	if len(got) != total {
		t.Fatalf("delivered %d of %d; sluice log:\n%s", len(got), total, g.Log())
	}
	gens := map[string]int{}
	for _, m := range got {
		f := regexp.MustCompile(`(?m)^X-Gen: (\S+)`).FindAllStringSubmatch(string(m), -1)
		if len(f) != 1 {
			t.Errorf("want one X-Gen field, got %d:\n%s", len(f), m)
			continue
		}
		gens[f[0][1]]++
		if bytes.Contains(m, []byte("Subject: pinned")) && f[0][1] != "g1" {
			t.Errorf("the session open across the reloads finished on %s, want g1", f[0][1])
		}
	}
	t.Logf("messages per generation: %v", gens)
	// A session started after the last reload runs on it.
	if out, err := swaks(t, pf.Addr, "--from", "a@sender.test", "--to", "bob@"+postfixtest.Domain, "--header", "Subject: after"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if m := deliveredWith(t, pf, total+1, "Subject: after", g); !strings.Contains(m, "X-Gen: g4") {
		t.Errorf("new session not on the last generation:\n%s", m)
	}
}
