package msgauth

import (
	"bufio"
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestSPFAppendixA1 runs the RFC 7208 Appendix A.1 vectors of
// testdata/rfc7208-a1.txt against the Appendix A zone.
func TestSPFAppendixA1(t *testing.T) {
	f, err := os.Open("testdata/rfc7208-a1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		cols := strings.Split(text, "|")
		if len(cols) != 3 {
			t.Fatalf("rfc7208-a1.txt:%d: want 3 columns", line)
		}
		record, ipText, want := strings.TrimSpace(cols[0]), strings.TrimSpace(cols[1]), strings.TrimSpace(cols[2])
		ip := net.ParseIP(ipText)
		if ip == nil {
			t.Fatalf("rfc7208-a1.txt:%d: bad IP %q", line, ipText)
		}
		res := zoneResolver(t, "rfc7208-appendix-a.zone")
		res.set("TXT", "example.com", record)
		in := Input{ClientIP: ip, Helo: "client.example.net", MailFrom: "sender@example.com"}
		got := Evaluate(testCtx(t), in, CheckSPF, Options{Resolver: res})
		if got.SPF == nil {
			t.Fatalf("rfc7208-a1.txt:%d: no SPF result", line)
		}
		if got.SPF.Result != want {
			t.Errorf("rfc7208-a1.txt:%d: %q from %s = %s (%s), want %s", line, record, ip, got.SPF.Result, got.SPF.Reason, want)
		}
		if got.SPF.Identity != "mailfrom" || got.SPF.Domain != "example.com" || got.SPF.Sender != "sender@example.com" {
			t.Errorf("rfc7208-a1.txt:%d: identity %+v", line, *got.SPF)
		}
		if got.DKIM != nil || got.DMARC != nil {
			t.Errorf("rfc7208-a1.txt:%d: only SPF was asked for: %+v", line, got)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Fatalf("only %d vectors read", n)
	}
}

func TestSPF(t *testing.T) {
	ip129 := net.ParseIP("192.0.2.129")
	tests := []struct {
		name  string
		setup func(*staticResolver)
		in    Input
		want  SPFResult
	}{
		{
			name:  "null sender checks the HELO identity",
			setup: func(r *staticResolver) { r.set("TXT", "mail-a.example.com", "v=spf1 a -all") },
			in:    Input{ClientIP: ip129, Helo: "mail-a.example.com"},
			want:  SPFResult{Result: "pass", Identity: "helo", Domain: "mail-a.example.com", Sender: "postmaster@mail-a.example.com"},
		},
		{
			name:  "null sender, HELO not authorized",
			setup: func(r *staticResolver) { r.set("TXT", "mail-a.example.com", "v=spf1 a -all") },
			in:    Input{ClientIP: net.ParseIP("192.0.2.130"), Helo: "MAIL-A.example.com."},
			want:  SPFResult{Result: "fail", Identity: "helo", Domain: "mail-a.example.com", Sender: "postmaster@MAIL-A.example.com."},
		},
		{
			name: "no record",
			in:   Input{ClientIP: ip129, MailFrom: "a@nothing.example.com"},
			want: SPFResult{Result: "none", Identity: "mailfrom", Domain: "nothing.example.com", Sender: "a@nothing.example.com"},
		},
		{
			name: "TXT records that are not SPF",
			setup: func(r *staticResolver) {
				r.set("TXT", "example.com", "google-site-verification=x", "v=spf10 -all")
			},
			in:   Input{ClientIP: ip129, MailFrom: "a@example.com"},
			want: SPFResult{Result: "none", Identity: "mailfrom", Domain: "example.com", Sender: "a@example.com"},
		},
		{
			name:  "two SPF records",
			setup: func(r *staticResolver) { r.set("TXT", "example.com", "v=spf1 -all", "v=spf1 +all") },
			in:    Input{ClientIP: ip129, MailFrom: "a@example.com"},
			want:  SPFResult{Result: "permerror", Identity: "mailfrom", Domain: "example.com", Sender: "a@example.com"},
		},
		{
			name:  "SERVFAIL on the record",
			setup: func(r *staticResolver) { r.servfail("example.com") },
			in:    Input{ClientIP: ip129, MailFrom: "a@example.com"},
			want:  SPFResult{Result: "temperror", Identity: "mailfrom", Domain: "example.com", Sender: "a@example.com"},
		},
		{
			name: "SERVFAIL on an MX host address",
			setup: func(r *staticResolver) {
				r.set("TXT", "example.com", "v=spf1 mx -all")
				r.servfail("mail-a.example.com")
			},
			in:   Input{ClientIP: ip129, MailFrom: "a@example.com"},
			want: SPFResult{Result: "temperror", Identity: "mailfrom", Domain: "example.com", Sender: "a@example.com"},
		},
		{
			name: "redirect",
			setup: func(r *staticResolver) {
				r.set("TXT", "la.example.com", "v=spf1 redirect=example.com")
				r.set("TXT", "example.com", "v=spf1 mx -all")
			},
			in:   Input{ClientIP: ip129, MailFrom: "a@la.example.com"},
			want: SPFResult{Result: "pass", Identity: "mailfrom", Domain: "la.example.com", Sender: "a@la.example.com"},
		},
		{
			name: "macro with the local part",
			setup: func(r *staticResolver) {
				r.set("TXT", "example.com", "v=spf1 exists:%{l}.users.example.com -all")
				r.set("A", "joe.users.example.com", "127.0.0.2")
			},
			in:   Input{ClientIP: ip129, MailFrom: "joe@example.com"},
			want: SPFResult{Result: "pass", Identity: "mailfrom", Domain: "example.com", Sender: "joe@example.com"},
		},
		{
			name: "single-label domain is none without a lookup",
			in:   Input{ClientIP: ip129, MailFrom: "root@localhost"},
			want: SPFResult{Result: "none", Identity: "mailfrom", Domain: "localhost", Sender: "root@localhost"},
		},
		{
			name: "HELO address literal",
			in:   Input{ClientIP: ip129, Helo: "[192.0.2.129]"},
			want: SPFResult{Result: "none", Identity: "helo", Domain: "[192.0.2.129]", Sender: "postmaster@[192.0.2.129]"},
		},
		{
			name: "MAIL FROM without a domain",
			in:   Input{ClientIP: ip129, MailFrom: "postmaster"},
			want: SPFResult{Result: "none", Identity: "mailfrom", Sender: "postmaster"},
		},
		{
			name:  "client IP unknown",
			setup: func(r *staticResolver) { r.set("TXT", "example.com", "v=spf1 +all") },
			in:    Input{MailFrom: "a@example.com"},
			want:  SPFResult{Result: "none", Identity: "mailfrom", Domain: "example.com", Sender: "a@example.com"},
		},
		{
			name: "IPv6 client",
			setup: func(r *staticResolver) {
				r.set("TXT", "example.com", "v=spf1 a -all")
				r.set("AAAA", "example.com", "2001:db8::25")
			},
			in:   Input{ClientIP: net.ParseIP("2001:db8::25"), MailFrom: "a@example.com"},
			want: SPFResult{Result: "pass", Identity: "mailfrom", Domain: "example.com", Sender: "a@example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := zoneResolver(t, "rfc7208-appendix-a.zone")
			if tt.setup != nil {
				tt.setup(res)
			}
			got := Evaluate(testCtx(t), tt.in, CheckSPF, Options{Resolver: res}).SPF
			if got == nil {
				t.Fatal("no SPF result")
			}
			reasonText := got.Reason
			got.Reason = ""
			if *got != tt.want {
				t.Errorf("got %+v (%s), want %+v", *got, reasonText, tt.want)
			}
		})
	}
}

// TestSPFIPv4AsksOnlyA: for an IPv4 client the a, mx and ptr mechanisms
// look up A records only (RFC 7208 §5.3–§5.5); an AAAA SERVFAIL can't
// matter.
func TestSPFIPv4AsksOnlyA(t *testing.T) {
	res := zoneResolver(t, "rfc7208-appendix-a.zone")
	res.set("TXT", "example.com", "v=spf1 a mx ptr -all")
	in := Input{ClientIP: net.ParseIP("192.0.2.140"), MailFrom: "a@example.com"}
	got := Evaluate(testCtx(t), in, CheckSPF, Options{Resolver: res}).SPF
	if got.Result != "fail" {
		t.Fatalf("result %s (%s), want fail", got.Result, got.Reason)
	}
	if i := slices.IndexFunc(res.queries, func(q string) bool { return strings.HasPrefix(q, "AAAA ") }); i >= 0 {
		t.Errorf("asked %s for an IPv4 client; queries %q", res.queries[i], res.queries)
	}
	if !slices.Contains(res.queries, "PTR 140.2.0.192.in-addr.arpa") {
		t.Errorf("no reverse lookup; queries %q", res.queries)
	}
}

func TestSPFContextCanceled(t *testing.T) {
	res := zoneResolver(t, "rfc7208-appendix-a.zone")
	res.set("TXT", "example.com", "v=spf1 +all")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := Evaluate(ctx, Input{ClientIP: net.ParseIP("192.0.2.1"), MailFrom: "a@example.com"}, CheckSPF, Options{Resolver: res}).SPF
	if got.Result != "temperror" {
		t.Fatalf("result %s, want temperror", got.Result)
	}
}

func TestNoResolver(t *testing.T) {
	got := Evaluate(testCtx(t), Input{ClientIP: net.ParseIP("192.0.2.1"), MailFrom: "a@example.com"}, CheckSPF|CheckDMARC, Options{})
	if got.SPF == nil || got.SPF.Result != "temperror" {
		t.Fatalf("SPF %+v, want temperror", got.SPF)
	}
	if got.DKIM != nil || got.DMARC != nil {
		t.Fatalf("without a message DKIM and DMARC are left out: %+v", got)
	}
}

func TestReverseName(t *testing.T) {
	tests := map[string]string{
		"192.0.2.1":   "1.2.0.192.in-addr.arpa.",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	}
	for ip, want := range tests {
		if got := reverseName(net.ParseIP(ip)); got != want {
			t.Errorf("reverseName(%s) = %s, want %s", ip, got, want)
		}
	}
}
