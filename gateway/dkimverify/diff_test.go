package dkimverify

import (
	"bytes"
	"crypto/ed25519"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
)

// corpusMessages: plain text; folded, repeated and 8-bit fields with WSP
// runs and a body with WSP at line ends and blank lines at the end; an
// empty body; a body of only blank lines; a large body of text and base64.
func corpusMessages() []string {
	large := strings.Repeat("Some text  with\ttabs and a space at the end \r\n", 400) +
		strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n", 400)
	return []string{
		"From: Ann <ann@example.com>\r\nTo: ben@example.net\r\nSubject: lunch\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n" +
			"Message-ID: <a1@example.com>\r\n\r\nLunch at one?\r\n",
		"Received: by mx.example.com;\r\n\tTue, 2 Jan 2024 10:00:00 +0000\r\nReceived: by relay.example.com; Tue, 2 Jan 2024 10:00:01 +0000\r\n" +
			"From:  =?utf-8?q?Z=C3=B6e?=  <zoe@example.com> \r\nTo: ben@example.net,\r\n  cy@example.net\r\n" +
			"Subject: Sch\xc3\xb6ne\t  Gr\xc3\xbc\xc3\x9fe \r\nCc: \r\nContent-Type: text/plain;\r\n\tcharset=utf-8\r\n\r\n" +
			"  indented  line \t\r\nword\tword  \r\n\r\n\xe9t\xe9 \r\n \r\n\t\r\n\r\n",
		"From: ann@example.com\r\nSubject: empty\r\n\r\n",
		"From: ann@example.com\r\nSubject: blank\r\n\r\n\r\n\r\n \r\n",
		"From: ann@example.com\r\nTo: ben@example.net\r\nSubject: large\r\n\r\n" + large,
	}
}

// signedCase is one signed message and the zone that publishes its key.
type signedCase struct {
	name    string
	raw     string
	keyName string // the key record's name
	simpleH bool   // simple header canonicalization
	simpleB bool   // simple body canonicalization
}

// signers signs msg with gateway/dkimsign in every canonicalization with
// each key, and with go-msgauth in every canonicalization.
func signedCorpus(t testing.TB, z zone) []signedCase {
	ed := loadKey(t, "ed25519-pkcs8.pem", "ed")
	rsa2k := loadKey(t, "rsa2048-pkcs1.pem", "rsa")
	rsa1k := loadKey(t, "rsa1024-pkcs1.pem", "rsa1k")
	for _, k := range []*dkimsign.Key{ed, rsa2k, rsa1k} {
		z.txt[k.Selector+"._domainkey.example.com"] = []string{record(t, k.Signer.Public(), false)}
	}
	var out []signedCase
	for mi, msg := range corpusMessages() {
		for _, k := range []*dkimsign.Key{ed, rsa2k, rsa1k} {
			for _, c := range []string{"relaxed/relaxed", "relaxed/simple", "simple/simple", "simple/relaxed"} {
				out = append(out, signedCase{
					name:    "dkimsign/" + k.Selector + "/" + c + "/" + string(rune('a'+mi)),
					raw:     signSluice(t, msg, k, dkimsign.Options{Canonicalization: c, Now: time.Now()}),
					keyName: k.Selector + "._domainkey.example.com",
					simpleH: strings.HasPrefix(c, "simple/"), simpleB: strings.HasSuffix(c, "/simple"),
				})
			}
		}
		for _, k := range []*dkimsign.Key{ed, rsa2k} {
			for _, hc := range []dkim.Canonicalization{dkim.CanonicalizationSimple, dkim.CanonicalizationRelaxed} {
				for _, bc := range []dkim.Canonicalization{dkim.CanonicalizationSimple, dkim.CanonicalizationRelaxed} {
					out = append(out, signedCase{
						name: "go-msgauth/" + k.Selector + "/" + string(hc) + "/" + string(bc) + "/" + string(rune('a'+mi)),
						raw: signGo(t, msg, &dkim.SignOptions{Domain: "example.com", Selector: k.Selector, Signer: k.Signer,
							HeaderCanonicalization: hc, BodyCanonicalization: bc}),
						keyName: k.Selector + "._domainkey.example.com",
						simpleH: hc == dkim.CanonicalizationSimple, simpleB: bc == dkim.CanonicalizationSimple,
					})
				}
			}
		}
	}
	return out
}

// variant is a change to a signed message or to its key.
type variant struct {
	name string
	msg  func(raw string) string
	zone func(z zone, keyName string)
}

func replaceOnce(old, new string) func(string) string {
	return func(raw string) string { return strings.Replace(raw, old, new, 1) }
}

func setKey(recs ...string) func(zone, string) {
	return func(z zone, name string) { z.txt[name] = recs }
}

// editKey changes the published record of the key.
func editKey(f func(rec string) string) func(zone, string) {
	return func(z zone, name string) { z.txt[name] = []string{f(z.txt[name][0])} }
}

// bodyOf returns where the body of raw begins.
func bodyOf(raw string) int { return strings.Index(raw, "\r\n\r\n") + 4 }

func variants(t *testing.T) []variant {
	other := record(t, ed25519.NewKeyFromSeed(make([]byte, 32)).Public(), false)
	return []variant{
		{name: "as signed"},
		{name: "body changed", msg: func(r string) string { i := bodyOf(r); return r[:i] + "X" + r[i:] }},
		{name: "body appended", msg: func(r string) string { return r + "P.S. appended\r\n" }},
		{name: "blank lines appended", msg: func(r string) string { return r + "\r\n\r\n" }},
		{name: "WSP at a line end", msg: func(r string) string {
			i := bodyOf(r)
			j := strings.Index(r[i:], "\r\n")
			return r[:i+j] + " " + r[i+j:]
		}},
		{name: "body LF line ends", msg: func(r string) string { i := bodyOf(r); return r[:i] + strings.ReplaceAll(r[i:], "\r\n", "\n") }},
		{name: "header LF line ends", msg: func(r string) string { i := bodyOf(r); return strings.ReplaceAll(r[:i], "\r\n", "\n") + r[i:] }},
		{name: "signed field changed", msg: replaceOnce("Subject: ", "Subject: Re: ")},
		{name: "signed field respaced", msg: replaceOnce("Subject: ", "Subject:   ")},
		{name: "signed field name case", msg: replaceOnce("Subject:", "SUBJECT:")},
		{name: "unsigned field added", msg: func(r string) string { return "X-Extra: added\r\n" + r }},
		{name: "second From added", msg: func(r string) string { return "From: mallory@example.org\r\n" + r }},
		{name: "From dropped", msg: replaceOnce("\r\nFrom:", "\r\nX-Was-From:")},
		{name: "rsa-sha1", msg: func(r string) string {
			return strings.Replace(strings.Replace(r, "a=rsa-sha256", "a=rsa-sha1", 1), "a=ed25519-sha256", "a=rsa-sha1", 1)
		}},
		{name: "unknown canonicalization", msg: replaceOnce("c=", "c=nofws/")},
		{name: "version 2", msg: replaceOnce("v=1", "v=2")},
		{name: "duplicate tag", msg: replaceOnce("v=1;", "v=1; v=1;")},
		{name: "bh missing", msg: replaceOnce("bh=", "bx=")},
		{name: "bh not base64", msg: replaceOnce("bh=", "bh=!")},
		{name: "b not base64", msg: replaceOnce(" b=", " b=*")},
		{name: "query method unknown", msg: replaceOnce("v=1;", "v=1; q=http/well-known;")},
		{name: "query method listed", msg: replaceOnce("v=1;", "v=1; q=dns/txt;")},
		{name: "not a tag list", msg: replaceOnce("v=1;", "v=1; garbage;")},
		{name: "key SERVFAIL", zone: func(z zone, n string) { z.servfail[n] = true }},
		{name: "no key", zone: setKey()},
		{name: "key revoked", zone: editKey(func(r string) string { return r[:strings.Index(r, "p=")+2] })},
		{name: "two key records", zone: func(z zone, n string) { z.txt[n] = append(z.txt[n], z.txt[n][0]) }},
		{name: "key not base64", zone: editKey(func(r string) string { return r + "!" })},
		{name: "key truncated", zone: editKey(func(r string) string { return r[:len(r)-8] })},
		{name: "key of another signer", zone: setKey(other)},
		{name: "key version 2", zone: editKey(func(r string) string { return strings.Replace(r, "DKIM1", "DKIM2", 1) })},
		{name: "key algorithm unknown", zone: editKey(func(r string) string {
			return strings.Replace(strings.Replace(r, "k=rsa", "k=dsa", 1), "k=ed25519", "k=dsa", 1)
		})},
		{name: "key sha1 only", zone: editKey(func(r string) string { return r + "; h=sha1" })},
		{name: "key sha256 listed", zone: editKey(func(r string) string { return "h=sha1:sha256; " + r })},
		{name: "key other service", zone: editKey(func(r string) string { return "s=tlsrpt; " + r })},
		{name: "key any service", zone: editKey(func(r string) string { return "s=*; " + r })},
		{name: "key testing flag", zone: editKey(func(r string) string { return "t=y; " + r })},
		{name: "key record malformed", zone: editKey(func(r string) string { return r + "; junk" })},
		{name: "key 512 bits", zone: func(z zone, n string) { z.txt[n] = []string{rsa512Record(t)} }},
	}
}

// TestDifferential: on messages signed by gateway/dkimsign and by
// go-msgauth, in every canonicalization and algorithm, and on the
// variants of each (changed, extended and refolded messages, broken
// signature tags, missing, broken and unsuitable keys), Verify gives
// every signature the class that go-msgauth's verifier gave it in
// gateway/msgauth.
func TestDifferential(t *testing.T) {
	vars := variants(t)
	base := zone{txt: map[string][]string{}, servfail: map[string]bool{}}
	corpus := signedCorpus(t, base)
	passes, others := 0, 0
	for _, sc := range corpus {
		for _, v := range vars {
			z := zone{txt: map[string][]string{}, servfail: map[string]bool{}}
			for k, r := range base.txt {
				z.txt[k] = slices.Clone(r)
			}
			raw := sc.raw
			if v.msg != nil {
				raw = v.msg(raw)
			}
			if v.zone != nil {
				v.zone(z, sc.keyName)
			}
			want := goClasses([]byte(raw), z.lookup, 5)
			got, vs := ourClasses([]byte(raw), z.lookup, 5)
			if !slices.Equal(got, want) {
				t.Errorf("%s, %s: got %v, go-msgauth %v (%+v)", sc.name, v.name, got, want, vs)
				continue
			}
			if len(got) == 1 && got[0] == "pass" {
				passes++
			} else {
				others++
			}
		}
	}
	// The corpus must exercise both outcomes, not agree on one.
	if passes < len(corpus) || others < len(corpus)*10 {
		t.Errorf("%d passes, %d other results over %d signed messages", passes, others, len(corpus))
	}
	t.Logf("%d signed messages, %d variants: %d pass, %d other, identical classes", len(corpus), len(vars), passes, others)
}

// TestDifferentialMutations: single-byte changes, deletions and
// insertions anywhere in signed messages (the signature field included)
// give the same classes in both verifiers.
func TestDifferentialMutations(t *testing.T) {
	z := zone{txt: map[string][]string{}, servfail: map[string]bool{}}
	corpus := signedCorpus(t, z)
	r := rand.New(rand.NewSource(6376))
	const alphabet = " \t\r\n:;=/-@.abdhlsvxAB019+"
	n := 20000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		sc := corpus[r.Intn(len(corpus))]
		raw := []byte(sc.raw)
		p := r.Intn(len(raw))
		if r.Intn(3) == 0 {
			p = r.Intn(min(len(raw), 600)) // mostly the signature and header
		}
		switch r.Intn(3) {
		case 0:
			raw[p] = alphabet[r.Intn(len(alphabet))]
		case 1:
			raw = append(raw[:p], raw[p+1:]...)
		default:
			raw = append(raw[:p], append([]byte{alphabet[r.Intn(len(alphabet))]}, raw[p:]...)...)
		}
		want := goClasses(raw, z.lookup, 5)
		got, vs := ourClasses(raw, z.lookup, 5)
		if !slices.Equal(got, want) && !knownDivergence(raw) {
			t.Errorf("%s mutated at %d:\n%q\ngot %v, go-msgauth %v (%+v)", sc.name, p, raw, got, want, vs)
		}
	}
}

// knownDivergence reports the one place where Verify departs from
// go-msgauth on purpose: a bare CR in the body. RFC 6376 §3.4.4 relaxes
// lines that end in CRLF, so WSP before a bare CR stays and a bare CR at
// the end is a byte of the last line (as dkimsign and dkimpy read it);
// go-msgauth treats every CR as a line end. Sluice's signer refuses such
// bodies; TestBareCRBody pins Verify's reading.
func knownDivergence(raw []byte) bool {
	h := splitHeader(raw)
	body := h.body
	return h.ended && bytes.Count(body, []byte("\r")) != bytes.Count(body, []byte("\r\n"))
}
