package dkimsign

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/message"
)

var canonicalizations = []string{"", "relaxed", "simple", "relaxed/relaxed", "relaxed/simple", "simple/simple", "simple/relaxed"}

func TestSignVerifiesWithGoMsgauth(t *testing.T) {
	keys := []string{"ed25519-pkcs8.pem", "rsa2048-pkcs8.pem", "rsa2048-pkcs1.pem", "rsa1024-pkcs1.pem"}
	msgs := map[string]string{
		"plain":                     plainMsg,
		"tricky":                    trickyMsg,
		"empty body":                "From: a@example.com\r\n\r\n",
		"no separator":              "From: a@example.com\r\nSubject: x\r\nthis line has no colon so the body starts\r\nmore\r\n",
		"body without final CRLF":   "From: a@example.com\r\n\r\nlast line",
		"header only, unterminated": "Subject: s\r\nFrom: a@example.com",
		"whitespace-only body":      "From: a@example.com\r\n\r\n  \r\n\t\r\n",
	}
	for _, kf := range keys {
		k := testKey(t, kf)
		for name, raw := range msgs {
			for _, c := range canonicalizations {
				signed := signMessage(t, raw, k, Options{Canonicalization: c})
				if err := verifyGo(t, signed, k); err != nil {
					t.Errorf("%s, %s, c=%q: %v\n%s", kf, name, c, err, signed)
				}
			}
		}
	}
}

func TestSignFieldShape(t *testing.T) {
	k := testKey(t, "rsa2048-pkcs8.pem")
	m, err := message.Parse([]byte(trickyMsg), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	f, err := Sign(m, k, Options{Now: now, Expiration: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "DKIM-Signature" || !bytes.HasPrefix(f.Raw, []byte("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;")) {
		t.Errorf("field starts %q", f.Raw[:min(len(f.Raw), 90)])
	}
	if !bytes.HasSuffix(f.Raw, []byte("\r\n")) {
		t.Error("field does not end in CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(string(f.Raw), "\r\n"), "\r\n")
	for i, l := range lines {
		if len(l) > 78 {
			t.Errorf("line %d is %d bytes: %q", i, len(l), l)
		}
		if i > 0 && l[0] != '\t' && l[0] != ' ' {
			t.Errorf("line %d is not a continuation: %q", i, l)
		}
	}
	want := map[string]string{
		"v": "1",
		"a": "rsa-sha256",
		"c": "relaxed/relaxed",
		"d": "example.com",
		"s": "sel",
		"t": "1700000000",
		"x": strconv.Itoa(1700000000 + 90*60),
		// From oversigned; names absent from the message (Reply-To, Cc,
		// Message-ID, ...) and not in DefaultHeaders (Received) left
		// out; in DefaultHeaders order.
		"h": "from:from:subject:to:mime-version:content-type:content-transfer-encoding",
	}
	for tag, v := range want {
		got, ok := tagValue(t, f.Raw, tag)
		if !ok || got != v {
			t.Errorf("%s= is %q (present %v), want %q", tag, got, ok, v)
		}
	}
	if _, ok := tagValue(t, f.Raw, "b"); !ok {
		t.Error("no b= tag")
	}
	// The field is valid as a message field.
	if err := message.ValidValue([]byte(f.Name), f.Value()); err != nil {
		t.Errorf("ValidValue: %v", err)
	}
}

func TestSignHeaderList(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	raw := "Received: one\r\nReceived: two\r\nfrom: a@example.com\r\nX-A: 1\r\n\r\nbody\r\n"
	cases := []struct {
		headers []string
		h       string
	}{
		{[]string{"From"}, "from:from"},
		{[]string{"Received", "FROM", "x-a", "X-Missing"}, "received:received:from:from:x-a"},
		{[]string{"From", "from", "Received", "RECEIVED"}, "from:from:received:received"}, // duplicates in the list collapse
	}
	for _, c := range cases {
		m, err := message.Parse([]byte(raw), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := Sign(m, k, Options{Headers: c.headers})
		if err != nil {
			t.Fatalf("%v: %v", c.headers, err)
		}
		if got, _ := tagValue(t, f.Raw, "h"); got != c.h {
			t.Errorf("%v: h=%s, want %s", c.headers, got, c.h)
		}
		m.Insert(0, f)
		if err := verifyGo(t, m.Bytes(), k); err != nil {
			t.Errorf("%v: %v", c.headers, err)
		}
	}
}

func TestSignTimes(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	m, _ := message.Parse([]byte(plainMsg), message.Limits{})
	before := time.Now().Unix()
	f, err := Sign(m, k, Options{Expiration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	ts, _ := tagValue(t, f.Raw, "t")
	xs, _ := tagValue(t, f.Raw, "x")
	tv, _ := strconv.ParseInt(ts, 10, 64)
	xv, _ := strconv.ParseInt(xs, 10, 64)
	if tv < before || tv > after {
		t.Errorf("t=%d not within [%d, %d]", tv, before, after)
	}
	if xv != tv+2 { // rounded up: x= must be after t=
		t.Errorf("x=%d, want t+2=%d", xv, tv+2)
	}
	f, err = Sign(m, k, Options{Now: time.Unix(5, 0), Expiration: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tagValue(t, f.Raw, "x"); ok {
		t.Error("x= present for a negative Expiration")
	}
	if _, err := Sign(m, k, Options{Now: time.Unix(-1, 0)}); err == nil || isRefusal(err) {
		t.Errorf("time before 1970: %v, want an internal error", err)
	}
}

func isRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

func TestSignRefusals(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	cases := []struct {
		name   string
		raw    string
		opts   Options
		reason string
	}{
		{"no From", "To: b@example.net\r\n\r\nbody\r\n", Options{}, "message has 0 From fields; DKIM signing needs exactly one"},
		{"two From", "From: a@example.com\r\nfrom: c@example.com\r\n\r\nbody\r\n", Options{}, "message has 2 From fields; DKIM signing needs exactly one"},
		{"no header at all", "just a body line\r\n", Options{}, "message has 0 From fields; DKIM signing needs exactly one"},
		{"list without From", plainMsg, Options{Headers: []string{"Subject", "To"}}, "the header name list must include From"},
		{"empty list", plainMsg, Options{Headers: []string{}}, "the header name list must include From"},
		{"bad name", plainMsg, Options{Headers: []string{"From", "Bad Name"}}, "header name 2 in the list is not a signable field name"},
		{"semicolon name", plainMsg, Options{Headers: []string{"From", "a;b"}}, "header name 2 in the list is not a signable field name"},
		{"equals name", plainMsg, Options{Headers: []string{"X-b=c", "From"}}, "header name 1 in the list is not a signable field name"},
		{"canonicalization", plainMsg, Options{Canonicalization: "nofws"}, "canonicalization must be relaxed/relaxed, relaxed/simple, simple/simple or simple/relaxed"},
		{"bare LF in field", "From: a@example.com\nX: y\r\n\r\nbody\r\n", Options{}, "header field 1 is malformed (bare CR or LF, or not one field)"},
		{"bare CR in field", "Subject: a\rb\r\nFrom: a@example.com\r\n\r\nbody\r\n", Options{}, "header field 1 is malformed (bare CR or LF, or not one field)"},
		{"bare LF in body", "From: a@example.com\r\n\r\na\nb\r\n", Options{}, "message body contains a bare CR or LF"},
		{"bare CR in body", "From: a@example.com\r\n\r\na\rb\r\n", Options{}, "message body contains a bare CR or LF"},
		{"CR ending body", "From: a@example.com\r\n\r\nab\r", Options{}, "message body contains a bare CR or LF"},
	}
	for _, c := range cases {
		m, err := message.Parse([]byte(c.raw), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Sign(m, k, c.opts)
		var r *Refusal
		if !errors.As(err, &r) {
			t.Errorf("%s: error %v, want a *Refusal", c.name, err)
			continue
		}
		if r.Reason != c.reason {
			t.Errorf("%s: reason %q, want %q", c.name, r.Reason, c.reason)
		}
		if !strings.Contains(r.Error(), r.Reason) {
			t.Errorf("%s: Error() %q lacks the reason", c.name, r.Error())
		}
	}
}

func TestSignRefusesMalformedFields(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	bad := []message.Field{
		{Name: "X", Raw: []byte("no colon here\r\n")},
		{Name: "X", Raw: []byte("Y: name mismatch\r\n")},
		{Name: "X", Raw: []byte("X: a\r\nSmuggled: b\r\n")}, // would be two fields
		{Name: "X", Raw: []byte("X: a\r\n\r\n")},            // would end the header
		{Name: "X", Raw: []byte(" X: leading space\r\n")},
		{Name: "X", Raw: []byte("X: ends in CR\r")},
	}
	for _, f := range bad {
		m, _ := message.Parse([]byte(plainMsg), message.Limits{})
		m.Insert(1, f)
		if _, err := Sign(m, k, Options{}); !isRefusal(err) {
			t.Errorf("field %q: error %v, want a *Refusal", f.Raw, err)
		}
	}
	// A field without final CRLF is rendered with one: not a refusal.
	m, _ := message.Parse([]byte(plainMsg), message.Limits{})
	m.Insert(1, message.Field{Name: "X-Ok", Raw: []byte("X-Ok:  fine\r\n\tfolded")})
	f, err := Sign(m, k, Options{Headers: []string{"From", "X-Ok"}})
	if err != nil {
		t.Fatal(err)
	}
	m.Insert(0, f)
	if err := verifyGo(t, m.Bytes(), k); err != nil {
		t.Error(err)
	}
}

func TestSignKeyErrors(t *testing.T) {
	m, _ := message.Parse([]byte(plainMsg), message.Limits{})
	good := testKey(t, "ed25519-pkcs8.pem")
	rsaKey := testKey(t, "rsa2048-pkcs8.pem")
	cases := map[string]*Key{
		"nil key":      nil,
		"nil signer":   {Domain: "example.com", Selector: "sel"},
		"wrong alg":    {Domain: "example.com", Selector: "sel", Signer: good.Signer, Algorithm: AlgorithmRSA},
		"bad domain":   {Domain: "example..com", Selector: "sel", Signer: good.Signer},
		"bad selector": {Domain: "example.com", Selector: "-sel", Signer: rsaKey.Signer},
	}
	for name, k := range cases {
		_, err := Sign(m, k, Options{})
		if err == nil || isRefusal(err) {
			t.Errorf("%s: %v, want an internal error", name, err)
		}
	}
	if _, err := Sign(nil, good, Options{}); err == nil {
		t.Error("nil message signed")
	}
	// An empty Algorithm is derived from the key.
	k := &Key{Domain: "example.com", Selector: "sel", Signer: rsaKey.Signer}
	f, err := Sign(m, k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := tagValue(t, f.Raw, "a"); a != AlgorithmRSA {
		t.Errorf("a=%s", a)
	}
}

func TestSignTamperingBreaksVerification(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	for _, c := range []string{"relaxed/relaxed", "simple/simple"} {
		signed := string(signMessage(t, trickyMsg, k, Options{Canonicalization: c}))
		if err := verifyGo(t, []byte(signed), k); err != nil {
			t.Fatalf("%s: untouched message: %v", c, err)
		}
		tampered := map[string]string{
			"body":          strings.Replace(signed, "leading space", "leading spade", 1),
			"subject":       strings.Replace(signed, "Subject: Gr", "Subject: Hr", 1),
			"from":          strings.Replace(signed, "joerg@", "jorg@", 1),
			"body appended": signed + "P.S. extra\r\n",
		}
		for name, m := range tampered {
			if m == signed {
				t.Fatalf("%s: tampering did not change the message", name)
			}
			if err := verifyGo(t, []byte(m), k); err == nil {
				t.Errorf("%s: %s-tampered message verifies", c, name)
			}
		}
	}
	// Relaxed canonicalization tolerates whitespace changes, simple does not.
	for c, wantOK := range map[string]bool{"relaxed/relaxed": true, "simple/simple": false} {
		signed := string(signMessage(t, trickyMsg, k, Options{Canonicalization: c}))
		m := strings.Replace(signed, "Subject: Gr", "Subject:    Gr", 1)
		m = strings.Replace(m, "welt  \r\n", "welt\r\n", 1)
		if err := verifyGo(t, []byte(m), k); (err == nil) != wantOK {
			t.Errorf("%s: whitespace change verifies=%v, want %v (%v)", c, err == nil, wantOK, err)
		}
	}
}

// TestSignFieldsAddedLater: a field added after signing breaks the
// signature only when its name is signed and the verifier would select the
// new instance; From is oversigned, so any added From breaks it.
func TestSignFieldsAddedLater(t *testing.T) {
	k := testKey(t, "rsa2048-pkcs1.pem")
	cases := []struct {
		name   string
		field  string
		bottom bool // append at the bottom of the header instead of after the signature
		breaks bool
	}{
		{"unsigned name", "X-Added: 1\r\n", true, false},
		{"unsigned name at top", "X-Added: 1\r\n", false, false},
		{"name absent when signed (To is not oversigned)", "Cc: eve@example.org\r\n", true, false},
		{"second From at bottom", "From: eve@example.org\r\n", true, true},
		{"second From at top", "From: eve@example.org\r\n", false, true},
		{"second Subject at bottom", "Subject: spam\r\n", true, true},
	}
	for _, c := range cases {
		m, err := message.Parse([]byte(plainMsg), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := Sign(m, k, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m.Insert(0, f)
		if err := verifyGo(t, m.Bytes(), k); err != nil {
			t.Fatalf("%s: before adding: %v", c.name, err)
		}
		add, err := message.Parse([]byte(c.field+"\r\n"), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		at := 1
		if c.bottom {
			at = len(m.Fields)
		}
		m.Insert(at, add.Fields[0])
		err = verifyGo(t, m.Bytes(), k)
		if (err != nil) != c.breaks {
			t.Errorf("%s: verification error %v, want breaks=%v", c.name, err, c.breaks)
		}
	}
}

func TestSignDoesNotChangeMessage(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	m, _ := message.Parse([]byte(trickyMsg), message.Limits{})
	if _, err := Sign(m, k, Options{}); err != nil {
		t.Fatal(err)
	}
	if m.Changed() || !bytes.Equal(m.Bytes(), []byte(trickyMsg)) {
		t.Error("Sign modified the message")
	}
	if DefaultHeaders[0] != "From" || len(DefaultHeaders) != 24 {
		t.Errorf("DefaultHeaders changed: %v", DefaultHeaders)
	}
}

// TestDefaultNamesFollowDefaultHeaders: the default list is checked and
// lowered once, and a change to DefaultHeaders still takes effect.
func TestDefaultNamesFollowDefaultHeaders(t *testing.T) {
	got, err := signedNames(nil)
	want, _ := checkNames(DefaultHeaders)
	if err != nil || !slices.Equal(got, want) || got[0] != "from" {
		t.Fatalf("signedNames(nil) = %v, %v; want %v", got, err, want)
	}
	saved := DefaultHeaders
	defer func() { DefaultHeaders = saved }()
	DefaultHeaders = []string{"From", "X-Extra"}
	if got, err := signedNames(nil); err != nil || !slices.Equal(got, []string{"from", "x-extra"}) {
		t.Errorf("after a change: %v, %v", got, err)
	}
	DefaultHeaders = []string{"To"}
	if _, err := signedNames(nil); err == nil {
		t.Error("a default list without From was accepted")
	}
}
