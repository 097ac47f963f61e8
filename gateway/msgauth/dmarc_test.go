package msgauth

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// TestDMARC covers policy discovery (RFC 7489 §6.6.3) with the records of
// testdata/rfc7489-appendix-b.zone and identifier alignment (§3.1) with
// the examples of Appendix B.1, from given SPF and DKIM results.
func TestDMARC(t *testing.T) {
	spfPass := func(d string) *SPFResult { return &SPFResult{Result: "pass", Domain: d} }
	dkimPass := func(d string) []DKIMResult { return []DKIMResult{{Result: "pass", Domain: d}} }
	tests := []struct {
		name string
		from string // the From field value; "" for no From field
		spf  *SPFResult
		dkim []DKIMResult
		want DMARCResult
	}{
		// Appendix B.1.1, SPF alignment.
		{
			name: "B.1.1 identical SPF domain aligns",
			from: "sender@example.com", spf: spfPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true},
		},
		{
			name: "B.1.1 SPF child domain aligns in relaxed mode",
			from: "sender@example.com", spf: spfPass("child.example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true},
		},
		{
			name: "B.1.1 SPF child domain does not align in strict mode",
			from: "sender@example.org", spf: spfPass("child.example.org"),
			want: DMARCResult{Result: "fail", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 100},
		},
		{
			name: "B.1.1 another organizational domain does not align",
			from: "sender@example.net", spf: spfPass("example.com"),
			want: DMARCResult{Result: "fail", FromDomain: "example.net", PolicyDomain: "example.net", Policy: "reject", Percent: 100},
		},
		{
			name: "SPF aligns only when it passes",
			from: "sender@example.com", spf: &SPFResult{Result: "softfail", Domain: "example.com"},
			want: DMARCResult{Result: "fail", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100},
		},
		// Appendix B.1.2, DKIM alignment.
		{
			name: "B.1.2 identical DKIM domain aligns",
			from: "sender@example.com", dkim: dkimPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, DKIMAligned: true},
		},
		{
			name: "B.1.2 DKIM parent domain aligns with a child From in relaxed mode",
			from: "sender@child.example.com", dkim: dkimPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "child.example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, DKIMAligned: true},
		},
		{
			name: "B.1.2 DKIM parent domain does not align in strict mode; sp= applies",
			from: "sender@child.example.org", dkim: dkimPass("example.org"),
			want: DMARCResult{Result: "fail", FromDomain: "child.example.org", PolicyDomain: "example.org", Policy: "quarantine", Percent: 100},
		},
		{
			name: "B.1.2 sample.net does not align with example.com",
			from: "sender@example.com", dkim: dkimPass("sample.net"),
			want: DMARCResult{Result: "fail", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100},
		},
		{
			name: "any passing aligned signature counts",
			from: "sender@example.org", spf: spfPass("other.example"),
			dkim: []DKIMResult{{Result: "fail", Domain: "example.org"}, {Result: "pass", Domain: "unrelated.example"}, {Result: "pass", Domain: "EXAMPLE.org"}},
			want: DMARCResult{Result: "pass", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 100, DKIMAligned: true},
		},
		{
			name: "both aligned",
			from: "sender@example.com", spf: spfPass("example.com"), dkim: dkimPass("mail.example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true, DKIMAligned: true},
		},
		// Appendix B.2.4: the subdomain's own record, with pct=.
		{
			name: "B.2.4 subdomain record with pct",
			from: "sender@test.example.com", dkim: dkimPass("test.example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "test.example.com", PolicyDomain: "test.example.com", Policy: "quarantine", Percent: 25, DKIMAligned: true},
		},
		{
			name: "B.2.4 a deeper subdomain falls back to the organizational domain, not the parent",
			from: "sender@a.test.example.com", spf: spfPass("other.example"),
			want: DMARCResult{Result: "fail", FromDomain: "a.test.example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100},
		},
		{
			name: "a domain's own record applies p=, not sp=",
			from: "sender@example.org",
			want: DMARCResult{Result: "fail", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 100},
		},
		{
			name: "display name, comments, case and folding",
			from: "\"Sender, Esq.\" (comment)\r\n <Sender@Example.COM>", spf: spfPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true},
		},
		{
			name: "final dot of the domain",
			from: "<sender@example.com.>", spf: spfPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true},
		},
		{
			name: "two addresses in one domain",
			from: "a@example.com, b@example.com", spf: spfPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true},
		},
		{
			name: "lenient parsing of a From net/mail refuses",
			from: "Joe [Sales] <joe@example.com>", spf: spfPass("example.com"),
			want: DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, SPFAligned: true},
		},
		// Errors and absent policies.
		{
			name: "no record anywhere",
			from: "sender@nodmarc.example", spf: spfPass("nodmarc.example"),
			want: DMARCResult{Result: "none", FromDomain: "nodmarc.example"},
		},
		{
			name: "other version",
			from: "sender@v2.example",
			want: DMARCResult{Result: "none", FromDomain: "v2.example"},
		},
		{
			name: "two records",
			from: "sender@twice.example",
			want: DMARCResult{Result: "none", FromDomain: "twice.example"},
		},
		{
			name: "pct out of range",
			from: "sender@broken.example",
			want: DMARCResult{Result: "permerror", FromDomain: "broken.example"},
		},
		{
			name: "record without p=",
			from: "sender@nopolicy.example",
			want: DMARCResult{Result: "permerror", FromDomain: "nopolicy.example"},
		},
		{
			name: "SERVFAIL on the record",
			from: "sender@tempfail.example",
			want: DMARCResult{Result: "temperror", FromDomain: "tempfail.example"},
		},
		{
			name: "SERVFAIL on the organizational domain's record",
			from: "sender@sub.tempfail.example",
			want: DMARCResult{Result: "temperror", FromDomain: "sub.tempfail.example"},
		},
		{
			name: "aligned DKIM temperror and no pass is temperror",
			from: "sender@example.org", spf: spfPass("other.example"), dkim: []DKIMResult{{Result: "temperror", Domain: "example.org"}},
			want: DMARCResult{Result: "temperror", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 100},
		},
		{
			name: "aligned SPF temperror and no pass is temperror",
			from: "sender@example.org", spf: &SPFResult{Result: "temperror", Domain: "example.org"},
			want: DMARCResult{Result: "temperror", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 100},
		},
		{
			name: "unaligned temperror is a fail",
			from: "sender@example.org", spf: &SPFResult{Result: "temperror", Domain: "other.example"},
			want: DMARCResult{Result: "fail", FromDomain: "example.org", PolicyDomain: "example.org", Policy: "reject", Percent: 100},
		},
		{name: "no From", want: DMARCResult{Result: "permerror"}},
		{name: "addresses in two domains", from: "a@example.com, b@example.net", want: DMARCResult{Result: "permerror"}},
		{name: "group without members", from: "undisclosed-recipients:;", want: DMARCResult{Result: "permerror"}},
		{name: "unparsable From", from: "not an address", want: DMARCResult{Result: "permerror"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := zoneResolver(t, "rfc7489-appendix-b.zone")
			res.servfail("_dmarc.tempfail.example")
			raw := "Subject: x\r\n\r\nbody\r\n"
			if tt.from != "" {
				raw = "From: " + tt.from + "\r\n" + raw
			}
			nr := netResolver{r: res}
			got := checkDMARC(parse(t, raw), tt.spf, tt.dkim, nr.txtFunc(testCtx(t)))
			if (got.Reason == "") != (got.Result == "pass") {
				t.Errorf("reason %q with result %s", got.Reason, got.Result)
			}
			got.Reason = ""
			if *got != tt.want {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestDMARCSeveralFromFields(t *testing.T) {
	m := parse(t, "From: a@example.com\r\nFrom: a@example.com\r\n\r\n")
	got := checkDMARC(m, nil, nil, netResolver{r: newStatic()}.txtFunc(context.Background()))
	if got.Result != "permerror" || !strings.Contains(got.Reason, "several From") {
		t.Fatalf("got %+v", got)
	}
}

// TestEvaluateAll runs the three checks together on a signed message: the
// DMARC result uses the SPF and DKIM results returned beside it.
func TestEvaluateAll(t *testing.T) {
	keys := testKeys()
	res := zoneResolver(t, "rfc7208-appendix-a.zone", "rfc7489-appendix-b.zone")
	res.set("TXT", "example.com", "v=spf1 mx -all")
	res.set("TXT", "sel._domainkey.example.com", keyRecord(t, keys.ed))
	msg := strings.Replace(testMessage, "joe@football.example.com", "joe@example.com", 1)
	m := parse(t, sign(t, msg, "example.com", "sel", keys.ed))
	in := Input{ClientIP: net.ParseIP("192.0.2.200"), Helo: "mx.example.net", MailFrom: "bounce@mail.example.com", Message: m}

	got := Evaluate(testCtx(t), in, CheckDMARC, Options{Resolver: res})
	if got.SPF == nil || got.SPF.Result != "none" || got.SPF.Domain != "mail.example.com" {
		t.Errorf("SPF %+v", got.SPF)
	}
	if len(got.DKIM) != 1 || got.DKIM[0].Result != "pass" {
		t.Errorf("DKIM %+v", got.DKIM)
	}
	wantDMARC := DMARCResult{Result: "pass", FromDomain: "example.com", PolicyDomain: "example.com", Policy: "none", Percent: 100, DKIMAligned: true}
	if got.DMARC == nil || *got.DMARC != wantDMARC {
		t.Errorf("DMARC %+v, want %+v", got.DMARC, wantDMARC)
	}

	// SPF only: no DKIM, no DMARC, even with a message.
	if got := Evaluate(testCtx(t), in, CheckSPF, Options{Resolver: res}); got.DKIM != nil || got.DMARC != nil || got.SPF == nil {
		t.Errorf("CheckSPF: %+v", got)
	}
	// DKIM and SPF without DMARC.
	if got := Evaluate(testCtx(t), in, CheckSPF|CheckDKIM, Options{Resolver: res}); got.DMARC != nil || got.SPF == nil || len(got.DKIM) != 1 {
		t.Errorf("CheckSPF|CheckDKIM: %+v", got)
	}

	// The JSON form of sdk/ABI.md §4.11.
	in.ClientIP = net.ParseIP("192.0.2.129") // an MX of example.com
	in.MailFrom = "bounce@example.com"
	b, err := json.Marshal(Evaluate(testCtx(t), in, CheckDMARC, Options{Resolver: res}))
	if err != nil {
		t.Fatal(err)
	}
	sig := got.DKIM[0].Signature
	want := `{"spf":{"result":"pass","identity":"mailfrom","domain":"example.com","sender":"bounce@example.com","reason":"matched mx"},` +
		`"dkim":[{"result":"pass","domain":"example.com","selector":"sel","algorithm":"ed25519-sha256","b":"` + sig + `"}],` +
		`"dmarc":{"result":"pass","from_domain":"example.com","policy_domain":"example.com","policy":"none","pct":100,"spf_aligned":true,"dkim_aligned":true},` +
		`"resinfo":"dkim=pass header.d=example.com header.s=sel header.b=` + strings.ReplaceAll(pvalue(sig), `"`, `\"`) + `;\r\n\tspf=pass (matched mx) smtp.mailfrom=bounce@example.com;\r\n\tdmarc=pass header.from=example.com"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func TestReason(t *testing.T) {
	if got := reason("dkim: bad\x00\xffname"); got != "bad??name" {
		t.Errorf("reason = %q", got)
	}
	if got := reason(strings.Repeat("x", 500)); len(got) != maxReason {
		t.Errorf("len = %d", len(got))
	}
}
