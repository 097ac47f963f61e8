package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func TestConfigure(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{"senders", `{"deny_senders": ["*@spam.example"]}`, ""},
		{"all", `{"deny_senders": [""], "deny_recipients": ["a@b"], "allow_recipient_domains": ["example.org"],
			"code": 450, "enhanced": "4.7.26", "message": "Not now"}`, ""},
		{"4xx default enhanced", `{"deny_senders": ["x@y"], "code": 421}`, ""},
		{"empty is allowed", `{}`, ""},
		{"empty list as in policies/postfix-front.hcl", `{"deny_senders": []}`, ""},
		{"null code", `{"deny_senders": ["x@y"], "code": null}`, ""},
		{"typo", `{"deny_sender": ["x"]}`, `config.deny_sender: unknown key`},
		{"code 250", `{"deny_senders": ["x@y"], "code": 250}`, "not a 4xx or 5xx"},
		{"code 600", `{"deny_senders": ["x@y"], "code": 600}`, "not a 4xx or 5xx"},
		{"class mismatch", `{"deny_senders": ["x@y"], "code": 550, "enhanced": "4.7.1"}`, "does not match"},
		{"class mismatch 4xx default", `{"deny_senders": ["x@y"], "code": 451, "enhanced": "5.7.1"}`, "does not match"},
		{"bad enhanced", `{"deny_senders": ["x@y"], "enhanced": "5.7"}`, "class.subject.detail"},
		{"bad enhanced digits", `{"deny_senders": ["x@y"], "enhanced": "5.1234.1"}`, "class.subject.detail"},
		{"message CRLF", `{"deny_senders": ["x@y"], "message": "no\r\n250 ok"}`, "0x0d"},
		{"message too long", `{"deny_senders": ["x@y"], "message": "` + strings.Repeat("m", 401) + `"}`, "400"},
		{"pattern with space", `{"deny_recipients": ["a b@c"]}`, "whitespace"},
		{"domain with @", `{"allow_recipient_domains": ["@example.org"]}`, "not a domain pattern"},
		{"empty domain", `{"allow_recipient_domains": [""]}`, "not a domain pattern"},
		{"code as string", `{"deny_senders": ["x@y"], "code": "550"}`, "config.code: \"550\" is not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sluicetest.New().Configure(&access{}, tt.json)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Configure error = %v, want %q", err, tt.wantErr)
			}
		})
	}
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
