package dkimsign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sluice-mail/sluice/gateway/message"
)

// testKey loads testdata/file for example.com with selector "sel".
func testKey(t testing.TB, file string) *Key {
	t.Helper()
	k, err := LoadKey("test", "example.com", "sel", filepath.Join("testdata", file))
	if err != nil {
		t.Fatalf("LoadKey(%s): %v", file, err)
	}
	return k
}

// keyRecord is the TXT record publishing k's public key.
func keyRecord(t testing.TB, k *Key) string {
	t.Helper()
	switch p := k.Signer.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(p)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(p)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	t.Fatalf("unexpected key type %T", k.Signer.Public())
	return ""
}

func recordName(k *Key) string { return k.Selector + "._domainkey." + k.Domain }

// lookupFor serves only k's record; other names are NXDOMAIN.
func lookupFor(name, txt string) func(string) ([]string, error) {
	return func(q string) ([]string, error) {
		if strings.EqualFold(strings.TrimSuffix(q, "."), name) {
			return []string{txt}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: q, IsNotFound: true}
	}
}

// verifyGo verifies the first DKIM-Signature of raw with go-msgauth and
// returns its result (nil = pass).
func verifyGo(t testing.TB, raw []byte, k *Key) error {
	t.Helper()
	return verifyGoTXT(t, raw, recordName(k), keyRecord(t, k))
}

// verifyGoTXT is verifyGo with the key record given as DNS name and TXT value.
func verifyGoTXT(t testing.TB, raw []byte, name, txt string) error {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: lookupFor(name, txt),
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(vs) == 0 {
		return errors.New("no signature found")
	}
	return vs[0].Err
}

// signMessage parses raw, signs it and returns the message with the
// signature inserted at the top, rendered.
func signMessage(t testing.TB, raw string, k *Key, o Options) []byte {
	t.Helper()
	m, err := message.Parse([]byte(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Sign(m, k, o)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	m.Insert(0, f)
	return m.Bytes()
}

// tagValue returns the value of tag name in a rendered DKIM-Signature
// field, whitespace removed.
func tagValue(t testing.TB, raw []byte, name string) (string, bool) {
	t.Helper()
	_, v, ok := strings.Cut(string(raw), ":")
	if !ok {
		t.Fatalf("no colon in %q", raw)
	}
	for _, spec := range strings.Split(v, ";") {
		n, val, ok := strings.Cut(spec, "=")
		if ok && strings.TrimSpace(n) == name {
			return strings.Join(strings.Fields(val), ""), true
		}
	}
	return "", false
}

// Messages used by several tests.
const (
	plainMsg = "From: Alice <alice@example.com>\r\n" +
		"To: bob@example.net\r\n" +
		"Subject: hello\r\n" +
		"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
		"Message-ID: <1@example.com>\r\n" +
		"\r\n" +
		"Hi Bob.\r\n"

	// Folded fields, 8-bit header and body bytes, whitespace runs, a
	// repeated field, trailing empty lines and trailing whitespace in the
	// body: everything canonicalization has to get right.
	trickyMsg = "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
		"Received: from c by d;\r\n\tMon, 1 Jan 2024 00:00:01 +0000\r\n" +
		"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\r\n" +
		"To:  bob@example.net,\r\n   carol@example.net  \r\n" +
		"Subject: Gr\xc3\xbc\xc3\x9fe  aus\tK\xc3\xb6ln \r\n" +
		"X-Raw-8bit: \xff\xfe caf\xe9\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain;\r\n charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		"Hall\xc3\xb6  \t welt  \r\n" +
		" leading space\r\n" +
		"\r\n" +
		"tab\tinside\r\n" +
		"\r\n" +
		"\r\n"
)
