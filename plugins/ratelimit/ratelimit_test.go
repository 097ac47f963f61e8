package main

import (
	"strings"
	"testing"
	"time"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const limited = "451 4.7.1 Rate limit exceeded, try again later"

func configured(t *testing.T, cfg string) (*sluicetest.Session, *ratelimit) {
	t.Helper()
	s := sluicetest.New()
	p := &ratelimit{}
	if err := s.Configure(p, cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return s, p
}

func check(t *testing.T, what string, r sluicetest.Result, want sluice.Verdict, reply string) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s: %v", what, r.Err)
	}
	if r.Verdict != want {
		t.Fatalf("%s = %v, want %v", what, r.Verdict, want)
	}
	if reply != "" && r.Reply.String() != reply {
		t.Fatalf("%s reply = %q, want %q", what, r.Reply, reply)
	}
}

func TestWindowBoundaries(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "client_ip", "limit": 3, "window": "1h"}]}`)
	mail := func(want sluice.Verdict) {
		t.Helper()
		check(t, "MAIL", s.Mail(p, "a@example.net"), want, "")
	}
	mail(sluice.VerdictContinue)
	s.Advance(10 * time.Minute)
	mail(sluice.VerdictContinue)
	mail(sluice.VerdictContinue) // exactly the limit
	r := s.Mail(p, "a@example.net")
	check(t, "MAIL limit+1", r, sluice.VerdictTempfail, limited)
	s.Advance(50*time.Minute - time.Millisecond) // just before the window ends
	mail(sluice.VerdictTempfail)
	s.Advance(time.Millisecond) // the window opened by the first MAIL ends
	mail(sluice.VerdictContinue)
	mail(sluice.VerdictContinue)
	mail(sluice.VerdictContinue)
	mail(sluice.VerdictTempfail)
	// Another client has its own counter.
	s.SetInfo(sluice.InfoClientIP, "192.0.2.2")
	mail(sluice.VerdictContinue)
	// IPv4-mapped IPv6 is the same client as IPv4.
	s.SetInfo(sluice.InfoClientIP, "::ffff:192.0.2.1")
	mail(sluice.VerdictTempfail)
}

func TestSender(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "sender", "limit": 1, "window": "1m"}]}`)
	check(t, "1", s.Mail(p, "Alice@Example.net"), sluice.VerdictContinue, "")
	check(t, "2", s.Mail(p, "alice@example.NET"), sluice.VerdictTempfail, limited)
	check(t, "other", s.Mail(p, "bob@example.net"), sluice.VerdictContinue, "")
	check(t, "null 1", s.Mail(p, ""), sluice.VerdictContinue, "")
	check(t, "null 2", s.Mail(p, ""), sluice.VerdictTempfail, limited)
	if v, ok := s.KV("rl1:sender:mail:60000:=<>"); !ok || string(v) != "2" {
		t.Errorf("null sender counter = %q, %v", v, ok)
	}
}

func TestSenderDomain(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "sender_domain", "limit": 2, "window": "1d"}], "code": 550}`)
	check(t, "1", s.Mail(p, "a@Example.net"), sluice.VerdictContinue, "")
	check(t, "2", s.Mail(p, "b@example.net."), sluice.VerdictContinue, "")
	check(t, "3", s.Mail(p, "c@EXAMPLE.NET"), sluice.VerdictReject, "550 5.7.1 Rate limit exceeded, try again later")
	check(t, "other domain", s.Mail(p, "c@example.org"), sluice.VerdictContinue, "")
	for range 5 { // not counted: no domain
		check(t, "null", s.Mail(p, ""), sluice.VerdictContinue, "")
	}
	s.Advance(24 * time.Hour)
	check(t, "next day", s.Mail(p, "c@example.net"), sluice.VerdictContinue, "")
}

func TestRecipient(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "recipient", "limit": 2, "window": "10m"}]}`)
	s.Mail(p, "a@x")
	check(t, "1", s.Rcpt(p, "Bob@example.org"), sluice.VerdictContinue, "")
	check(t, "other", s.Rcpt(p, "carol@example.org"), sluice.VerdictContinue, "")
	s.Mail(p, "z@x")
	check(t, "2", s.Rcpt(p, "bob@example.org"), sluice.VerdictContinue, "")
	check(t, "3", s.Rcpt(p, "BOB@example.org"), sluice.VerdictTempfail, limited)
	s.Advance(10 * time.Minute)
	check(t, "reset", s.Rcpt(p, "bob@example.org"), sluice.VerdictContinue, "")
}

func TestClientIPAtRcptAndRuleOrder(t *testing.T) {
	s, p := configured(t, `{"rules": [
		{"key": "client_ip", "limit": 3, "window": "1h", "phase": "rcpt"},
		{"key": "recipient", "limit": 1, "window": "1h"},
		{"key": "sender", "limit": 2, "window": "1h"}]}`)
	check(t, "MAIL", s.Mail(p, "a@x"), sluice.VerdictContinue, "")
	check(t, "MAIL again", s.Mail(p, "a@x"), sluice.VerdictContinue, "") // sender rule counts at mail
	check(t, "MAIL third", s.Mail(p, "a@x"), sluice.VerdictTempfail, limited)
	check(t, "r1", s.Rcpt(p, "r1@y"), sluice.VerdictContinue, "")
	check(t, "r1 again", s.Rcpt(p, "r1@y"), sluice.VerdictTempfail, limited)
	check(t, "r2", s.Rcpt(p, "r2@y"), sluice.VerdictContinue, "")
	check(t, "r3: client over", s.Rcpt(p, "r3@y"), sluice.VerdictTempfail, limited)
	// The refused r3 was not counted by the recipient rule after the client rule.
	if _, ok := s.KV("rl1:recipient:rcpt:3600000:=r3@y"); ok {
		t.Error("rule after the refusing one was counted")
	}
}

func TestLongValueHashed(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "recipient", "limit": 1, "window": "1h"}]}`)
	long := strings.Repeat("r", 240) + "@example.org"
	s.Mail(p, "a@x")
	check(t, "1", s.Rcpt(p, long), sluice.VerdictContinue, "")
	check(t, "other", s.Rcpt(p, "x"+long), sluice.VerdictContinue, "")
	check(t, "2", s.Rcpt(p, long), sluice.VerdictTempfail, limited)
	if k := storeKey("rl1:recipient:rcpt:3600000:", long); len(k) > 256 || !strings.Contains(k, ":#") {
		t.Errorf("key %q not hashed", k)
	}
}

func TestNoRulesForPhase(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "recipient", "limit": 1, "window": "1h"}]}`)
	for range 3 {
		check(t, "MAIL", s.Mail(p, "a@x"), sluice.VerdictContinue, "")
	}
}

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &ratelimit{} }, []sluicetest.ConfigCase{
		{Name: "empty", JSON: `{}`},
		{Name: "all", JSON: `{"rules": [{"key": "client_ip", "limit": 100, "window": "1h", "phase": "mail"},
			{"key": "sender", "limit": 10, "window": "90s", "phase": "rcpt"},
			{"key": "sender_domain", "limit": 1000, "window": "1d"},
			{"key": "recipient", "limit": 50, "window": "24d", "phase": "rcpt"}],
			"code": 450, "enhanced": "4.7.28", "message": "Slow down"}`},
		{Name: "typo", JSON: `{"rule": []}`, WantErr: `config.rule: unknown key`},
		{Name: "rule typo", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": "1h", "phsae": "mail"}]}`, WantErr: `config.rules[0].phsae: unknown key`},
		{Name: "unknown key", JSON: `{"rules": [{"key": "helo", "limit": 1, "window": "1h"}]}`, WantErr: "unknown key"},
		{Name: "missing key", JSON: `{"rules": [{"limit": 1, "window": "1h"}]}`, WantErr: "key is missing"},
		{Name: "unknown phase", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": "1h", "phase": "data"}]}`, WantErr: "unknown phase"},
		{Name: "recipient at mail", JSON: `{"rules": [{"key": "recipient", "limit": 1, "window": "1h", "phase": "mail"}]}`, WantErr: `only known in phase "rcpt"`},
		{Name: "limit 0", JSON: `{"rules": [{"key": "sender", "limit": 0, "window": "1h"}]}`, WantErr: "below 1"},
		{Name: "limit missing", JSON: `{"rules": [{"key": "sender", "window": "1h"}]}`, WantErr: "below 1"},
		{Name: "window missing", JSON: `{"rules": [{"key": "sender", "limit": 1}]}`, WantErr: "window is missing"},
		{Name: "window short", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": "999ms"}]}`, WantErr: "at least 1s"},
		{Name: "window long", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": "25d"}]}`, WantErr: "at most"},
		{Name: "window number", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": 60}]}`, WantErr: "must be a string"},
		{Name: "window bad", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": "hour"}]}`, WantErr: "not a duration"},
		{Name: "duplicate", JSON: `{"rules": [{"key": "sender", "limit": 1, "window": "1h"}, {"key": "sender", "limit": 5, "window": "60m"}]}`, WantErr: "same key, phase and window as rules[0]"},
		{Name: "code 250", JSON: `{"code": 250}`, WantErr: "not a 4xx or 5xx"},
		{Name: "class mismatch", JSON: `{"code": 550, "enhanced": "4.7.1"}`, WantErr: "does not match"},
		{Name: "bad enhanced", JSON: `{"enhanced": "4.7"}`, WantErr: "class.subject.detail"},
		{Name: "message CRLF", JSON: `{"message": "x\r\n250 ok"}`, WantErr: "0x0d"},
		{Name: "message long", JSON: `{"message": "` + strings.Repeat("m", 401) + `"}`, WantErr: "400"},
	})
}

// TestStoreFull: a counter that does not fit in the plugin's kv_quota
// (sdk/ABI.md §4.8) is not counted, with a warning; existing counters
// keep counting and limiting.
func TestStoreFull(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "sender", "limit": 1, "window": "1m"}]}`)
	check(t, "1", s.Mail(p, "alice@example.net"), sluice.VerdictContinue, "")
	s.SetKVQuota(s.KVUsage())
	check(t, "2", s.Mail(p, "alice@example.net"), sluice.VerdictTempfail, limited)
	check(t, "new sender", s.Mail(p, "bob@example.net"), sluice.VerdictContinue, "")
	check(t, "new sender again", s.Mail(p, "bob@example.net"), sluice.VerdictContinue, "")
	warned := false
	for _, l := range s.Logs() {
		warned = warned || l.Level == sluice.LevelWarn && strings.Contains(l.Text, "raise kv_quota")
	}
	if !warned {
		t.Errorf("no warning about the full store: %v", s.Logs())
	}
}

// A store that cannot answer (a shared Redis that is down): by default the
// mail goes on uncounted; with on_kv_error = "tempfail" it is deferred.
// Counting resumes with the store.
func TestOnKVError(t *testing.T) {
	s, p := configured(t, `{"rules": [{"key": "client_ip", "limit": 1, "window": "1h"}]}`)
	s.SetInfo(sluice.InfoClientIP, "192.0.2.1")
	s.SetKVDown(true)
	for range 3 {
		check(t, "MAIL, store down", s.Mail(p, "a@example.net"), sluice.VerdictContinue, "")
	}
	s.SetKVDown(false)
	check(t, "MAIL 1", s.Mail(p, "a@example.net"), sluice.VerdictContinue, "")
	check(t, "MAIL 2", s.Mail(p, "a@example.net"), sluice.VerdictTempfail, limited)

	s2, p2 := configured(t, `{"rules": [{"key": "client_ip", "limit": 1, "window": "1h"}], "on_kv_error": "tempfail"}`)
	s2.SetInfo(sluice.InfoClientIP, "192.0.2.1")
	s2.SetKVDown(true)
	check(t, "MAIL, store down", s2.Mail(p2, "a@example.net"), sluice.VerdictTempfail, "451 4.3.0 Temporary local problem, please try again later")
	if err := (&ratelimit{}).load(config{OnKVError: "x"}); err == nil || !strings.Contains(err.Error(), "on_kv_error") {
		t.Fatalf("bad on_kv_error: %v", err)
	}
}
