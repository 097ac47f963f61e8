package main

import (
	"net/netip"
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const v6name = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"

func TestConnect(t *testing.T) {
	tests := []struct {
		name, cfg, ip string
		dns           func(s *sluicetest.Session)
		want          sluice.Verdict
		code          int
		text, tag     string
	}{
		{name: "ipv4 not listed", ip: "192.0.2.1", want: sluice.VerdictContinue},
		{name: "ipv4 listed, message", ip: "192.0.2.1", want: sluice.VerdictReject, code: 554,
			text: "Client listed by zen.example", tag: "zen.example",
			dns: func(s *sluicetest.Session) { s.SetDNS("A", "1.2.0.192.zen.example", "127.0.0.2") }},
		{name: "ipv4 listed, TXT", ip: "192.0.2.1", want: sluice.VerdictReject, code: 554,
			text: "Listed see https://x.example/?1.2.0.192", tag: "zen.example",
			dns: func(s *sluicetest.Session) {
				s.SetDNS("A", "1.2.0.192.zen.example", "127.0.0.4")
				s.SetDNS("TXT", "1.2.0.192.zen.example", "Listed\tsee https://x.example/?1.2.0.192\x01")
			}},
		{name: "long TXT cut", ip: "192.0.2.1", want: sluice.VerdictReject, code: 554,
			text: strings.Repeat("x", 200), tag: "zen.example",
			dns: func(s *sluicetest.Session) {
				s.SetDNS("A", "1.2.0.192.zen.example", "127.0.0.2")
				s.SetDNS("TXT", "1.2.0.192.zen.example", strings.Repeat("x", 300))
			}},
		{name: "ipv6 nibbles", ip: "2001:db8::1", want: sluice.VerdictReject, code: 554,
			text: "Client listed by zen.example", tag: "zen.example",
			dns: func(s *sluicetest.Session) { s.SetDNS("A", v6name+".zen.example", "127.0.0.2") }},
		{name: "temporary failure continues", ip: "192.0.2.1", want: sluice.VerdictContinue,
			dns: func(s *sluicetest.Session) { s.SetDNSTemporary("1.2.0.192.zen.example") }},
		{name: "error code not listed", ip: "192.0.2.1", want: sluice.VerdictContinue,
			dns: func(s *sluicetest.Session) { s.SetDNS("A", "1.2.0.192.zen.example", "127.255.255.254") }},
		{name: "non-loopback answer not listed", ip: "192.0.2.1", want: sluice.VerdictContinue,
			dns: func(s *sluicetest.Session) { s.SetDNS("A", "1.2.0.192.zen.example", "10.0.0.1") }},
		{name: "second zone, 4xx", ip: "192.0.2.1", want: sluice.VerdictTempfail, code: 450,
			cfg:  `{"zones": ["a.example", "b.example"], "code": 450, "message": "in %zone%"}`,
			text: "in b.example", tag: "b.example",
			dns: func(s *sluicetest.Session) {
				s.SetDNSTemporary("1.2.0.192.a.example")
				s.SetDNS("A", "1.2.0.192.b.example", "127.0.0.2")
			}},
		{name: "first zone wins", ip: "192.0.2.1", want: sluice.VerdictReject, code: 554,
			cfg:  `{"zones": ["a.example", "b.example"]}`,
			text: "Client listed by a.example", tag: "a.example",
			dns: func(s *sluicetest.Session) {
				s.SetDNS("A", "1.2.0.192.a.example", "127.0.0.2")
				s.SetDNS("A", "1.2.0.192.b.example", "127.0.0.3")
			}},
		{name: "tag mode continues", ip: "192.0.2.1", want: sluice.VerdictContinue,
			cfg: `{"zones": ["zen.example"], "mode": "tag"}`, tag: "zen.example",
			dns: func(s *sluicetest.Session) { s.SetDNS("A", "1.2.0.192.zen.example", "127.0.0.2") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sluicetest.New()
			s.SetInfo(sluice.InfoClientIP, tt.ip)
			if tt.dns != nil {
				tt.dns(s)
			}
			cfg := tt.cfg
			if cfg == "" {
				cfg = `{"zones": ["zen.example"]}`
			}
			p := &dnsbl{}
			if err := s.Configure(p, cfg); err != nil {
				t.Fatal(err)
			}
			r := s.Connect(p)
			if r.Err != nil || r.Verdict != tt.want {
				t.Fatalf("Connect = %v, %v; want %v", r.Verdict, r.Err, tt.want)
			}
			if tt.code != 0 && (r.Reply == nil || r.Reply.Code != tt.code || r.Reply.Text != tt.text) {
				t.Errorf("reply = %+v, want %d %q", r.Reply, tt.code, tt.text)
			}
			if got := s.Tags()[tagListed]; got != tt.tag {
				t.Errorf("tag = %q, want %q", got, tt.tag)
			}
		})
	}
}

func TestTagModeHeader(t *testing.T) {
	s := sluicetest.New()
	s.SetDNS("A", "1.2.0.192.zen.example", "127.0.0.2")
	p := &dnsbl{}
	if err := s.Configure(p, `{"zones": ["zen.example"], "mode": "tag"}`); err != nil {
		t.Fatal(err)
	}
	if r := s.Connect(p); r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Connect = %v, %v", r.Verdict, r.Err)
	}
	s.SetEnvelope("a@example.org", "b@example.org")
	if err := s.SetMessage([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if r := s.Data(p); r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
	}
	if got := s.HeaderValues("X-DNSBL"); len(got) != 1 || strings.TrimSpace(got[0]) != "zen.example" {
		t.Errorf("X-DNSBL = %q", got)
	}
	// An unlisted session gets no header.
	s2 := sluicetest.New()
	s2.Configure(p, `{"zones": ["zen.example"], "mode": "tag"}`)
	s2.Connect(p)
	s2.SetEnvelope("a@example.org", "b@example.org")
	s2.SetMessage([]byte("Subject: x\r\n\r\nbody\r\n"))
	s2.Data(p)
	if got := s2.HeaderValues("X-DNSBL"); len(got) != 0 {
		t.Errorf("unlisted: X-DNSBL = %q", got)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []string{
		`{}`,
		`{"zones": []}`,
		`{"zones": ["bad zone"]}`,
		`{"zones": ["-x.example"]}`,
		`{"zones": ["a..example"]}`,
		`{"zones": ["zen.example"], "mode": "drop"}`,
		`{"zones": ["zen.example"], "code": 250}`,
		`{"zones": ["zen.example"], "code": 554, "enhanced": "4.7.1"}`,
		`{"zones": ["zen.example"], "enhanced": "5.x.1"}`,
		`{"zones": ["zen.example"], "message": "bad\r\ntext"}`,
		`{"zones": ["zen.example"], "unknown": 1}`,
	} {
		if err := sluicetest.New().Configure(&dnsbl{}, cfg); err == nil {
			t.Errorf("Configure(%s) accepted", cfg)
		}
	}
}

func TestReversed(t *testing.T) {
	if got := reversed(mustAddr(t, "2001:db8::1")); got != v6name {
		t.Errorf("reversed v6 = %q", got)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
