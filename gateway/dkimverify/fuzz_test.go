package dkimverify

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzTags: parseTags never panics; each tag's span lies in the input,
// its value is the span trimmed, its name holds no ";" or "="; a list
// without error names each tag once.
func FuzzTags(f *testing.F) {
	for _, s := range []string{
		"v=1; a=rsa-sha256; d=example.com; s=s; h=from:to; bh=AA==; b=AB\r\n CD",
		"v=DKIM1; k=ed25519; p=", " ; ;", "a", "=", "a==b;;c= d ;", "b=\r\n\t", "x=1; x=2",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		l := parseTags(s)
		names := map[string]bool{}
		for _, tg := range l.tags {
			if tg.start < 0 || tg.start > tg.end || tg.end > len(s) || s[tg.start-1] != '=' {
				t.Fatalf("span %d:%d of %q", tg.start, tg.end, s)
			}
			if tg.value != string(bytes.TrimFunc(s[tg.start:tg.end], isSpace)) {
				t.Fatalf("value %q, span %q", tg.value, s[tg.start:tg.end])
			}
			if strings.ContainsAny(tg.name, ";=") || bytes.Contains(s[tg.start:tg.end], []byte(";")) {
				t.Fatalf("tag %+v of %q", tg, s)
			}
			if names[tg.name] && l.err == nil {
				t.Fatalf("tag %q twice without an error", tg.name)
			}
			names[tg.name] = true
		}
	})
}

// FuzzKeyRecord: for any key record, the two verifiers give the same
// class to a signed message (rsa and ed25519 signatures), except where
// Verify reads FWS and only ASCII whitespace as RFC 6376 says
// (keyDivergence); parseKey never panics.
func FuzzKeyRecord(f *testing.F) {
	z := zone{txt: map[string][]string{}, servfail: map[string]bool{}}
	corpus := signedCorpus(f, z)
	for _, recs := range z.txt {
		f.Add(recs[0], byte(0))
		f.Add(recs[0]+"; t=y:s; h=sha256; s=email", byte(1))
	}
	f.Add(rsa512Record(f), byte(2))
	f.Add("v=DKIM1; p=", byte(3))
	f.Add("k=ed25519; p=AAAA; n=note", byte(4))
	msgs := []signedCase{corpus[0], corpus[4], corpus[8]} // ed25519, rsa 2048, rsa 1024
	f.Fuzz(func(t *testing.T, rec string, which byte) {
		sc := msgs[int(which)%len(msgs)]
		lookup := func(string) ([]string, error) { return []string{rec}, nil }
		got, vs := ourClasses([]byte(sc.raw), lookup, 5)
		if keyDivergence(rec) {
			return
		}
		if want := goClasses([]byte(sc.raw), lookup, 5); !slices.Equal(got, want) {
			t.Fatalf("record %q: got %v (%+v), go-msgauth %v", rec, got, vs, want)
		}
	})
}

// keyDivergence: whitespace other than SP inside p= (FWS, which Verify
// removes and go-msgauth does not), or bytes outside ASCII (go-msgauth
// also trims Unicode spaces around values).
func keyDivergence(rec string) bool {
	return strings.ContainsAny(rec, "\t\r\n\v\f") || strings.IndexFunc(rec, func(r rune) bool { return r >= 0x80 }) >= 0
}

// FuzzVerify: for any message bytes (seeded with the signed corpus), the
// two verifiers give the same classes, except for a bare CR in the body
// (knownDivergence) and bytes outside ASCII in the signature fields
// (go-msgauth trims Unicode spaces around tag values).
func FuzzVerify(f *testing.F) {
	z := zone{txt: map[string][]string{}, servfail: map[string]bool{}}
	for i, sc := range signedCorpus(f, z) {
		if i%3 == 0 {
			f.Add([]byte(sc.raw))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, vs := ourClasses(raw, z.lookup, 5)
		if knownDivergence(raw) || sigsNonASCII(raw) {
			return
		}
		if want := goClasses(raw, z.lookup, 5); !slices.Equal(got, want) {
			t.Fatalf("%q: got %v (%+v), go-msgauth %v", raw, got, vs, want)
		}
	})
}

// sigsNonASCII reports a byte outside ASCII in a DKIM-Signature field.
func sigsNonASCII(raw []byte) bool {
	for _, f := range splitHeader(raw).fields {
		if bytes.EqualFold(fieldName(f), []byte("DKIM-Signature")) && bytes.IndexFunc(f, func(r rune) bool { return r >= 0x80 }) >= 0 {
			return true
		}
	}
	return false
}
