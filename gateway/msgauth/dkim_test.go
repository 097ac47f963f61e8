package msgauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sluice-mail/sluice/gateway/message"
)

const testMessage = "From: Joe SixPack <joe@football.example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
	"\r\n" +
	"Hi.\r\n" +
	"\r\n" +
	"We lost the game. Are you hungry yet?\r\n" +
	"\r\n" +
	"Joe.\r\n"

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() struct {
	ed  ed25519.PrivateKey
	rsa *rsa.PrivateKey
} {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return struct {
		ed  ed25519.PrivateKey
		rsa *rsa.PrivateKey
	}{ed, rk}
})

// keyRecord is the DKIM key TXT record of a signer (RFC 6376 §3.6.1,
// RFC 8463 §4).
func keyRecord(t testing.TB, s crypto.Signer) string {
	t.Helper()
	switch pub := s.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	t.Fatalf("unknown key %T", s)
	return ""
}

// sign adds a DKIM-Signature made by go-msgauth at the top of msg.
func sign(t testing.TB, msg, domain, selector string, s crypto.Signer) string {
	t.Helper()
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: s,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func parse(t testing.TB, raw string) *message.Message {
	t.Helper()
	m, err := message.Parse([]byte(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bTag returns the first 12 characters of the b= tag of the first
// DKIM-Signature in raw, found independently of parseSigTags.
func bTag(t testing.TB, raw string) string {
	t.Helper()
	i := strings.Index(raw, " b=")
	if i < 0 {
		t.Fatal("no b= tag")
	}
	v := strings.NewReplacer("\r\n", "", " ", "", "\t", "").Replace(raw[i+3:])
	return v[:12]
}

func dkimOnly(t *testing.T, res *staticResolver, raw string, max int) []DKIMResult {
	t.Helper()
	in := Input{ClientIP: net.ParseIP("192.0.2.1"), MailFrom: "joe@football.example.com", Message: parse(t, raw)}
	got := Evaluate(testCtx(t), in, CheckDKIM, Options{Resolver: res, MaxVerifications: max})
	if got.SPF != nil || got.DMARC != nil {
		t.Fatalf("only DKIM was asked for: %+v", got)
	}
	return got.DKIM
}

func TestDKIMPass(t *testing.T) {
	keys := testKeys()
	for _, tc := range []struct {
		alg    string
		signer crypto.Signer
	}{{"ed25519-sha256", keys.ed}, {"rsa-sha256", keys.rsa}} {
		t.Run(tc.alg, func(t *testing.T) {
			res := newStatic()
			res.set("TXT", "brisbane._domainkey.football.example.com", keyRecord(t, tc.signer))
			raw := sign(t, testMessage, "football.example.com", "brisbane", tc.signer)
			got := dkimOnly(t, res, raw, 0)
			want := DKIMResult{Result: "pass", Domain: "football.example.com", Selector: "brisbane", Algorithm: tc.alg, Signature: bTag(t, raw)}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("got %+v, want [%+v]", got, want)
			}
		})
	}
}

func TestDKIMResults(t *testing.T) {
	keys := testKeys()
	signed := sign(t, testMessage, "football.example.com", "brisbane", keys.ed)
	goodKey := keyRecord(t, keys.ed)
	const keyName = "brisbane._domainkey.football.example.com"
	tests := []struct {
		name   string
		raw    string
		key    []string // the TXT records at keyName
		fail   bool     // SERVFAIL at keyName
		want   string
		reason string // a part of the reason
	}{
		{name: "body changed", raw: strings.Replace(signed, "hungry", "thirsty", 1), key: []string{goodKey}, want: "fail", reason: "body hash"},
		{name: "signed header changed", raw: strings.Replace(signed, "dinner", "lunch", 1), key: []string{goodKey}, want: "fail", reason: "signature did not verify"},
		{name: "relaxed canonicalization tolerates whitespace", raw: strings.Replace(signed, "Subject: Is dinner", "Subject:  Is   dinner", 1), key: []string{goodKey}, want: "pass"},
		{name: "key lookup SERVFAIL", raw: signed, fail: true, want: "temperror", reason: "key unavailable"},
		{name: "no key", raw: signed, want: "permerror", reason: "no key"},
		{name: "revoked key", raw: signed, key: []string{"v=DKIM1; k=ed25519; p="}, want: "permerror", reason: "revoked"},
		{name: "two key records", raw: signed, key: []string{goodKey, goodKey}, want: "permerror", reason: "multiple"},
		{name: "key of another algorithm", raw: signed, key: []string{keyRecord(t, keys.rsa)}, want: "permerror", reason: "key algorithm"},
		{name: "wrong key", raw: signed, key: []string{keyRecord(t, ed25519.NewKeyFromSeed(make([]byte, 32)))}, want: "fail", reason: "signature did not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newStatic()
			res.set("TXT", keyName, tt.key...)
			if tt.fail {
				res.servfail(keyName)
			}
			got := dkimOnly(t, res, tt.raw, 0)
			if len(got) != 1 {
				t.Fatalf("got %+v, want one result", got)
			}
			if got[0].Result != tt.want || !strings.Contains(got[0].Reason, tt.reason) {
				t.Errorf("got %s (%q), want %s (%q)", got[0].Result, got[0].Reason, tt.want, tt.reason)
			}
			if got[0].Domain != "football.example.com" || got[0].Selector != "brisbane" || got[0].Algorithm != "ed25519-sha256" {
				t.Errorf("tags not reported: %+v", got[0])
			}
		})
	}
}

func TestDKIMNone(t *testing.T) {
	got := dkimOnly(t, newStatic(), testMessage, 0)
	if len(got) != 1 || got[0] != (DKIMResult{Result: "none"}) {
		t.Fatalf("got %+v, want one none", got)
	}
}

// TestDKIMSeveral: results come in header order (topmost first) and at
// most MaxVerifications signatures are verified.
func TestDKIMSeveral(t *testing.T) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "a._domainkey.football.example.com", keyRecord(t, keys.ed))
	res.set("TXT", "r._domainkey.example.net", keyRecord(t, keys.rsa))
	raw := sign(t, testMessage, "football.example.com", "a", keys.ed)
	raw = sign(t, raw, "example.net", "r", keys.rsa)
	raw = sign(t, raw, "nokey.example.org", "x", keys.ed)
	got := dkimOnly(t, res, raw, 0)
	want := []struct{ result, domain string }{
		{"permerror", "nokey.example.org"},
		{"pass", "example.net"},
		{"pass", "football.example.com"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %d results", got, len(want))
	}
	for i, w := range want {
		if got[i].Result != w.result || got[i].Domain != w.domain {
			t.Errorf("result %d = %+v, want %s for %s", i, got[i], w.result, w.domain)
		}
	}
	got = dkimOnly(t, res, raw, 2)
	if len(got) != 2 || got[0].Domain != "nokey.example.org" || got[1].Domain != "example.net" || got[1].Result != "pass" {
		t.Fatalf("MaxVerifications 2: got %+v", got)
	}
}

// TestDKIMPolicy: a signature with l= (a partial body) is refused as a
// local policy (RFC 6376 §8.2).
func TestDKIMPolicy(t *testing.T) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "s._domainkey.example.com", keyRecord(t, keys.ed))
	raw := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n" +
		"\ts=s; h=from:subject; l=3; bh=AAAA; b=QUJD\r\n\t REVG R0hJSktM TU5P\r\n" + testMessage
	got := dkimOnly(t, res, raw, 0)
	want := DKIMResult{Result: "policy", Domain: "example.com", Selector: "s", Algorithm: "ed25519-sha256", Signature: "QUJDREVGR0hJ"}
	if len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	got[0].Reason = ""
	if got[0] != want {
		t.Fatalf("got %+v, want %+v", got[0], want)
	}
}

func TestDKIMMalformed(t *testing.T) {
	tests := []struct {
		name, raw, want, reason string
	}{
		{"no tags", "DKIM-Signature: garbage\r\n" + testMessage, "permerror", "malformed signature tags"},
		{"no version", "DKIM-Signature: a=rsa-sha256; d=x.example; s=s; h=from; bh=AA; b=AA\r\n" + testMessage, "permerror", "version"},
		{"From not signed", "DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=subject; bh=AA; b=AA\r\n" + testMessage, "permerror", "From field not signed"},
		{"expired", "DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AA; b=AA; x=1000\r\n" + testMessage, "permerror", "expired"},
		{"header without end", "DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AA; b=AA\r\nFrom: a@x.example", "permerror", "header could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dkimOnly(t, newStatic(), tt.raw, 0)
			if len(got) != 1 || got[0].Result != tt.want || !strings.Contains(got[0].Reason, tt.reason) {
				t.Fatalf("got %+v, want one %s (%q)", got, tt.want, tt.reason)
			}
		})
	}
}

// TestDKIMChangedMessage: a message changed after parsing is verified as
// it will be sent; adding an unsigned field keeps the signature valid,
// changing a signed one breaks it.
func TestDKIMChangedMessage(t *testing.T) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "s._domainkey.football.example.com", keyRecord(t, keys.ed))
	m := parse(t, sign(t, testMessage, "football.example.com", "s", keys.ed))
	f, err := message.Render([]byte("X-Spam-Score"), []byte("0.1"))
	if err != nil {
		t.Fatal(err)
	}
	m.Insert(0, f)
	in := Input{ClientIP: net.ParseIP("192.0.2.1"), Message: m}
	if got := Evaluate(testCtx(t), in, CheckDKIM, Options{Resolver: res}).DKIM; len(got) != 1 || got[0].Result != "pass" {
		t.Fatalf("after adding an unsigned field: %+v", got)
	}
	if _, err := m.Change(m.Find([]byte("Subject"), 0), []byte("changed")); err != nil {
		t.Fatal(err)
	}
	if got := Evaluate(testCtx(t), in, CheckDKIM, Options{Resolver: res}).DKIM; len(got) != 1 || got[0].Result != "fail" {
		t.Fatalf("after changing Subject: %+v", got)
	}
}

// TestDKIMExpiry: a signature with x= in the future verifies.
func TestDKIMExpiry(t *testing.T) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "s._domainkey.example.com", keyRecord(t, keys.ed))
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(testMessage), &dkim.SignOptions{
		Domain: "example.com", Selector: "s", Signer: keys.ed, Expiration: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := dkimOnly(t, res, b.String(), 0); len(got) != 1 || got[0].Result != "pass" {
		t.Fatalf("got %+v", got)
	}
}

// Verifying stops reading the message once the caller's context has
// ended: a large body cannot hold auth_check past its deadline. The
// signature is then temperror, not a verdict on the message.
func TestDKIMStopsWhenContextEnds(t *testing.T) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "brisbane._domainkey.football.example.com", keyRecord(t, keys.ed))
	raw := sign(t, testMessage+strings.Repeat("more text\r\n", 1<<16), "football.example.com", "brisbane", keys.ed)
	got := checkDKIM(&endsAfterLooks{Context: testCtx(t), n: 1}, []byte(raw), 5, func(string) ([]string, error) {
		return []string{keyRecord(t, keys.ed)}, nil
	})
	if len(got) != 1 || got[0].Result != "temperror" {
		t.Errorf("got %+v, want one temperror", got)
	}
	if got := dkimOnly(t, res, raw, 0); len(got) != 1 || got[0].Result != "pass" {
		t.Errorf("with time to read the body: %+v, want pass", got)
	}
}

// endsAfterLooks is a context whose Err is nil for the first n looks, then
// DeadlineExceeded.
type endsAfterLooks struct {
	context.Context
	n int
}

func (c *endsAfterLooks) Err() error {
	if c.n > 0 {
		c.n--
		return nil
	}
	return context.DeadlineExceeded
}
