package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// The deployments of examples/postfix, run as documented: Postfix configured
// from the example main.cf and master.cf snippets, Sluice from the example
// policy with the command line of the example systemd unit. A client on
// 127.0.0.2 stands for the Internet; Sluice and Postfix talk over 127.0.0.1.

const clientIP = "127.0.0.2"

func loopback(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t)) }

// unitCommand returns a command line of examples/postfix/sluice.service
// (key "ExecStart" or "ExecStartPre") with the installed paths replaced by
// the test's: the binary, the policy and the cache directory.
func unitCommand(t *testing.T, key, policyPath string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(postfixtest.ExamplesDir(t), "sluice.service"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), key+"=")
		if !ok {
			continue
		}
		args := strings.Fields(v)
		r := strings.NewReplacer("/usr/local/bin/sluice", filepath.Join(binDir, "sluice"),
			"/etc/sluice/policy.hcl", policyPath, "/var/cache/sluice", cacheDir)
		for i := range args {
			args[i] = r.Replace(args[i])
		}
		return args
	}
	t.Fatalf("sluice.service has no %s", key)
	return nil
}

// startExample runs the example policy of mode ("mx-front" or
// "proxy-filter") listening on listen and forwarding to upstream, after
// checking it the way the unit's ExecStartPre does.
func startExample(t *testing.T, mode, listen, upstream string) *gateway {
	t.Helper()
	policyPath := filepath.Join(postfixtest.ExamplesDir(t), mode, "policy.hcl")
	env := append(os.Environ(), "SLUICE_LISTEN="+listen, "SLUICE_UPSTREAM="+upstream,
		"SLUICE_PLUGINS="+filepath.Join(binDir, "plugins"), "SLUICE_HOSTNAME=sluice.sluice.test")

	pre := unitCommand(t, "ExecStartPre", policyPath)
	check := exec.Command(pre[0], pre[1:]...)
	check.Env = env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(pre, " "), err, out)
	}

	args := unitCommand(t, "ExecStart", policyPath)
	g := &gateway{Addr: listen}
	serve := exec.Command(args[0], args[1:]...)
	serve.Env = env
	g.run(t, serve)
	return g
}

// startMXFront runs Postfix from the mx-front snippets, with mynetworks and
// the address allowed to send XCLIENT as given, and Sluice in front of it.
func startMXFront(t *testing.T, mynetworks, xclientHost string) (*postfixtest.Postfix, *gateway) {
	t.Helper()
	pfAddr := loopback(t)
	pf := postfixtest.Start(t, postfixtest.Options{
		Addr: pfAddr,
		// Relayed mail stays queued: no delivery attempt, no DNS.
		MainCF:   append(postfixtest.Snippet(t, "mx-front/main.cf", map[string]string{"MYNETWORKS": mynetworks}), "defer_transports = smtp"),
		MasterCF: postfixtest.Snippet(t, "mx-front/master.cf", map[string]string{"POSTFIX_ADDR": pfAddr, "SLUICE_IP": xclientHost}),
	})
	return pf, startExample(t, "mx-front", loopback(t), pfAddr)
}

// fromClient runs swaks from the client address.
func fromClient(t *testing.T, server string, args ...string) (string, error) {
	t.Helper()
	return swaks(t, server, append([]string{"--local-interface", clientIP}, args...)...)
}

// sendOne sends one message with subject from the client address through
// server and returns the one message Postfix delivered.
func sendOne(t *testing.T, server, subject string, gw *gateway, pf *postfixtest.Postfix) string {
	t.Helper()
	out, err := fromClient(t, server, "--from", "alice@sender.test", "--to", "bob@"+postfixtest.Domain,
		"--header", "Subject: "+subject)
	if err != nil || !strings.Contains(out, "<-  250 2.0.0 Ok: queued") {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s\nmaillog:\n%s", err, out, gw.Log(), pf.Log())
	}
	got := pf.WaitDelivered(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("postfix delivered %d messages; maillog:\n%s", len(got), pf.Log())
	}
	return string(got[0])
}

// waitLog waits (bounded) for a Postfix log line matching re.
func waitLog(pf *postfixtest.Postfix, re *regexp.Regexp) bool {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if re.MatchString(pf.Log()) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// noWarnings fails the test if Postfix warned about anything, such as a
// setting of the example snippets it does not understand.
func noWarnings(t *testing.T, pf *postfixtest.Postfix) {
	t.Helper()
	for _, l := range strings.Split(pf.Log(), "\n") {
		if strings.Contains(l, "warning:") {
			t.Errorf("postfix warned: %s", l)
		}
	}
}

// MX front: Postfix records the real client, which XCLIENT gave it, in its
// Received header and its log; not Sluice's address.
func TestPostfixXClient(t *testing.T) {
	pf, gw := startMXFront(t, "127.0.0.254/32", "127.0.0.1")
	msg := sendOne(t, gw.Addr, "xclient", gw, pf)
	if !strings.Contains(msg, "X-Sluice: checked") {
		t.Errorf("the example policy's tag is missing:\n%s", msg)
	}
	received := regexp.MustCompile(`Received: from client\.sluice\.test \(unknown \[127\.0\.0\.2\]\)\s+by postfix\.sluice\.test`)
	if !received.MatchString(msg) {
		t.Errorf("Postfix's Received header does not name the real client:\n%s", msg)
	}
	if strings.Contains(msg, "[127.0.0.1]") {
		t.Errorf("Sluice's own address reached the message:\n%s", msg)
	}
	if !waitLog(pf, regexp.MustCompile(`postfix/sluice/smtpd\[\d+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.2\]`)) {
		t.Errorf("Postfix did not log the real client; maillog:\n%s", pf.Log())
	}
	noWarnings(t, pf)
}

// docs/TESTPLAN.md row 30 and the open-relay trap: Postfix decides relaying on the
// address XCLIENT gave. An unauthenticated client relaying to a foreign
// domain is refused, even when Sluice's own address is in mynetworks; and
// a client whose real address is trusted may relay, which shows the
// decision is Postfix's, on the real address.
func TestPostfixXClientNoOpenRelay(t *testing.T) {
	for _, tc := range []struct {
		name, mynetworks string
		relay            bool
	}{
		{"sluice not trusted", "127.0.0.254/32", false},
		{"sluice trusted", "127.0.0.1/32", false},
		{"client trusted", clientIP + "/32", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf, gw := startMXFront(t, tc.mynetworks, "127.0.0.1")
			out, err := fromClient(t, gw.Addr, "--from", "alice@sender.test", "--to", "someone@foreign.test")
			if !tc.relay {
				if err == nil || !strings.Contains(out, "<** 554 5.7.1") || !strings.Contains(out, "Relay access denied") {
					t.Fatalf("relay not refused: %v\n%s\nmaillog:\n%s", err, out, pf.Log())
				}
				if !waitLog(pf, regexp.MustCompile(`reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1`)) {
					t.Errorf("Postfix did not refuse the real client; maillog:\n%s", pf.Log())
				}
				return
			}
			if err != nil || !strings.Contains(out, "<-  250 2.0.0 Ok: queued") {
				t.Fatalf("a trusted client could not relay: %v\n%s\nmaillog:\n%s", err, out, pf.Log())
			}
		})
	}
}

// A Postfix that does not allow XCLIENT from Sluice gets nothing: the
// client is told to try later (451 4.4.1) and Sluice logs what to fix,
// rather than forwarding the mail as if Sluice were the client.
func TestPostfixXClientNotAuthorized(t *testing.T) {
	pf, gw := startMXFront(t, "127.0.0.1/32", "127.0.0.3")
	out, err := fromClient(t, gw.Addr, "--from", "alice@sender.test", "--to", "someone@foreign.test")
	if err == nil || !strings.Contains(out, "451 4.4.1") {
		t.Fatalf("want 451 4.4.1: %v\n%s", err, out)
	}
	if !strings.Contains(gw.Log(), "smtpd_authorized_xclient_hosts") {
		t.Errorf("sluice did not log the fix; log:\n%s", gw.Log())
	}
	if strings.Contains(pf.Log(), "RCPT from") || strings.Contains(pf.Log(), "client=") {
		t.Errorf("a transaction reached Postfix without XCLIENT; maillog:\n%s", pf.Log())
	}
}

// smtpd_proxy_filter: the public Postfix listener passes each transaction
// through Sluice, telling it the client with XFORWARD; Sluice forwards to
// the after-filter listener with XFORWARD, which logs the real client.
func TestPostfixXForward(t *testing.T) {
	public, sluice, after := loopback(t), loopback(t), loopback(t)
	pf := postfixtest.Start(t, postfixtest.Options{
		Addr:   public,
		MainCF: postfixtest.Snippet(t, "proxy-filter/main.cf", nil),
		MasterCF: postfixtest.Snippet(t, "proxy-filter/master.cf", map[string]string{
			"PUBLIC_ADDR": public, "SLUICE_ADDR": sluice, "POSTFIX_ADDR": after, "SLUICE_IP": "127.0.0.1"}),
	})
	gw := startExample(t, "proxy-filter", sluice, after)

	msg := sendOne(t, public, "xforward", gw, pf)
	if !strings.Contains(msg, "X-Sluice: checked") {
		t.Errorf("the message did not go through Sluice:\n%s", msg)
	}
	// The public listener's Received header names the client; the
	// after-filter listener's names Sluice, which connected to it.
	if !strings.Contains(msg, "Received: from client.sluice.test (unknown [127.0.0.2])") ||
		!strings.Contains(msg, "Received: from sluice.sluice.test (unknown [127.0.0.1])") {
		t.Errorf("unexpected Received headers:\n%s", msg)
	}
	// XFORWARD changes what the after-filter listener logs: the connection
	// is Sluice's, the client the original one.
	if !waitLog(pf, regexp.MustCompile(`postfix/after-filter/smtpd\[\d+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.1\], orig_client=unknown\[127\.0\.0\.2\]`)) {
		t.Errorf("the after-filter listener did not log the real client; maillog:\n%s", pf.Log())
	}

	// The public listener refuses relaying for the real client before
	// Sluice is even asked.
	out, err := fromClient(t, public, "--from", "alice@sender.test", "--to", "someone@foreign.test")
	if err == nil || !strings.Contains(out, "554 5.7.1") {
		t.Fatalf("relay through the public listener not refused: %v\n%s", err, out)
	}
	noWarnings(t, pf)
}
