package msgauth

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/internal/dnstest"
)

// TestRealDNS runs Evaluate through dns.Client against a DNS server on
// 127.0.0.1 that serves the test zones: the adapter's text forms, NXDOMAIN,
// NODATA and SERVFAIL go over the wire.
func TestRealDNS(t *testing.T) {
	keys := testKeys()
	rrs := readZone(t, "rfc7208-appendix-a.zone")
	rrs = append(rrs, readZone(t, "rfc7489-appendix-b.zone")...)
	rrs = append(rrs,
		txtRR("example.com", "v=spf1 mx ptr:example.org -all"),
		txtRR("ed._domainkey.example.com", keyRecord(t, keys.ed)),
		txtRR("rsa._domainkey.example.com", keyRecord(t, keys.rsa)), // longer than 255: several strings
	)
	addr := dnstest.StartRecords(t, rrs, "down._domainkey.example.com", "_dmarc.example.net").Addr
	client := dns.NewClient(dns.ClientOptions{Servers: []string{addr}, Timeout: 2 * time.Second, CacheSize: -1})

	msg := strings.Replace(testMessage, "joe@football.example.com", "joe@example.com", 1)
	raw := sign(t, msg, "example.com", "ed", keys.ed)
	raw = sign(t, raw, "example.com", "rsa", keys.rsa)
	raw = sign(t, raw, "example.com", "down", keys.ed)
	in := Input{ClientIP: net.ParseIP("192.0.2.130"), Helo: "mail-b.example.com", MailFrom: "joe@example.com", Message: parse(t, raw)}

	got := Evaluate(testCtx(t), in, CheckDMARC, Options{Resolver: client})
	if got.SPF == nil || got.SPF.Result != "pass" {
		t.Errorf("SPF %+v, want pass (mx)", got.SPF)
	}
	wantDKIM := []string{"temperror", "pass", "pass"} // header order: the last signature made is on top
	if len(got.DKIM) != len(wantDKIM) {
		t.Fatalf("DKIM %+v", got.DKIM)
	}
	for i, w := range wantDKIM {
		if got.DKIM[i].Result != w {
			t.Errorf("DKIM %d: %+v, want %s", i, got.DKIM[i], w)
		}
	}
	if d := got.DMARC; d == nil || d.Result != "pass" || !d.SPFAligned || !d.DKIMAligned || d.Policy != "none" {
		t.Errorf("DMARC %+v", got.DMARC)
	}

	// PTR over the wire: 192.0.2.140 is mail-c.example.org, validated by
	// its A record; 192.0.2.66 (bob.example.com) is neither an MX nor in
	// example.org.
	in.Message = nil
	in.ClientIP = net.ParseIP("192.0.2.140")
	if got := Evaluate(testCtx(t), in, CheckSPF, Options{Resolver: client}).SPF; got.Result != "pass" {
		t.Errorf("SPF from 192.0.2.140: %+v", got)
	}
	in.ClientIP = net.ParseIP("192.0.2.66")
	if got := Evaluate(testCtx(t), in, CheckSPF, Options{Resolver: client}).SPF; got.Result != "fail" {
		t.Errorf("SPF from 192.0.2.66: %+v", got)
	}

	// A DMARC SERVFAIL and an unknown domain.
	in.Message = parse(t, "From: a@example.net\r\n\r\n")
	if got := Evaluate(testCtx(t), in, CheckDMARC, Options{Resolver: client}); got.DMARC.Result != "temperror" || got.DKIM[0].Result != "none" {
		t.Errorf("example.net: %+v %+v", got.DMARC, got.DKIM)
	}
	in.MailFrom = "a@nx.example"
	in.Message = parse(t, "From: a@nx.example\r\n\r\n")
	if got := Evaluate(testCtx(t), in, CheckDMARC, Options{Resolver: client}); got.SPF.Result != "none" || got.DMARC.Result != "none" {
		t.Errorf("nx.example: %+v %+v", got.SPF, got.DMARC)
	}
}
