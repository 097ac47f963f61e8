package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/dnstest"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// authPolicy is the default policy's chain (auth-results, tag, dkim-sign)
// plus dmarc enforcement, with DNS answered by a server on loopback.
const authPolicy = `
listen   { address = "%LISTEN%" }
upstream { address = "%UPSTREAM%" }
resolver {
  servers = ["%DNS%"]
  timeout = "1s"
}
dkim_key "main" {
  domain           = "sluice.test"
  selector         = "s1"
  private_key_file = "%KEY%"
}
plugin "auth-results" {
  wasm     = "%BIN%/plugins/auth-results.wasm"
  grants   = ["dns"]
  timeout  = "5s"
  on_error = "continue"
  config   = { authserv_id = "mx.sluice.test" }
}
plugin "dmarc" {
  wasm = "%BIN%/plugins/dmarc.wasm"
}
plugin "tag" {
  wasm   = "%BIN%/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "scanned" }, subject_prefix = "" }
}
plugin "dkim-sign" {
  wasm   = "%BIN%/plugins/dkim-sign.wasm"
  grants = ["dkim:main"]
}
`

// keygen makes a DKIM key with `sluice dkim-keygen` and returns its file
// and the TXT record value it printed.
func keygen(t testing.TB, alg string) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dkim.pem")
	out, err := exec.Command(filepath.Join(binDir, "sluice"), "dkim-keygen", "--algorithm", alg,
		"--domain", "sluice.test", "--selector", "s1", "--out", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dkim-keygen: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^s1\._domainkey\.sluice\.test\. IN TXT (.+)$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("dkim-keygen printed no record:\n%s", out)
	}
	// Join the zone-file strings back into the record value.
	txt := strings.ReplaceAll(strings.Trim(m[1], `"`), `" "`, "")
	return path, txt
}

// dkimpyVerify checks every DKIM signature of msg with dkimpy.
func dkimpyVerify(t *testing.T, msg []byte, record string) error {
	t.Helper()
	crlf := bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	// Debian's python3, which has python3-dkim; another python3 may come
	// first on PATH.
	cmd := exec.Command("/usr/bin/python3", filepath.Join("testdata", "dkimverify.py"), record)
	cmd.Stdin = bytes.NewReader(crlf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &verifyError{string(out)}
	}
	return nil
}

type verifyError struct{ out string }

func (e *verifyError) Error() string { return "dkimpy: " + e.out }

// swaks → sluice (auth-results, dmarc, tag, dkim-sign; DNS on loopback) →
// Postfix → Maildir, for both key types: SPF/DMARC pass is recorded in an
// RFC 8601 header that replaces a forged one, the delivered message's DKIM
// signature verifies with dkimpy, and a DMARC p=reject failure is refused
// with nothing delivered.
func TestPostfixAuthAndDKIM(t *testing.T) {
	for _, alg := range []string{"ed25519", "rsa"} {
		t.Run(alg, func(t *testing.T) { testAuthAndDKIM(t, alg) })
	}
}

func testAuthAndDKIM(t *testing.T, alg string) {
	keyFile, record := keygen(t, alg)
	zone := `$TTL 300
sender.test.              IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc.sender.test.       IN TXT "v=DMARC1; p=reject"
forged.test.              IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.forged.test.       IN TXT "v=DMARC1; p=reject"
sluice.test.              IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
s1._domainkey.sluice.test. IN TXT ` + zoneQuote(record) + "\n"
	dns := dnstest.Start(t, zone)
	pf := postfixtest.Start(t, postfixtest.Options{})
	policy := strings.NewReplacer("%DNS%", dns.Addr, "%KEY%", keyFile).Replace(authPolicy)
	gw := startSluice(t, policy, pf.Addr)

	// 1. SPF pass, DMARC pass by SPF alignment; a forged result claiming
	// our authserv-id is removed, a foreign one kept.
	out, err := swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "bob@"+postfixtest.Domain,
		"--add-header", "Authentication-Results: mx.sluice.test; dkim=pass header.d=sender.test",
		"--add-header", "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@sender.test")
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, gw.Log())
	}
	got := pf.WaitDelivered(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("delivered %d messages; sluice log:\n%s", len(got), gw.Log())
	}
	msg := unfold(got[0])
	ours := regexp.MustCompile(`(?mi)^Authentication-Results: mx\.sluice\.test;.*$`).FindAllString(msg, -1)
	if len(ours) != 1 {
		t.Fatalf("want exactly one Authentication-Results from mx.sluice.test, got %q in:\n%s", ours, msg)
	}
	for _, want := range []string{"spf=pass", "smtp.mailfrom=alice@sender.test", "dmarc=pass", "header.from=sender.test", "dkim=none"} {
		if !strings.Contains(ours[0], want) {
			t.Errorf("Authentication-Results lacks %q: %s", want, ours[0])
		}
	}
	if !strings.Contains(msg, "Authentication-Results: other.example;") {
		t.Errorf("a foreign Authentication-Results was removed:\n%s", msg)
	}

	// 2. Mail from our own domain is signed (d=sluice.test), after the tag
	// plugin's rewrite, and dkimpy verifies what Postfix delivered.
	out, err = swaks(t, gw.Addr, "--from", "carol@sluice.test", "--to", "bob@"+postfixtest.Domain,
		"--header", "Subject: signed mail", "--body", "line one\n.leading dot\n\nlast line")
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, gw.Log())
	}
	got = pf.WaitDelivered(2, 30*time.Second)
	if len(got) != 2 {
		t.Fatalf("delivered %d messages; sluice log:\n%s", len(got), gw.Log())
	}
	var signed []byte
	for _, m := range got {
		if bytes.Contains(m, []byte("Subject: signed mail")) {
			signed = m
		}
	}
	if !bytes.Contains(signed, []byte("DKIM-Signature:")) || !bytes.Contains(signed, []byte("d=sluice.test")) {
		t.Fatalf("message from sluice.test not signed:\n%s\nsluice log:\n%s", signed, gw.Log())
	}
	if err := dkimpyVerify(t, signed, record); err != nil {
		t.Errorf("%v\nmessage:\n%s", err, signed)
	}
	// The same check must fail when the body is changed: the verifier
	// really looks at the signature.
	if err := dkimpyVerify(t, bytes.Replace(signed, []byte("last line"), []byte("last lime"), 1), record); err == nil {
		t.Error("dkimpy accepted a message whose body was changed after signing")
	}

	// 3. SPF fail and DMARC p=reject: the dmarc plugin refuses the message.
	out, err = swaks(t, gw.Addr, "--from", "eve@forged.test", "--to", "bob@"+postfixtest.Domain)
	if err == nil || !strings.Contains(out, "<** 550 5.7.1") || !strings.Contains(out, "forged.test") {
		t.Fatalf("DMARC reject not seen: %v\n%s\nsluice log:\n%s", err, out, gw.Log())
	}
	// The chain runs before DATA is sent downstream: nothing reached Postfix.
	if n := len(pf.Delivered()); n != 2 {
		t.Errorf("%d messages delivered; the DMARC failure must not be", n)
	}
	if dns.Queries() == 0 {
		t.Error("the loopback DNS server was never asked")
	}
}

// unfold joins folded header lines, so a field can be matched on one line.
func unfold(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return regexp.MustCompile(`\n[ \t]+`).ReplaceAllString(s, " ")
}

// zoneQuote renders a TXT value as zone-file strings of at most 255 bytes.
func zoneQuote(s string) string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, `"`+s[:255]+`"`)
		s = s[255:]
	}
	return strings.Join(append(parts, `"`+s+`"`), " ")
}
