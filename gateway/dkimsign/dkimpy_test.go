package dkimsign

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dkimpyPython returns a python3 that can import dkim (Debian's
// python3-dkim). The test fails without one: CI installs it.
func dkimpyPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import dkim").Run() == nil {
			return p
		}
	}
	t.Fatal("no python3 with the dkim module (Debian package python3-dkim) found; it is required for this test")
	return ""
}

// verifyDkimpy runs testdata/dkimpy_verify.py on raw, serving k's record
// through dkimpy's dnsfunc.
func verifyDkimpy(t *testing.T, python string, raw []byte, k *Key) error {
	t.Helper()
	cmd := exec.Command(python, filepath.Join("testdata", "dkimpy_verify.py"), recordName(k), keyRecord(t, k))
	cmd.Stdin = bytes.NewReader(raw)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	got := strings.TrimSpace(string(out))
	var exit *exec.ExitError
	switch {
	case err == nil && got == "pass":
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1 && got == "fail":
		return errors.New("dkimpy: signature does not verify")
	}
	t.Fatalf("dkimpy_verify.py: %v: %s", err, out)
	return nil
}

func TestDkimpyVerifies(t *testing.T) {
	python := dkimpyPython(t)
	cases := []struct {
		key, canon, msg string
		o               Options
	}{
		{"ed25519-pkcs8.pem", "relaxed/relaxed", trickyMsg, Options{}},
		{"ed25519-pkcs8.pem", "simple/simple", trickyMsg, Options{}},
		{"ed25519-pkcs8.pem", "simple/relaxed", plainMsg, Options{Expiration: time.Hour}},
		{"rsa2048-pkcs8.pem", "relaxed/simple", trickyMsg, Options{}},
		{"rsa2048-pkcs8.pem", "simple", plainMsg, Options{}},
		{"rsa2048-pkcs1.pem", "relaxed", trickyMsg, Options{Headers: []string{"From", "Received", "To", "Subject", "X-Raw-8bit", "Content-Type"}}},
		{"rsa2048-pkcs1.pem", "simple/simple", trickyMsg, Options{Headers: []string{"From", "Received", "To", "Subject", "X-Raw-8bit", "Content-Type"}}},
		{"rsa1024-pkcs1.pem", "", "From: a@example.com\r\n\r\n", Options{}},
		{"ed25519-pkcs8.pem", "relaxed/relaxed", "From: a@example.com\r\nSubject: s\r\nno blank line before this body line\r\n", Options{}},
	}
	for _, c := range cases {
		k := testKey(t, c.key)
		c.o.Canonicalization = c.canon
		signed := signMessage(t, c.msg, k, c.o)
		if err := verifyDkimpy(t, python, signed, k); err != nil {
			t.Errorf("%s c=%s: %v\n%s", c.key, c.canon, err, signed)
		}
	}
}

// The dkimpy check can fail: a tampered body and an added From (oversigned)
// are caught by dkimpy too.
func TestDkimpyRejectsTampering(t *testing.T) {
	python := dkimpyPython(t)
	k := testKey(t, "ed25519-pkcs8.pem")
	signed := string(signMessage(t, trickyMsg, k, Options{}))
	if err := verifyDkimpy(t, python, []byte(signed), k); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]string{
		"body":       strings.Replace(signed, "tab\tinside", "tab\toutside", 1),
		"added From": strings.Replace(signed, "\r\n\r\n", "\r\nFrom: eve@example.org\r\n\r\n", 1),
	} {
		if err := verifyDkimpy(t, python, []byte(m), k); err == nil {
			t.Errorf("%s: dkimpy verified a tampered message", name)
		}
	}
	// An unsigned field added does not break it.
	m := strings.Replace(signed, "\r\n\r\n", "\r\nX-Added: 1\r\n\r\n", 1)
	if err := verifyDkimpy(t, python, []byte(m), k); err != nil {
		t.Errorf("unsigned field added: %v", err)
	}
}
