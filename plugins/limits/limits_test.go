package main

import (
	"fmt"
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const policy = `{
	"default": {"max_size": "10KiB", "max_rcpts": 3},
	"senders": {"bulk@example.org": {"max_size": "50KiB", "max_rcpts": 5}},
	"domains": {"example.org": {"max_rcpts": 4}}
}`

const (
	sizeReply  = "552 5.3.4 Message size exceeds fixed maximum message size"
	rcptsReply = "452 4.5.3 Too many recipients"
)

func configured(t *testing.T, cfg string) (*sluicetest.Session, *limiter) {
	t.Helper()
	s := sluicetest.New()
	p := &limiter{}
	if err := s.Configure(p, cfg); err != nil {
		t.Fatal(err)
	}
	return s, p
}

// check compares a result with the expected verdict and reply ("" for none).
func check(t *testing.T, r sluicetest.Result, want sluice.Verdict, reply string) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("plugin error: %v", r.Err)
	}
	got := ""
	if r.Reply != nil {
		got = r.Reply.String()
	}
	if r.Verdict != want || got != reply {
		t.Fatalf("result = %v %q, want %v %q", r.Verdict, got, want, reply)
	}
}

func TestOnMail(t *testing.T) {
	tests := []struct {
		name, from, params string
		want               sluice.Verdict
	}{
		{"no SIZE", "a@example.net", "BODY=8BITMIME", sluice.VerdictContinue},
		{"no parameters", "a@example.net", "", sluice.VerdictContinue},
		{"at the default limit", "a@example.net", "SIZE=10240", sluice.VerdictContinue},
		{"above the default limit", "a@example.net", "SIZE=10241", sluice.VerdictReject},
		{"keyword case-insensitive", "a@example.net", "BODY=7BIT size=10241", sluice.VerdictReject},
		{"domain entry inherits max_size", "a@example.org", "SIZE=10241", sluice.VerdictReject},
		{"sender entry", "bulk@example.org", "SIZE=51200", sluice.VerdictContinue},
		{"sender entry, any case", "BULK@Example.ORG", "SIZE=51200", sluice.VerdictContinue},
		{"above the sender entry", "bulk@example.org", "SIZE=51201", sluice.VerdictReject},
		{"null sender gets the default", "", "SIZE=10241", sluice.VerdictReject},
		{"null sender within the default", "", "SIZE=100", sluice.VerdictContinue},
		{"out of range counts as too big", "bulk@example.org", "SIZE=99999999999999999999", sluice.VerdictReject},
		{"garbage is ignored", "a@example.net", "SIZE=lots", sluice.VerdictContinue},
		{"negative is ignored", "a@example.net", "SIZE=-1", sluice.VerdictContinue},
		{"21 digits are ignored", "a@example.net", "SIZE=999999999999999999999", sluice.VerdictContinue},
		{"empty is ignored", "a@example.net", "SIZE=", sluice.VerdictContinue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := configured(t, policy)
			s.SetEnvelope(tt.from)
			s.SetInfo(sluice.InfoMailParams, tt.params)
			r := s.Run(sluicetest.PhaseMail, p.OnMail)
			reply := ""
			if tt.want == sluice.VerdictReject {
				reply = sizeReply
			}
			check(t, r, tt.want, reply)
		})
	}
}

func TestOnMailNoSizeLimit(t *testing.T) {
	s, p := configured(t, `{"default": {"max_rcpts": 10}}`)
	s.SetEnvelope("a@example.net")
	s.SetInfo(sluice.InfoMailParams, "SIZE=99999999999999999999")
	check(t, s.Run(sluicetest.PhaseMail, p.OnMail), sluice.VerdictContinue, "")
}

func TestOnRcpt(t *testing.T) {
	tests := []struct {
		name, from string
		accepted   int // recipients already accepted
		want       sluice.Verdict
	}{
		{"first", "a@example.net", 0, sluice.VerdictContinue},
		{"reaches the default limit", "a@example.net", 2, sluice.VerdictContinue},
		{"one past the default limit", "a@example.net", 3, sluice.VerdictTempfail},
		{"well past", "a@example.net", 10, sluice.VerdictTempfail},
		{"reaches the domain limit", "x@example.org", 3, sluice.VerdictContinue},
		{"domain, any case", "x@EXAMPLE.ORG", 3, sluice.VerdictContinue},
		{"past the domain limit", "x@example.org", 4, sluice.VerdictTempfail},
		{"subdomain gets the default", "x@sub.example.org", 3, sluice.VerdictTempfail},
		{"reaches the sender limit", "bulk@example.org", 4, sluice.VerdictContinue},
		{"past the sender limit", "bulk@example.org", 5, sluice.VerdictTempfail},
		{"null sender gets the default", "", 3, sluice.VerdictTempfail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := configured(t, policy)
			var rcpts []string
			for i := range tt.accepted {
				rcpts = append(rcpts, fmt.Sprintf("r%d@example.net", i))
			}
			s.SetEnvelope(tt.from, rcpts...)
			r := s.Rcpt(p, "next@example.net")
			reply := ""
			if tt.want == sluice.VerdictTempfail {
				reply = rcptsReply
			}
			check(t, r, tt.want, reply)
		})
	}
}

// TestRcptSequence drives RCPT one by one: the limit+1th recipient and every
// later one are refused, the accepted ones stay.
func TestRcptSequence(t *testing.T) {
	s, p := configured(t, policy)
	if r := s.Mail(p, "a@example.net"); r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatal(r)
	}
	for i := range 6 {
		r := s.Rcpt(p, fmt.Sprintf("r%d@example.net", i))
		if want := i < 3; (r.Verdict == sluice.VerdictContinue) != want {
			t.Fatalf("RCPT %d: %v", i+1, r.Verdict)
		}
	}
	if n := len(s.Rcpts()); n != 3 {
		t.Fatalf("%d recipients accepted", n)
	}
}

func TestConfiguredCodes(t *testing.T) {
	s, p := configured(t, `{"default": {"max_size": 10, "max_rcpts": 1},
		"code_size": 452, "code_rcpts": 550, "enhanced_rcpts": "5.7.1"}`)
	s.SetEnvelope("a@example.net", "r@example.net")
	check(t, s.Rcpt(p, "s@example.net"), sluice.VerdictReject, "550 5.7.1 Too many recipients")
	s.SetInfo(sluice.InfoMailParams, "SIZE=11")
	check(t, s.Run(sluicetest.PhaseMail, p.OnMail), sluice.VerdictTempfail,
		"452 4.3.4 Message size exceeds fixed maximum message size")
}

// message is a test message of exactly n bytes whose fields are all written
// "Name: value", so messageSize counts it exactly.
func message(n int) string {
	head := "From: a@example.net\r\nSubject: a folded\r\n subject\r\n\r\n"
	body := strings.Repeat("x", n-len(head)-2) + "\r\n"
	return head + body
}

func TestMessageSize(t *testing.T) {
	tests := []struct {
		name, msg string
		want      int
	}{
		{"exact for Name: value", message(500), 500},
		{"no header", "\r\nbody\r\n", 8},
		{"empty body", "Subject: x\r\n\r\n", 14},
		// One byte over per field without a space after the colon.
		{"no space after the colon", "Subject:x\r\n\r\nb\r\n", 17}, // 16 bytes
		// The CRLF the host may add to a body without one is not counted.
		{"body without final CRLF", "Subject: x\r\n\r\nb", 15},
		{"8-bit bytes", "Subject: caf\xe9\r\n\r\n\xff\r\n", 20},
	}
	for _, tt := range tests {
		s, _ := configured(t, policy)
		s.SetEnvelope("a@example.net", "r@example.net")
		if err := s.SetMessage([]byte(tt.msg)); err != nil {
			t.Fatal(err)
		}
		var got int64
		s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict { got = messageSize(h); return sluice.VerdictContinue })
		if got != int64(tt.want) {
			t.Errorf("%s: messageSize = %d, want %d (message is %d bytes)", tt.name, got, tt.want, len(s.Message()))
		}
	}
	if n := len(message(500)); n != 500 {
		t.Fatalf("message(500) is %d bytes", n)
	}
}

func TestOnData(t *testing.T) {
	tests := []struct {
		name, from string
		size       int
		want       sluice.Verdict
	}{
		{"small", "a@example.net", 100, sluice.VerdictContinue},
		{"exactly at the limit", "a@example.net", 10240, sluice.VerdictContinue},
		{"one byte over", "a@example.net", 10241, sluice.VerdictReject},
		{"domain inherits the default size", "a@example.org", 10241, sluice.VerdictReject},
		{"sender entry", "bulk@example.org", 51200, sluice.VerdictContinue},
		{"over the sender entry", "Bulk@example.org", 51201, sluice.VerdictReject},
		{"null sender", "", 10241, sluice.VerdictReject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := configured(t, policy)
			s.SetEnvelope(tt.from, "r@example.net")
			if err := s.SetMessage([]byte(message(tt.size))); err != nil {
				t.Fatal(err)
			}
			reply := ""
			if tt.want == sluice.VerdictReject {
				reply = sizeReply
			}
			check(t, s.Data(p), tt.want, reply)
			if len(s.Effects()) != 0 {
				t.Fatalf("effects: %q", s.Effects())
			}
		})
	}
}

// TestDataCountsEarlierChanges: the size is the message as earlier plugins
// left it.
func TestDataCountsEarlierChanges(t *testing.T) {
	s, p := configured(t, `{"default": {"max_size": 500}}`)
	s.SetEnvelope("a@example.net", "r@example.net")
	s.SetMessage([]byte(message(500)))
	check(t, s.Data(p), sluice.VerdictContinue, "")
	s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		h.AddHeader("X-A", "")
		return sluice.VerdictContinue
	})
	check(t, s.Data(p), sluice.VerdictReject, sizeReply)
}
