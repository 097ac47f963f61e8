package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// testKey is a key granted to the plugin and published in testDNS.
type testKey struct {
	name, domain, selector string
	signer                 crypto.Signer
}

var (
	edKey  = mustEd25519()
	rsaKey = mustRSA()
)

func mustEd25519() crypto.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustRSA() crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// record is the DKIM key record of s (RFC 6376 §3.6.1, RFC 8463 §4).
func record(s crypto.Signer) string {
	switch pub := s.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			panic(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	panic("unknown key type")
}

// verify checks every DKIM signature of msg against the keys and returns
// the d= of each, in order.
func verify(t *testing.T, msg []byte, keys []testKey) []string {
	t.Helper()
	txt := map[string]string{}
	for _, k := range keys {
		txt[strings.ToLower(k.selector+"._domainkey."+k.domain)] = record(k.signer)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if r, ok := txt[strings.ToLower(name)]; ok {
				return []string{r}, nil
			}
			return nil, errors.New("no such record: " + name)
		},
	})
	if err != nil {
		t.Fatalf("dkim.Verify: %v", err)
	}
	var ds []string
	for _, v := range vs {
		if v.Err != nil {
			t.Fatalf("signature of %s does not verify: %v\n%s", v.Domain, v.Err, msg)
		}
		ds = append(ds, v.Domain)
	}
	return ds
}

const body = "Hello,\r\n\r\nthis is a test.\r\n"

func message(from ...string) string {
	var b strings.Builder
	for _, f := range from {
		b.WriteString("From: " + f + "\r\n")
	}
	b.WriteString("To: bob@example.com\r\nSubject: test\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n" + body)
	return b.String()
}

var (
	orgEd   = testKey{"org", "example.org", "ed", edKey}
	orgRSA  = testKey{"org-rsa", "example.org", "rsa", rsaKey}
	newsEd  = testKey{"news", "News.Example.org", "n1", edKey}
	otherEd = testKey{"other", "example.net", "x", edKey}
)

func TestSign(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		keys    []testKey
		msg     string
		signed  string   // tag dkim.signed
		domains []string // d= of the signatures, top first
		refused string   // substring of tag dkim.refused
		verdict sluice.Verdict
	}{
		{name: "exact domain", keys: []testKey{orgEd, otherEd}, msg: message("alice@example.org"),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "rsa key", keys: []testKey{orgRSA}, msg: message("alice@example.org"),
			signed: "d=example.org s=rsa", domains: []string{"example.org"}},
		{name: "parent domain", keys: []testKey{orgEd}, msg: message("alice@mail.news.example.org"),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "longest match wins", keys: []testKey{orgEd, newsEd}, msg: message("alice@mail.news.example.org"),
			signed: "d=News.Example.org s=n1", domains: []string{"News.Example.org"}},
		{name: "case-insensitive", keys: []testKey{orgEd}, msg: message("Alice@EXAMPLE.Org"),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "display name, comment, brackets", keys: []testKey{orgEd},
			msg:    message(`"Doe, Jane" (work) <jane@example.org>`),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "folded From", keys: []testKey{orgEd}, msg: message("Jane Doe\r\n <jane@example.org>"),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "unparsable display name read leniently", keys: []testKey{orgEd},
			msg:    message(`Jane [Sales] <jane@example.org>`),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "same domain: both keys sign", keys: []testKey{orgRSA, orgEd}, msg: message("alice@example.org"),
			signed: "d=example.org s=ed, d=example.org s=rsa", domains: []string{"example.org", "example.org"}},
		{name: "no match", keys: []testKey{orgEd}, msg: message("alice@example.com"), signed: "no"},
		{name: "suffix without a dot is no parent", keys: []testKey{orgEd}, msg: message("alice@badexample.org"), signed: "no"},
		{name: "mailboxes of two domains", keys: []testKey{orgEd}, msg: message("a@example.org, b@example.com"), signed: "no"},
		{name: "no address", keys: []testKey{orgEd}, msg: message("undisclosed"), signed: "no"},
		{name: "sign_unmatched", cfg: `{"sign_unmatched": "other"}`, keys: []testKey{orgEd, otherEd},
			msg: message("alice@example.com"), signed: "d=example.net s=x", domains: []string{"example.net"}},
		{name: "sign_unmatched not used on a match", cfg: `{"sign_unmatched": "other"}`, keys: []testKey{orgEd, otherEd},
			msg: message("alice@example.org"), signed: "d=example.org s=ed", domains: []string{"example.org"}},
		{name: "sign_unmatched not granted", cfg: `{"sign_unmatched": "gone"}`, keys: []testKey{orgEd},
			msg: message("alice@example.com"), signed: "no"},
		{name: "no key granted", msg: message("alice@example.org"), signed: "no"},
		{name: "two From fields", keys: []testKey{orgEd}, msg: message("alice@example.org", "eve@example.org"),
			signed: "no", refused: "2 From fields"},
		{name: "no From field", keys: []testKey{orgEd}, msg: message(), signed: "no", refused: "0 From fields"},
		{name: "two From fields, tempfail", cfg: `{"on_refusal": "tempfail"}`, keys: []testKey{orgEd},
			msg: message("alice@example.org", "eve@example.org"), signed: "no", refused: "2 From fields",
			verdict: sluice.VerdictTempfail},
		{name: "refused by the host", keys: []testKey{orgEd},
			msg:    "From: alice@example.org\r\nSubject: x\r\n\r\nbare\rCR\r\n",
			signed: "no", refused: "bare CR"},
		{name: "simple/simple, own header list", keys: []testKey{orgEd},
			cfg:    `{"canonicalization": "simple/simple", "headers": ["from", "Subject"]}`,
			msg:    message("alice@example.org"),
			signed: "d=example.org s=ed", domains: []string{"example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sluicetest.New()
			for _, k := range tt.keys {
				s.SetDKIMKey(k.name, k.domain, k.selector, k.signer)
			}
			cfg := tt.cfg
			if cfg == "" {
				cfg = "{}"
			}
			p := &signer{}
			if err := s.Configure(p, cfg); err != nil {
				t.Fatal(err)
			}
			s.SetEnvelope("alice@example.org", "bob@example.com")
			if err := s.SetMessage([]byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			r := s.Data(p)
			if r.Err != nil || r.Verdict != tt.verdict {
				t.Fatalf("Data = %v, %v; want %v", r.Verdict, r.Err, tt.verdict)
			}
			if tt.verdict == sluice.VerdictTempfail &&
				(r.Reply.Code != 451 || r.Reply.Enhanced != "4.7.0" || !strings.Contains(r.Reply.Text, tt.refused)) {
				t.Errorf("reply = %v", r.Reply)
			}
			tags := s.Tags()
			if tags[tagSigned] != tt.signed {
				t.Errorf("%s = %q, want %q", tagSigned, tags[tagSigned], tt.signed)
			}
			if got, ok := tags[tagRefused]; ok != (tt.refused != "") || !strings.Contains(got, tt.refused) {
				t.Errorf("%s = %q (%v), want %q", tagRefused, got, ok, tt.refused)
			}
			out := s.Message()
			sigs := s.HeaderValues("DKIM-Signature")
			if len(sigs) != len(tt.domains) {
				t.Fatalf("%d signatures, want %d:\n%s", len(sigs), len(tt.domains), out)
			}
			if len(tt.domains) == 0 {
				if string(out) != string(sluicetestMessage(t, tt.msg)) {
					t.Errorf("unsigned message changed:\n%q", out)
				}
				return
			}
			got := verify(t, out, tt.keys)
			if strings.Join(got, " ") != strings.Join(tt.domains, " ") {
				t.Errorf("signed by %q, want %q", got, tt.domains)
			}
		})
	}
}

// sluicetestMessage is raw as the emulated host renders it unchanged.
func sluicetestMessage(t *testing.T, raw string) []byte {
	t.Helper()
	s := sluicetest.New()
	if err := s.SetMessage([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	return s.Message()
}

// tagOf returns the value of tag name in a DKIM-Signature value.
func tagOf(t *testing.T, sig, name string) string {
	t.Helper()
	flat := strings.NewReplacer("\r\n", "", " ", "", "\t", "").Replace(sig)
	m := regexp.MustCompile(`(?:^|;)` + name + `=([^;]*)`).FindStringSubmatch(flat)
	if m == nil {
		t.Fatalf("no %s= in %q", name, sig)
	}
	return m[1]
}

func TestOptionsReachTheSignature(t *testing.T) {
	s := sluicetest.New()
	s.SetDKIMKey("org", "example.org", "ed", edKey)
	p := &signer{}
	if err := s.Configure(p, `{"canonicalization": "relaxed/simple", "headers": ["From", "Subject", "X-Missing"], "expiration": "2h"}`); err != nil {
		t.Fatal(err)
	}
	s.SetEnvelope("alice@example.org", "bob@example.com")
	if err := s.SetMessage([]byte(message("alice@example.org"))); err != nil {
		t.Fatal(err)
	}
	if r := s.Data(p); r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
	}
	sig := s.HeaderValues("DKIM-Signature")
	if len(sig) != 1 {
		t.Fatalf("signatures: %q", sig)
	}
	if c := tagOf(t, sig[0], "c"); c != "relaxed/simple" {
		t.Errorf("c=%s", c)
	}
	if h := strings.ToLower(tagOf(t, sig[0], "h")); h != "from:from:subject" {
		t.Errorf("h=%s", h)
	}
	ts, err1 := strconv.ParseInt(tagOf(t, sig[0], "t"), 10, 64)
	x, err2 := strconv.ParseInt(tagOf(t, sig[0], "x"), 10, 64)
	if err1 != nil || err2 != nil || x-ts != 7200 {
		t.Errorf("t=%d x=%d (%v %v), want x = t+7200", ts, x, err1, err2)
	}
}

func TestNoMatchLogsAtDebug(t *testing.T) {
	s := sluicetest.New()
	s.SetDKIMKey("org", "example.org", "ed", edKey)
	p := &signer{}
	if err := s.Configure(p, `{}`); err != nil {
		t.Fatal(err)
	}
	s.SetEnvelope("alice@example.com", "bob@example.com")
	s.SetMessage([]byte(message("alice@example.com")))
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	logs := s.Logs()
	if len(logs) != 1 || logs[0].Level != sluice.LevelDebug || !strings.Contains(logs[0].Text, "example.com") {
		t.Errorf("logs = %+v", logs)
	}
	if len(s.Effects()) != 1 { // only the tag
		t.Errorf("effects = %q", s.Effects())
	}
}

func TestRefusalLogsAtInfo(t *testing.T) {
	s := sluicetest.New()
	s.SetDKIMKey("org", "example.org", "ed", edKey)
	p := &signer{}
	if err := s.Configure(p, `{}`); err != nil {
		t.Fatal(err)
	}
	s.SetEnvelope("alice@example.org", "bob@example.com")
	s.SetMessage([]byte(message("alice@example.org", "mallory@example.org")))
	if r := s.Data(p); r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatal(r.Verdict, r.Err)
	}
	logs := s.Logs()
	if len(logs) != 1 || logs[0].Level != sluice.LevelInfo || !strings.Contains(logs[0].Text, "2 From fields") {
		t.Errorf("logs = %+v", logs)
	}
}

func TestConfigure(t *testing.T) {
	good := []string{
		`{}`,
		`{"canonicalization": "relaxed/relaxed"}`,
		`{"canonicalization": "relaxed/simple"}`,
		`{"canonicalization": "simple/relaxed"}`,
		`{"canonicalization": "simple/simple"}`,
		`{"canonicalization": "simple"}`,
		`{"headers": ["From", "To", "Subject"]}`,
		`{"expiration": "0s"}`,
		`{"expiration": "7d"}`,
		`{"sign_unmatched": "default", "on_refusal": "tempfail"}`,
		`{"on_refusal": "continue"}`,
	}
	for _, cfg := range good {
		if err := sluicetest.New().Configure(&signer{}, cfg); err != nil {
			t.Errorf("Configure(%s): %v", cfg, err)
		}
	}
	bad := map[string]string{
		`{"canonicalisation": "relaxed"}`:         "unknown key",
		`{"canonicalization": "relaxed/strict"}`:  "canonicalization",
		`{"canonicalization": "Relaxed/Relaxed"}`: "canonicalization",
		`{"headers": []}`:                         "include From",
		`{"headers": ["To", "Subject"]}`:          "include From",
		`{"headers": ["From", "X:Y"]}`:            "0x3a",
		`{"headers": ["From", ""]}`:               "1 to 76",
		`{"headers": ["From", "from"]}`:           "twice",
		`{"expiration": "-1h"}`:                   "negative",
		`{"expiration": "1500ms"}`:                "whole seconds",
		`{"expiration": 60}`:                      "duration",
		`{"sign_unmatched": "a key"}`:             "0x20",
		`{"on_refusal": "reject"}`:                "on_refusal",
		`{"headers": "From"}`:                     "config.headers: \"From\" is not a list",
	}
	for cfg, want := range bad {
		err := sluicetest.New().Configure(&signer{}, cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Configure(%s) = %v, want an error with %q", cfg, err, want)
		}
	}
}

func TestFromDomain(t *testing.T) {
	tests := map[string]string{
		"alice@example.org":                     "example.org",
		"Alice <alice@Example.ORG.>":            "example.org",
		"alice@example.org (Alice)":             "example.org",
		`"a@b" <alice@example.org>`:             "example.org",
		"=?UTF-8?Q?J=C3=B6rg?= <j@example.org>": "example.org",
		"=?x-unknown?Q?abc?= <j@example.org>":   "example.org",
		"a@example.org, b@EXAMPLE.org":          "example.org",
		"a@example.org, b@example.com":          "",
		"group: a@example.org;":                 "example.org",
		"undisclosed-recipients:;":              "",
		"Jane <jane@example.org":                "",
		"(c) Jane (x) <jane(y)@example.org>":    "example.org",
		"":                                      "",
	}
	for in, want := range tests {
		if got := fromDomain(in); got != want {
			t.Errorf("fromDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
