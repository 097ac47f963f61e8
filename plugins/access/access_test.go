package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &access{} }, []sluicetest.ConfigCase{
		{Name: "senders", JSON: `{"deny_senders": ["*@spam.example"]}`},
		{Name: "all", JSON: `{"deny_senders": [""], "deny_recipients": ["a@b"], "allow_recipient_domains": ["example.org"],
			"code": 450, "enhanced": "4.7.26", "message": "Not now"}`},
		{Name: "4xx default enhanced", JSON: `{"deny_senders": ["x@y"], "code": 421}`},
		{Name: "empty is allowed", JSON: `{}`},
		{Name: "empty list as in policies/postfix-front.hcl", JSON: `{"deny_senders": []}`},
		{Name: "null code", JSON: `{"deny_senders": ["x@y"], "code": null}`},
		{Name: "typo", JSON: `{"deny_sender": ["x"]}`, WantErr: `config.deny_sender: unknown key`},
		{Name: "code 250", JSON: `{"deny_senders": ["x@y"], "code": 250}`, WantErr: "not a 4xx or 5xx"},
		{Name: "code 600", JSON: `{"deny_senders": ["x@y"], "code": 600}`, WantErr: "not a 4xx or 5xx"},
		{Name: "class mismatch", JSON: `{"deny_senders": ["x@y"], "code": 550, "enhanced": "4.7.1"}`, WantErr: "does not match"},
		{Name: "class mismatch 4xx default", JSON: `{"deny_senders": ["x@y"], "code": 451, "enhanced": "5.7.1"}`, WantErr: "does not match"},
		{Name: "bad enhanced", JSON: `{"deny_senders": ["x@y"], "enhanced": "5.7"}`, WantErr: "class.subject.detail"},
		{Name: "bad enhanced digits", JSON: `{"deny_senders": ["x@y"], "enhanced": "5.1234.1"}`, WantErr: "class.subject.detail"},
		{Name: "message CRLF", JSON: `{"deny_senders": ["x@y"], "message": "no\r\n250 ok"}`, WantErr: "0x0d"},
		{Name: "message too long", JSON: `{"deny_senders": ["x@y"], "message": "` + strings.Repeat("m", 401) + `"}`, WantErr: "400"},
		{Name: "pattern with space", JSON: `{"deny_recipients": ["a b@c"]}`, WantErr: "whitespace"},
		{Name: "domain with @", JSON: `{"allow_recipient_domains": ["@example.org"]}`, WantErr: "not a domain pattern"},
		{Name: "empty domain", JSON: `{"allow_recipient_domains": [""]}`, WantErr: "not a domain pattern"},
		{Name: "code as string", JSON: `{"deny_senders": ["x@y"], "code": "550"}`, WantErr: "config.code: \"550\" is not a whole number"},
	})
}

const policy = `{
	"deny_senders": ["*@spam.example", "", "bad?@example.com"],
	"deny_recipients": ["blocked@example.org"],
	"allow_recipient_domains": ["example.org", "*.example.org"]
}`

func TestOnMail(t *testing.T) {
	tests := []struct {
		from  string
		want  sluice.Verdict
		reply string
	}{
		{"bob@spam.example", sluice.VerdictReject, "550 5.7.1 Access denied"},
		{"Bob@SPAM.EXAMPLE", sluice.VerdictReject, "550 5.7.1 Access denied"},
		{"", sluice.VerdictReject, "550 5.7.1 Access denied"},
		{"bad1@example.com", sluice.VerdictReject, "550 5.7.1 Access denied"},
		{"bad12@example.com", sluice.VerdictContinue, ""},
		{"alice@example.net", sluice.VerdictContinue, ""},
		{"bob@spam.example.net", sluice.VerdictContinue, ""},
	}
	for _, tt := range tests {
		s := sluicetest.New()
		p := &access{}
		if err := s.Configure(p, policy); err != nil {
			t.Fatal(err)
		}
		r := s.Mail(p, tt.from)
		if r.Err != nil || r.Verdict != tt.want {
			t.Errorf("MAIL FROM:<%s> = %v, %v; want %v", tt.from, r.Verdict, r.Err, tt.want)
			continue
		}
		if tt.reply != "" && r.Reply.String() != tt.reply {
			t.Errorf("MAIL FROM:<%s> reply %q, want %q", tt.from, r.Reply, tt.reply)
		}
		if tt.want == sluice.VerdictReject {
			if logs := s.Logs(); len(logs) != 1 || !strings.Contains(logs[0].Text, "deny_senders") {
				t.Errorf("logs = %+v", logs)
			}
		}
	}
}

func TestOnRcpt(t *testing.T) {
	tests := []struct {
		rcpt string
		want sluice.Verdict
	}{
		{"alice@example.org", sluice.VerdictContinue},
		{"alice@EXAMPLE.ORG", sluice.VerdictContinue},
		{"alice@example.org.", sluice.VerdictContinue},
		{"alice@sub.example.org", sluice.VerdictContinue},
		{"alice@example.net", sluice.VerdictReject},
		{"alice@notexample.org", sluice.VerdictReject},
		{"blocked@example.org", sluice.VerdictReject},
		{"BLOCKED@example.org", sluice.VerdictReject},
		{"Postmaster", sluice.VerdictContinue},
		{"someone", sluice.VerdictReject},
	}
	for _, tt := range tests {
		s := sluicetest.New()
		p := &access{}
		if err := s.Configure(p, policy); err != nil {
			t.Fatal(err)
		}
		s.Mail(p, "alice@example.net")
		r := s.Rcpt(p, tt.rcpt)
		if r.Err != nil || r.Verdict != tt.want {
			t.Errorf("RCPT TO:<%s> = %v, %v; want %v", tt.rcpt, r.Verdict, r.Err, tt.want)
		}
	}
}

func TestTempfailCode(t *testing.T) {
	s := sluicetest.New()
	p := &access{}
	if err := s.Configure(p, `{"deny_recipients": ["*@old.example"], "code": 450, "message": "Mailbox moved, try later"}`); err != nil {
		t.Fatal(err)
	}
	s.Mail(p, "a@example.net")
	r := s.Rcpt(p, "x@old.example")
	if r.Err != nil || r.Verdict != sluice.VerdictTempfail || r.Reply.String() != "450 4.7.1 Mailbox moved, try later" {
		t.Fatalf("got %v %v %v", r.Verdict, r.Reply, r.Err)
	}
	if got := s.Rcpts(); len(got) != 0 {
		t.Fatalf("tempfailed recipient accepted: %q", got)
	}
	// Hooks without rules return at once and read nothing.
	if r := s.Mail(p, "anyone@spam.example"); r.Verdict != sluice.VerdictContinue {
		t.Fatalf("MAIL with no sender rules = %v", r.Verdict)
	}
}
