package dkimverify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testMsg = "From: Ann <ann@example.com>\r\nSubject: tags\r\n\r\nLine one.\r\nLine two.\r\n"

// edZone publishes the Ed25519 key of signTags at s._domainkey.example.com.
func edZone(t *testing.T, extra string) (ed25519.PrivateKey, zone) {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	return k, zone{txt: map[string][]string{"s._domainkey.example.com": {extra + record(t, k.Public(), false)}}}
}

func verifyOne(t *testing.T, raw string, z zone) Verification {
	t.Helper()
	vs := Verify(context.Background(), []byte(raw), Options{LookupTXT: z.lookup})
	if len(vs) != 1 {
		t.Fatalf("got %+v, want one result", vs)
	}
	return vs[0]
}

const edTags = "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=s; h=from:subject; "

// TestBodyLength: l= is honoured. A signature whose l= covers the whole
// canonical body passes (go-msgauth refused every l=); one that leaves
// bytes unsigned, or whose l= exceeds the body, or that does not verify
// over its l= bytes, is policy, and the reason tells which.
func TestBodyLength(t *testing.T) {
	k, z := edZone(t, "")
	full := int64(len("Line one.\r\nLine two.\r\n"))
	sign := func(l int64) string {
		return signTags(t, testMsg, edTags+"l="+strconv.FormatInt(l, 10)+"; bh=%BH%; b=", l, k)
	}
	for _, tc := range []struct {
		name, raw, result, reason string
	}{
		{"whole body", sign(full), "pass", ""},
		{"text appended", sign(full) + "Unsigned postscript.\r\n", "policy", "leaves 22 body bytes unsigned"},
		{"part of the body", sign(10), "policy", "leaves 12 body bytes unsigned"},
		{"body shortened", strings.TrimSuffix(sign(full), "Line two.\r\n"), "policy", "exceeds the body"},
		{"signed part changed", strings.Replace(sign(10), "Line one", "Line 1!!", 1), "policy", "body hash did not verify"},
		{"header changed", strings.Replace(sign(full), "Subject: tags", "Subject: gats", 1), "policy", "signature did not verify"},
		{"l= not a number", signTags(t, testMsg, edTags+"l=x; bh=%BH%; b=", -1, k), "policy", "malformed body length"},
	} {
		got := verifyOne(t, tc.raw, z)
		if got.Result != tc.result || !strings.Contains(got.Reason, tc.reason) {
			t.Errorf("%s: got %s (%q), want %s (%q)", tc.name, got.Result, got.Reason, tc.result, tc.reason)
		}
		// go-msgauth refuses every l= as policy: the classes agree
		// except for the whole-body pass.
		if want := goClasses([]byte(tc.raw), z.lookup, 0); tc.result != "pass" && want[0] != "policy" {
			t.Errorf("%s: go-msgauth %v", tc.name, want)
		}
	}
}

// TestIdentifier: i= must be in d= or a subdomain, compared without
// regard to case; a key with t=s wants d= itself.
func TestIdentifier(t *testing.T) {
	k, z := edZone(t, "")
	_, strict := edZone(t, "t=s; ")
	for _, tc := range []struct {
		i      string
		z      zone
		result string
	}{
		{"@example.com", z, "pass"},
		{"ann@example.com", z, "pass"},
		{"ann@mail.example.com", z, "pass"},
		{"ann@EXAMPLE.Com", z, "pass"}, // go-msgauth: permerror
		{"ann@example.org", z, "permerror"},
		{"ann@badexample.com", z, "permerror"},
		{"ann@example.com", strict, "pass"},
		{"ann@mail.example.com", strict, "permerror"},
	} {
		raw := signTags(t, testMsg, edTags+"i="+tc.i+"; bh=%BH%; b=", -1, k)
		if got := verifyOne(t, raw, tc.z); got.Result != tc.result || got.Identifier != tc.i {
			t.Errorf("i=%s: got %+v, want %s", tc.i, got, tc.result)
		}
	}
}

// TestTimes: t= and x= are numbers; a signature past x= is permerror.
func TestTimes(t *testing.T) {
	k, z := edZone(t, "")
	for tags, want := range map[string]string{
		"t=1000; x=" + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + "; ": "pass",
		"x=1000; ":  "permerror",
		"t=soon; ":  "permerror",
		"x=never; ": "permerror",
	} {
		raw := signTags(t, testMsg, edTags+tags+"bh=%BH%; b=", -1, k)
		if got := verifyOne(t, raw, z); got.Result != want {
			t.Errorf("%s: got %+v, want %s", tags, got, want)
		}
	}
	raw := signTags(t, testMsg, edTags+"x=2000; bh=%BH%; b=", -1, k)
	vs := Verify(context.Background(), []byte(raw), Options{LookupTXT: z.lookup, Now: time.Unix(1999, 0)})
	if vs[0].Result != "pass" {
		t.Errorf("before x=: %+v", vs[0])
	}
}

// TestKeyRecordSpaces: FWS may appear anywhere in p= (RFC 6376 §3.6.1);
// go-msgauth removed only spaces.
func TestKeyRecordSpaces(t *testing.T) {
	k, z := edZone(t, "")
	rec := z.txt["s._domainkey.example.com"][0]
	i := strings.Index(rec, "p=") + 10
	z.txt["s._domainkey.example.com"][0] = rec[:i] + " \t " + rec[i:]
	if got := verifyOne(t, signTags(t, testMsg, edTags+"bh=%BH%; b=", -1, k), z); got.Result != "pass" {
		t.Fatalf("got %+v", got)
	}
}

// TestBareCRBody: a bare CR is an ordinary byte of a line (RFC 6376
// §3.4.4 relaxes lines ending in CRLF): WSP before it stays, and a body
// ending in one ends with that line. This is the one reading where
// Verify and go-msgauth differ (knownDivergence).
func TestBareCRBody(t *testing.T) {
	k, z := edZone(t, "")
	for _, body := range []string{"a \rb\r\n", "a\t\r\r\n", "end\r", "x\r\n\r"} {
		msg := strings.SplitAfter(testMsg, "\r\n\r\n")[0] + body
		raw := signTags(t, msg, edTags+"bh=%BH%; b=", -1, k)
		if got := verifyOne(t, raw, z); got.Result != "pass" {
			t.Errorf("%q: %+v", body, got)
		}
	}
}

// TestBareLF: a bare LF ends a line, in the header and in the body, as
// go-msgauth and a mail store read it.
func TestBareLF(t *testing.T) {
	k, z := edZone(t, "")
	raw := signTags(t, testMsg, edTags+"bh=%BH%; b=", -1, k)
	lf := strings.ReplaceAll(raw, "\r\n", "\n")
	if got := verifyOne(t, lf, z); got.Result != "pass" {
		t.Fatalf("LF line ends: %+v", got)
	}
}

// TestOneHashPerBodyForm: signatures sharing a body form hash the body
// once.
func TestOneHashPerBodyForm(t *testing.T) {
	k, z := edZone(t, "")
	raw := signTags(t, testMsg, edTags+"bh=%BH%; b=", -1, k)
	raw = signTags(t, raw, edTags+"bh=%BH%; b=", -1, k)
	raw = signTags(t, raw, strings.Replace(edTags, "c=relaxed/relaxed", "c=relaxed", 1)+"bh=%BH%; b=", -1, k)
	h := splitHeader([]byte(raw))
	v := &verifier{ctx: context.Background(), h: h, o: Options{LookupTXT: z.lookup, Now: time.Now()}}
	results := map[string]int{}
	for _, f := range h.fields[:3] {
		vd := v.verify(f, parseTags(fieldValue(f)))
		r := "pass"
		if vd != nil {
			r = vd.result
		}
		results[r]++
	}
	// The third says c=relaxed: relaxed header, simple body (the same
	// bytes for this body), a second body form.
	if results["pass"] != 3 || len(v.hashes) != 2 {
		t.Fatalf("results %v, %d body hashes", results, len(v.hashes))
	}
}

// TestMaxAndOrder: results in header order, at most Max.
func TestMaxAndOrder(t *testing.T) {
	k, z := edZone(t, "")
	raw := signTags(t, testMsg, edTags+"bh=%BH%; b=", -1, k)
	raw = signTags(t, raw, strings.Replace(edTags, "d=example.com; s=s", "d=example.com; s=none", 1)+"bh=%BH%; b=", -1, k)
	vs := Verify(context.Background(), []byte(raw), Options{LookupTXT: z.lookup})
	if len(vs) != 2 || vs[0].Selector != "none" || vs[0].Result != "permerror" || vs[1].Result != "pass" {
		t.Fatalf("got %+v", vs)
	}
	if vs := Verify(context.Background(), []byte(raw), Options{LookupTXT: z.lookup, Max: 1}); len(vs) != 1 || vs[0].Selector != "none" {
		t.Fatalf("Max 1: %+v", vs)
	}
	if vs := Verify(context.Background(), []byte(testMsg), Options{LookupTXT: z.lookup}); vs != nil {
		t.Fatalf("unsigned: %+v", vs)
	}
}

// TestStopsWhenContextEnds: an ended context stops the body hash, and
// every signature is temperror, including one verified before.
func TestStopsWhenContextEnds(t *testing.T) {
	k, z := edZone(t, "")
	msg := testMsg + strings.Repeat("more text\r\n", 1<<16)
	raw := signTags(t, msg, edTags+"bh=%BH%; b=", -1, k)
	raw = signTags(t, raw, strings.Replace(edTags, "c=relaxed/relaxed", "c=relaxed/simple", 1)+"bh=%BH%; b=", -1, k)
	// The context ends at the first lookup (nothing verified yet), or at
	// the second (after the first signature passed).
	for _, at := range []int{1, 2} {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		lookup := func(name string) ([]string, error) {
			if n++; n == at {
				cancel()
			}
			return z.lookup(name)
		}
		vs := Verify(ctx, []byte(raw), Options{LookupTXT: lookup})
		if len(vs) != 2 {
			t.Fatalf("got %+v", vs)
		}
		for _, v := range vs {
			if v.Result != "temperror" || v.Reason != reasonDeadline || v.Domain != "example.com" || v.Selector != "s" {
				t.Errorf("ends at lookup %d: got %+v", at, v)
			}
		}
	}
}

// TestHeaderWithoutEnd: without the empty line the header cannot be read.
func TestHeaderWithoutEnd(t *testing.T) {
	raw := "DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AA; b=AA\r\nFrom: a@x.example\r\n\r"
	vs := Verify(context.Background(), []byte(raw), Options{})
	if len(vs) != 1 || vs[0].Result != "permerror" || vs[0].Reason != reasonNoHeaderEnd || vs[0].Domain != "x.example" {
		t.Fatalf("got %+v", vs)
	}
}

// TestSignatureFields: fields are split as go-msgauth splits them (a
// first line starting with WSP is a field, LF ends a line, the body's
// fields are not read), and a signature's identifying tags are read
// leniently: whitespace removed, the first of a repeated tag.
func TestSignatureFields(t *testing.T) {
	raw := []byte(" continuation first\r\n" +
		"dkim-signature : d=a.example; s=one;\r\n b = AAAA BBBB\r\n\tCCCC DDDD; i=@a.example; d=dup.example\n" +
		"X: y\r\n" +
		"DKIM-Signature:d=b.example\r\n" +
		"\r\n" +
		"DKIM-Signature: d=body.example\r\n")
	vs := Verify(context.Background(), raw, Options{})
	want := []Verification{
		{Domain: "a.example", Selector: "one", Signature: "AAAABBBBCCCCDDDD", Identifier: "@a.example",
			Result: "permerror", Reason: "malformed signature tags: duplicate tag d"},
		{Domain: "b.example", Result: "permerror", Reason: "incompatible signature version"},
	}
	if len(vs) != len(want) {
		t.Fatalf("got %+v, want %+v", vs, want)
	}
	for i := range want {
		if vs[i] != want[i] {
			t.Errorf("field %d: got %+v, want %+v", i, vs[i], want[i])
		}
	}
	h := splitHeader(raw)
	if len(h.fields) != 4 || string(h.fields[1]) != "dkim-signature : d=a.example; s=one;\r\n b = AAAA BBBB\r\n\tCCCC DDDD; i=@a.example; d=dup.example\r\n" ||
		string(h.body) != "DKIM-Signature: d=body.example\r\n" {
		t.Errorf("split: %q, body %q", h.fields, h.body)
	}
}
