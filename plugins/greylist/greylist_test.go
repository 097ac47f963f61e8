package main

import (
	"strings"
	"testing"
	"time"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const greylisted = "451 4.7.1 Greylisted, please try again later"

func configured(t *testing.T, cfg string) (*sluicetest.Session, *greylist) {
	t.Helper()
	s := sluicetest.New()
	p := &greylist{}
	if err := s.Configure(p, cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return s, p
}

// try runs one transaction from client ip and checks the RCPT verdict.
func try(t *testing.T, s *sluicetest.Session, p *greylist, ip, from, to string, want sluice.Verdict) {
	t.Helper()
	if ip == "" {
		s.DeleteInfo(sluice.InfoClientIP) // the gateway knows no address
	} else {
		s.SetInfo(sluice.InfoClientIP, ip)
	}
	s.Mail(p, from)
	r := s.Rcpt(p, to)
	if r.Err != nil {
		t.Fatalf("RCPT %s %s->%s: %v", ip, from, to, r.Err)
	}
	if r.Verdict != want {
		t.Fatalf("RCPT %s %s->%s = %v, want %v", ip, from, to, r.Verdict, want)
	}
	if want == sluice.VerdictTempfail && r.Reply.String() != greylisted {
		t.Fatalf("reply = %q, want %q", r.Reply, greylisted)
	}
}

func TestRetryTiming(t *testing.T) {
	s, p := configured(t, `{}`)
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictTempfail)
	s.Advance(4*time.Minute + 59*time.Second)
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictTempfail) // too early
	s.Advance(time.Second)                                                              // exactly delay
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictContinue)
	// Passed: later mail passes at once, long after retry_window.
	s.Advance(20 * 24 * time.Hour)
	try(t, s, p, "192.0.2.77", "A@Example.NET", "B@example.org", sluice.VerdictContinue) // same /24, case-folded
	// A triplet differing in one part is new.
	try(t, s, p, "192.0.2.1", "a@example.net", "c@example.org", sluice.VerdictTempfail)
	try(t, s, p, "192.0.3.1", "a@example.net", "b@example.org", sluice.VerdictTempfail)
	try(t, s, p, "192.0.2.1", "x@example.net", "b@example.org", sluice.VerdictTempfail)
}

func TestRetryWindowExpires(t *testing.T) {
	s, p := configured(t, `{"delay": "10m", "retry_window": "1h"}`)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(time.Hour)
	// The first sighting is forgotten: this is a first sighting again.
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(9 * time.Minute)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(time.Minute)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictContinue)
}

// The store caps lifetimes near 24.8 days, so the default 35d acts as the cap.
func TestPassTTLCapped(t *testing.T) {
	s, p := configured(t, `{"auto_allow_after": 0}`)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictContinue)
	s.Advance(maxTTL - time.Second)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictContinue)
	s.Advance(maxTTL)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
}

func TestPassTTLRefreshedByUse(t *testing.T) {
	s, p := configured(t, `{"pass_ttl": "10d", "auto_allow_after": 0}`)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictContinue)
	s.Advance(9 * 24 * time.Hour)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictContinue) // refreshes
	s.Advance(9 * 24 * time.Hour)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictContinue)
	s.Advance(10 * 24 * time.Hour) // unused for pass_ttl: forgotten
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
}

func TestAutoAllow(t *testing.T) {
	s, p := configured(t, `{"auto_allow_after": 3}`)
	passTriplet := func(i int) {
		to := "r" + string(rune('0'+i)) + "@example.org"
		try(t, s, p, "198.51.100.9", "a@x", to, sluice.VerdictTempfail)
		s.Advance(5 * time.Minute)
		try(t, s, p, "198.51.100.9", "a@x", to, sluice.VerdictContinue)
	}
	passTriplet(1)
	passTriplet(2)
	// Not yet allowed: a new triplet is greylisted, from another network too.
	try(t, s, p, "198.51.100.9", "new@x", "n@example.org", sluice.VerdictTempfail)
	passTriplet(3)
	try(t, s, p, "198.51.100.200", "other@x", "z@example.org", sluice.VerdictContinue)
	try(t, s, p, "198.51.101.1", "other@x", "z@example.org", sluice.VerdictTempfail)
	if _, ok := s.KV(prefixAllowed + "198.51.100.0/24"); !ok {
		t.Error("network key not stored")
	}
}

func TestAutoAllowOff(t *testing.T) {
	s, p := configured(t, `{"auto_allow_after": 0, "delay": "1s"}`)
	for i := range 10 {
		to := strings.Repeat("r", i+1) + "@y"
		try(t, s, p, "192.0.2.1", "a@x", to, sluice.VerdictTempfail)
		s.Advance(time.Second)
		try(t, s, p, "192.0.2.1", "a@x", to, sluice.VerdictContinue)
	}
	try(t, s, p, "192.0.2.1", "a@x", "new@y", sluice.VerdictTempfail)
}

func TestAllowLists(t *testing.T) {
	s, p := configured(t, `{"allow_clients": ["203.0.113.0/25", "2001:db8::1", "::ffff:10.0.0.0/104"],
		"allow_recipients": ["postmaster@*", "abuse@example.org"]}`)
	try(t, s, p, "203.0.113.5", "a@x", "b@y", sluice.VerdictContinue)
	try(t, s, p, "203.0.113.200", "a@x", "b@y", sluice.VerdictTempfail)
	try(t, s, p, "2001:db8::1", "a@x", "b@y", sluice.VerdictContinue)
	try(t, s, p, "2001:db8::2", "a@x", "b@y", sluice.VerdictTempfail)
	try(t, s, p, "10.1.2.3", "a@x", "b@y", sluice.VerdictContinue)
	try(t, s, p, "::ffff:10.1.2.3", "a@x", "b@y", sluice.VerdictContinue)
	try(t, s, p, "192.0.2.1", "a@x", "PostMaster@Example.ORG", sluice.VerdictContinue)
	try(t, s, p, "192.0.2.1", "a@x", "abuse@example.org", sluice.VerdictContinue)
	try(t, s, p, "192.0.2.1", "a@x", "abuse@example.org.evil", sluice.VerdictTempfail)
	// Allowed mail leaves no state behind.
	if _, ok := s.KV(prefixSeen + "10.1.2.0/24\x00a@x\x00b@y"); ok {
		t.Error("allowed client recorded")
	}
}

func TestIPv6Prefix(t *testing.T) {
	s, p := configured(t, `{}`)
	try(t, s, p, "2001:db8:1:2::1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	try(t, s, p, "2001:db8:1:2:ffff::9", "a@x", "b@y", sluice.VerdictContinue) // same /64
	try(t, s, p, "2001:db8:1:3::1", "a@x", "b@y", sluice.VerdictTempfail)

	s, p = configured(t, `{"ipv6_prefix": 128, "ipv4_prefix": 32}`)
	try(t, s, p, "2001:db8::1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	try(t, s, p, "2001:db8::2", "a@x", "b@y", sluice.VerdictTempfail)
	try(t, s, p, "2001:db8::1", "a@x", "b@y", sluice.VerdictContinue)
	try(t, s, p, "192.0.2.1", "a@x", "b@y", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	try(t, s, p, "192.0.2.2", "a@x", "b@y", sluice.VerdictTempfail)
	try(t, s, p, "::ffff:192.0.2.1", "a@x", "b@y", sluice.VerdictContinue) // mapped = same client
}

func TestNullSender(t *testing.T) {
	s, p := configured(t, `{}`)
	try(t, s, p, "192.0.2.1", "", "b@y", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	try(t, s, p, "192.0.2.1", "", "b@y", sluice.VerdictContinue)
	if _, ok := s.KV(prefixPassed + "192.0.2.0/24\x00<>\x00b@y"); !ok {
		t.Error("null sender not stored as <>")
	}
}

func TestLongAddressesHashed(t *testing.T) {
	s, p := configured(t, `{}`)
	from := strings.Repeat("f", 200) + "@example.net"
	to := strings.Repeat("t", 200) + "@example.org"
	try(t, s, p, "2001:db8::1", from, to, sluice.VerdictTempfail)
	try(t, s, p, "2001:db8::1", from, "x"+to, sluice.VerdictTempfail) // a different hash
	s.Advance(5 * time.Minute)
	try(t, s, p, "2001:db8::1", from, to, sluice.VerdictContinue)
	if k := tripletKey("2001:db8::/64", from, to); len(prefixPassed)+len(k) > 256 || strings.Contains(k, "fff") {
		t.Errorf("long key not hashed: %d bytes", len(k))
	}
}

func TestBadClientAddressPasses(t *testing.T) {
	s, p := configured(t, `{}`)
	try(t, s, p, "", "a@x", "b@y", sluice.VerdictContinue) // info client.ip not found
	if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn {
		t.Errorf("logs = %v", logs)
	}
}

func TestConfiguredReply(t *testing.T) {
	s, p := configured(t, `{"code": 450, "enhanced": "4.2.0", "message": "Come back later"}`)
	s.Mail(p, "a@x")
	r := s.Rcpt(p, "b@y")
	if r.Err != nil || r.Verdict != sluice.VerdictTempfail || r.Reply.String() != "450 4.2.0 Come back later" {
		t.Fatalf("result = %v %v %v", r.Verdict, r.Reply, r.Err)
	}
}

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &greylist{} }, []sluicetest.ConfigCase{
		{Name: "empty", JSON: `{}`},
		{Name: "all", JSON: `{"delay": "90s", "retry_window": "2d", "pass_ttl": "35d", "auto_allow_after": 0,
			"ipv4_prefix": 32, "ipv6_prefix": 48, "allow_clients": ["10.0.0.0/8", "::1"],
			"allow_recipients": ["postmaster@*"], "code": 450, "enhanced": "4.7.26", "message": "Later"}`},
		{Name: "typo", JSON: `{"dealy": "5m"}`, WantErr: `config.dealy: unknown key`},
		{Name: "delay number", JSON: `{"delay": 300}`, WantErr: "must be a string"},
		{Name: "delay bad", JSON: `{"delay": "5 minutes"}`, WantErr: "not a duration"},
		{Name: "days bad", JSON: `{"pass_ttl": "1.5d"}`, WantErr: "whole number"},
		{Name: "delay too short", JSON: `{"delay": "500ms"}`, WantErr: "at least 1s"},
		{Name: "window not after delay", JSON: `{"delay": "1h", "retry_window": "1h"}`, WantErr: "longer than delay"},
		{Name: "window above store", JSON: `{"retry_window": "25d"}`, WantErr: "at most"},
		{Name: "pass_ttl zero", JSON: `{"pass_ttl": "0s"}`, WantErr: "at least 1s"},
		{Name: "auto negative", JSON: `{"auto_allow_after": -1}`, WantErr: "0 (off) or more"},
		{Name: "v4 prefix", JSON: `{"ipv4_prefix": 33}`, WantErr: "outside 1 to 32"},
		{Name: "v4 prefix zero", JSON: `{"ipv4_prefix": 0}`, WantErr: "outside 1 to 32"},
		{Name: "v6 prefix", JSON: `{"ipv6_prefix": 129}`, WantErr: "outside 1 to 128"},
		{Name: "bad cidr", JSON: `{"allow_clients": ["10.0.0.0/33"]}`, WantErr: "not a CIDR"},
		{Name: "bad ip", JSON: `{"allow_clients": ["example.org"]}`, WantErr: "not an IP address"},
		{Name: "empty glob", JSON: `{"allow_recipients": [""]}`, WantErr: "empty pattern"},
		{Name: "5xx code", JSON: `{"code": 550}`, WantErr: "not a 4xx"},
		{Name: "class mismatch", JSON: `{"enhanced": "5.7.1"}`, WantErr: "does not match"},
		{Name: "bad enhanced", JSON: `{"enhanced": "4.7"}`, WantErr: "class.subject.detail"},
		{Name: "message CRLF", JSON: `{"message": "a\r\n250 ok"}`, WantErr: "0x0d"},
	})
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"postmaster@*", "postmaster@example.org", true},
		{"postmaster@*", "POSTMASTER@x", true},
		{"postmaster@*", "xpostmaster@x", false},
		{"*@example.org", "a@example.org", true},
		{"*@example.org", "a@example.org.x", false},
		{"a?c@*", "abc@x", true},
		{"a?c@*", "ac@x", false},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b*", "xxbxxaxx", false},
		{"**", "", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Match(tt.s); got != tt.want {
			t.Errorf("%q.match(%q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}

// TestStoreFull: with the store at its kv_quota (sdk/ABI.md §4.8), a new
// triplet that cannot be recorded passes with a warning instead of being
// deferred for ever; a triplet recorded before still greylists.
func TestStoreFull(t *testing.T) {
	s, p := configured(t, `{}`)
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictTempfail)
	s.SetKVQuota(s.KVUsage()) // full: nothing more fits
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictTempfail)
	try(t, s, p, "198.51.100.1", "c@example.net", "d@example.org", sluice.VerdictContinue)
	warned := false
	for _, l := range s.Logs() {
		warned = warned || l.Level == sluice.LevelWarn && strings.Contains(l.Text, "raise kv_quota")
	}
	if !warned {
		t.Errorf("no warning about the full store: %v", s.Logs())
	}
	if _, ok := s.KV(prefixSeen + tripletKey("198.51.100.0/24", "c@example.net", "d@example.org")); ok {
		t.Error("half a triplet left in the store")
	}
}

// A store that cannot answer (a shared Redis that is down): by default the
// recipient is deferred, so no triplet passes unchecked; with on_kv_error
// = "continue" the mail goes through ungreylisted. Both recover with the
// store.
func TestOnKVError(t *testing.T) {
	s, p := configured(t, `{}`)
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictTempfail)
	s.Advance(5 * time.Minute)
	s.SetKVDown(true)
	for _, ip := range []string{"192.0.2.1", "198.51.100.1"} {
		s.SetInfo(sluice.InfoClientIP, ip)
		s.Mail(p, "a@example.net")
		r := s.Rcpt(p, "b@example.org")
		if r.Err != nil || r.Verdict != sluice.VerdictTempfail || r.Reply.String() != "451 4.3.0 Temporary local problem, please try again later" {
			t.Fatalf("store down, %s: %v %v %q", ip, r.Err, r.Verdict, r.Reply)
		}
	}
	s.SetKVDown(false)
	try(t, s, p, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictContinue) // it had waited

	s2, p2 := configured(t, `{"on_kv_error": "continue"}`)
	s2.SetKVDown(true)
	try(t, s2, p2, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictContinue)
	s2.SetKVDown(false)
	try(t, s2, p2, "192.0.2.1", "a@example.net", "b@example.org", sluice.VerdictTempfail)

	if err := (&greylist{}).load(config{OnKVError: "ignore"}); err == nil || !strings.Contains(err.Error(), "on_kv_error") {
		t.Fatalf("bad on_kv_error: %v", err)
	}
}
