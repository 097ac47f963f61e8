package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// offlinePolicy is the default chain plus dmarc and dnsbl, for `sluice
// test --dns-file`: no resolver block is needed, the zone answers all.
const offlinePolicy = `
listen   { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
dkim_key "main" {
  domain           = "sluice.test"
  selector         = "s1"
  private_key_file = "%KEY%"
}
plugin "dnsbl" {
  wasm   = "%BIN%/plugins/dnsbl.wasm"
  grants = ["dns"]
  config = { zones = ["bl.test"] }
}
plugin "auth-results" {
  wasm    = "%BIN%/plugins/auth-results.wasm"
  grants  = ["dns"]
  timeout = "5s"
  config  = { authserv_id = "mx.sluice.test" }
}
plugin "dmarc" {
  wasm = "%BIN%/plugins/dmarc.wasm"
}
plugin "dkim-sign" {
  wasm   = "%BIN%/plugins/dkim-sign.wasm"
  grants = ["dkim:main"]
}
`

const offlineZone = `$ORIGIN test.
$TTL 300
sender          IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.sender   IN TXT "v=DMARC1; p=reject; pct=100"
forged          IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.forged   IN TXT "v=DMARC1; p=reject"
9.2.0.192.bl    IN A   127.0.0.2
9.2.0.192.bl    IN TXT "listed: see https://bl.test/192.0.2.9"
`

type offlineResult struct {
	Action  string
	Code    int
	Text    string
	Message string
	Steps   []struct{ Plugin, Phase, Verdict string }
}

// sluiceTest runs `sluice test --json --dns-file` on one message.
func sluiceTest(t *testing.T, dir, clientIP, from, msg string) offlineResult {
	t.Helper()
	eml := filepath.Join(dir, "m.eml")
	if err := os.WriteFile(eml, []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "sluice"), "test", "--policy", filepath.Join(dir, "policy.hcl"),
		"--dns-file", filepath.Join(dir, "test.zone"), "--cache-dir", cacheDir, "--client-ip", clientIP,
		"--from", from, "--rcpt", "bob@example.net", "--json", eml).Output()
	// The exit status names the action (README "Command line").
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sluice test: %v\n%s", err, out)
	}
	var r offlineResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	want := map[string]int{"accept": 0, "reject": 3, "tempfail": 4, "discard": 5, "quarantine": 6}
	if w, ok := want[r.Action]; !ok || status != w {
		t.Fatalf("sluice test: action %q with exit status %d\n%s", r.Action, status, out)
	}
	return r
}

// `sluice test --dns-file` runs the DNS-using plugins offline, from a zone
// file: SPF and DMARC pass and fail, a DNSBL listing, and DKIM signing.
func TestSluiceTestDNSFile(t *testing.T) {
	dir := t.TempDir()
	key, _ := keygen(t, "ed25519")
	policy := strings.NewReplacer("%KEY%", key, "%BIN%", binDir).Replace(offlinePolicy)
	if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.zone"), []byte(offlineZone), 0o644); err != nil {
		t.Fatal(err)
	}

	r := sluiceTest(t, dir, "192.0.2.1", "alice@sender.test", "From: alice@sender.test\nSubject: hi\n\nbody\n")
	if r.Action != "accept" {
		t.Fatalf("SPF pass: action %q (%d %s)", r.Action, r.Code, r.Text)
	}
	msg := unfold([]byte(r.Message))
	for _, want := range []string{"Authentication-Results: mx.sluice.test;", "spf=pass", "dmarc=pass", "header.from=sender.test"} {
		if !strings.Contains(msg, want) {
			t.Errorf("rewritten message lacks %q:\n%s", want, msg)
		}
	}

	r = sluiceTest(t, dir, "192.0.2.1", "eve@forged.test", "From: eve@forged.test\nSubject: hi\n\nbody\n")
	if r.Action != "reject" || r.Code != 550 || !strings.Contains(r.Text, "forged.test") {
		t.Errorf("DMARC p=reject failure: action %q, %d %s", r.Action, r.Code, r.Text)
	}

	r = sluiceTest(t, dir, "192.0.2.9", "alice@sender.test", "From: alice@sender.test\n\nbody\n")
	if r.Action != "reject" || r.Code != 554 || !strings.Contains(r.Text, "listed") {
		t.Errorf("DNSBL listing: action %q, %d %s", r.Action, r.Code, r.Text)
	}

	r = sluiceTest(t, dir, "192.0.2.1", "carol@sluice.test", "From: carol@sluice.test\nSubject: signed\n\nbody\n")
	if r.Action != "accept" || !strings.Contains(r.Message, "DKIM-Signature:") || !strings.Contains(r.Message, "d=sluice.test") {
		t.Errorf("own-domain mail not signed: action %q\n%s", r.Action, r.Message)
	}
}

// A Go plugin refusing its config is reported in policy terms, at the key,
// in one sentence: no Go type names, no repeated "plugin ... refused".
func TestCheckConfigErrorInPolicyTerms(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policy.hcl")
	src := `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "access" {
  wasm   = "` + plugin("access") + `"
  config = { deny_senders = ["x@example.com"], code = 2.5 }
}
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "sluice"), "check", "--cache-dir", cacheDir, "--log-level", "error", p).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("sluice check: %v\n%s", err, out)
	}
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, p+":") && strings.Contains(l, "Plugin failed to load") {
			line = l
		}
	}
	want := `Plugin failed to load: plugin "access" (` + plugin("access") + `): refused its configuration: config.code: 2.5 is not a whole number`
	if !strings.HasSuffix(line, want) {
		t.Fatalf("diagnostic:\n%s\nwant it to end with:\n%s\nall output:\n%s", line, want, out)
	}
}
