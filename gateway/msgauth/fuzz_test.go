package msgauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/message"
)

// fuzzResolver answers every TXT query from fuzzed text: _dmarc names
// from dmarc, _domainkey names from key, the rest from spf; records are
// separated by newlines. Names containing "temp" fail temporarily; other
// types have fixed answers.
type fuzzResolver struct{ spf, key, dmarc string }

func (f fuzzResolver) Lookup(_ context.Context, qtype, name string) ([]string, error) {
	name = strings.ToLower(name)
	if strings.Contains(name, "temp") {
		return nil, dns.ErrTemporary
	}
	var text string
	switch strings.ToUpper(qtype) {
	case "TXT":
		switch {
		case strings.HasPrefix(name, "_dmarc."):
			text = f.dmarc
		case strings.Contains(name, "._domainkey."):
			text = f.key
		default:
			text = f.spf
		}
	case "A":
		text = "192.0.2.1"
	case "AAAA":
		text = "2001:db8::1"
	case "MX":
		text = "10 mx.example.com."
	case "PTR":
		text = "mx.example.com."
	}
	if text == "" {
		return nil, dns.ErrNotFound
	}
	return strings.Split(text, "\n"), nil
}

var allowed = struct{ spf, dkim, dmarc []string }{
	spf:   []string{"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"},
	dkim:  []string{"none", "pass", "fail", "neutral", "temperror", "permerror", "policy"},
	dmarc: []string{"none", "pass", "fail", "temperror", "permerror"},
}

// FuzzEvaluate runs every check on arbitrary message bytes with arbitrary
// SPF, DKIM key and DMARC records: Evaluate must not panic, and every
// result must be one of the values the ABI allows.
func FuzzEvaluate(f *testing.F) {
	keys := testKeys()
	signed := sign(f, testMessage, "example.com", "s", keys.ed)
	f.Add([]byte(signed), "v=spf1 mx -all", keyRecord(f, keys.ed), "v=DMARC1; p=reject")
	f.Add([]byte(testMessage), "v=spf1 include:temp.example ~all", "v=DKIM1; p=", "v=DMARC1; p=none; sp=reject; pct=50")
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; l=1; bh=AA; b=AA\r\nFrom: a@example.com\r\n\r\nx"),
		"v=spf1 a:%{d}.%{l} redirect=example.com", "v=DKIM1; k=rsa; p=AAAA", "v=DMARC1; p=quarantine; adkim=s\nv=DMARC1; p=none")
	f.Add([]byte("From: a@b\r\nFrom: c@d\r\n"), "v=spf1 exists:%{ir}.%{v}._spf.%{d} ptr -all", "", "v=DMARC1")
	f.Fuzz(func(t *testing.T, raw []byte, spf, key, dmarc string) {
		m, err := message.Parse(raw, message.Limits{MaxHeaderBytes: 64 << 10, MaxHeaderFields: 500})
		if err != nil {
			return
		}
		in := Input{ClientIP: net.ParseIP("192.0.2.1"), Helo: "helo.example.com", MailFrom: "s@example.com", Message: m}
		got := Evaluate(context.Background(), in, CheckDMARC, Options{Resolver: fuzzResolver{spf, key, dmarc}, MaxVerifications: 3})
		if got.SPF == nil || !slices.Contains(allowed.spf, got.SPF.Result) {
			t.Fatalf("SPF %+v", got.SPF)
		}
		if len(got.DKIM) == 0 || len(got.DKIM) > 3 {
			t.Fatalf("DKIM %+v", got.DKIM)
		}
		for _, d := range got.DKIM {
			if !slices.Contains(allowed.dkim, d.Result) || len(d.Signature) > sigPrefixLen || len(d.Reason) > maxReason {
				t.Fatalf("DKIM %+v", d)
			}
		}
		// signatureFields must see the signatures the library verifies.
		verifs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Bytes()), &dkim.VerifyOptions{
			LookupTXT:        func(string) ([]string, error) { return nil, nil },
			MaxVerifications: 3,
		})
		if (err == nil || errors.Is(err, dkim.ErrTooManySignatures)) && len(verifs) > 0 && len(verifs) != len(got.DKIM) {
			t.Fatalf("library verified %d signatures, Evaluate reports %d", len(verifs), len(got.DKIM))
		}
		if got.DMARC == nil || !slices.Contains(allowed.dmarc, got.DMARC.Result) {
			t.Fatalf("DMARC %+v", got.DMARC)
		}
		if got.DMARC.Result == "pass" && !got.DMARC.SPFAligned && !got.DMARC.DKIMAligned {
			t.Fatalf("DMARC pass without alignment: %+v", got.DMARC)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	})
}
