package main

import (
	"slices"
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const policy = `{
	"senders": {
		"old@example.org": "new@example.org",
		"@olddomain.example": "@newdomain.example",
		"keep@olddomain.example": "kept@example.org"
	},
	"recipients": {
		"postmaster@example.org": "admin@example.org",
		"@legacy.example": "@example.org",
		"boss@legacy.example": "ceo@example.org",
		"a@swap.example": "b@swap.example",
		"b@swap.example": "a@swap.example"
	}
}`

func configured(t *testing.T, cfg string) (*sluicetest.Session, *rewriter) {
	t.Helper()
	s := sluicetest.New()
	s.Grant(sluice.GrantEnvelope) // as the policy must (README: rewrite)
	p := &rewriter{}
	if err := s.Configure(p, cfg); err != nil {
		t.Fatal(err)
	}
	return s, p
}

func TestOnMail(t *testing.T) {
	tests := []struct {
		name, from, want string
	}{
		{"exact", "old@example.org", "new@example.org"},
		{"exact, any case", "OLD@Example.ORG", "new@example.org"},
		{"domain keeps the local part as written", "Bob.Smith@olddomain.example", "Bob.Smith@newdomain.example"},
		{"domain, any case", "bob@OldDomain.EXAMPLE", "bob@newdomain.example"},
		{"domain with a trailing dot", "bob@olddomain.example.", "bob@newdomain.example"},
		{"exact wins over domain", "keep@olddomain.example", "kept@example.org"},
		{"exact wins over domain, any case", "KEEP@OLDDOMAIN.example", "kept@example.org"},
		{"subdomain does not match", "bob@sub.olddomain.example", "bob@sub.olddomain.example"},
		{"other address", "older@example.org", "older@example.org"},
		{"null sender is never rewritten", "", ""},
		{"recipient table does not apply", "postmaster@example.org", "postmaster@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := configured(t, policy)
			r := s.Mail(p, tt.from)
			if r.Err != nil || r.Verdict != sluice.VerdictContinue {
				t.Fatalf("MAIL = %v, %v", r.Verdict, r.Err)
			}
			if got := s.MailFrom(); got != tt.want {
				t.Fatalf("sender = %q, want %q", got, tt.want)
			}
			if changed := len(s.Effects()) > 0; changed != (tt.from != tt.want) {
				t.Fatalf("effects = %q", s.Effects())
			}
		})
	}
}

func TestOnMailTooLong(t *testing.T) {
	s, p := configured(t, `{"senders": {"@a.example": "@`+strings.Repeat("d", 60)+`.`+strings.Repeat("e", 60)+`.`+strings.Repeat("f", 60)+`.example"}}`)
	from := strings.Repeat("l", 64) + "@a.example"
	if r := s.Mail(p, from); r.Err != nil || s.MailFrom() != from {
		t.Fatalf("%v: sender %q", r.Err, s.MailFrom())
	}
	if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn || !strings.Contains(logs[0].Text, "254") {
		t.Fatalf("logs = %+v", logs)
	}
}

func TestOnDataRecipients(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string // as a set, compared case-insensitively
	}{
		{"exact", []string{"postmaster@example.org"}, []string{"admin@example.org"}},
		{"exact, any case", []string{"PostMaster@EXAMPLE.org"}, []string{"admin@example.org"}},
		{"domain", []string{"alice@legacy.example"}, []string{"alice@example.org"}},
		{"domain, any case, local part kept", []string{"Alice@LEGACY.Example"}, []string{"Alice@example.org"}},
		{"exact wins over domain", []string{"boss@legacy.example"}, []string{"ceo@example.org"}},
		{"untouched", []string{"carol@example.net"}, []string{"carol@example.net"}},
		{"mixed", []string{"carol@example.net", "alice@legacy.example"}, []string{"carol@example.net", "alice@example.org"}},
		{"two map to one", []string{"alice@legacy.example", "ALICE@legacy.example"}, []string{"alice@example.org"}},
		{"two addresses map to one", []string{"postmaster@example.org", "admin@legacy.example"}, []string{"admin@example.org"}},
		{"target already a recipient", []string{"admin@example.org", "postmaster@example.org"}, []string{"admin@example.org"}},
		{"swap", []string{"a@swap.example", "b@swap.example"}, []string{"a@swap.example", "b@swap.example"}},
		{"half a swap", []string{"a@swap.example"}, []string{"b@swap.example"}},
		{"duplicate recipient", []string{"alice@legacy.example", "alice@legacy.example"}, []string{"alice@example.org"}},
		{"no domain", []string{"postmaster"}, []string{"postmaster"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := configured(t, policy)
			s.SetEnvelope("x@example.net", tt.in...)
			if err := s.SetMessage([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
				t.Fatal(err)
			}
			r := s.Data(p)
			if r.Err != nil || r.Verdict != sluice.VerdictContinue {
				t.Fatalf("DATA = %v, %v", r.Verdict, r.Err)
			}
			if got, want := set(s.Rcpts()), set(tt.want); !slices.Equal(got, want) {
				t.Fatalf("recipients = %q (effects %q), want %q", s.Rcpts(), s.Effects(), tt.want)
			}
			// Exact spelling of the added address is the configured one.
			for _, w := range tt.want {
				if !slices.Contains(s.Rcpts(), w) {
					t.Fatalf("recipients %q lack %q", s.Rcpts(), w)
				}
			}
			if unchanged := slices.Equal(set(tt.in), set(tt.want)); unchanged && len(s.Effects()) != 0 {
				t.Fatalf("effects for an unchanged list: %q", s.Effects())
			}
			if string(s.Message()) != "Subject: x\r\n\r\nbody\r\n" {
				t.Fatalf("message changed without headers = true: %q", s.Message())
			}
		})
	}
}

// TestRecipientEffects pins the order of the host calls: the new address is
// added before the old one is removed, so the list is never empty.
func TestRecipientEffects(t *testing.T) {
	s, p := configured(t, policy)
	s.SetEnvelope("x@example.net", "postmaster@example.org")
	s.SetMessage([]byte("\r\nbody\r\n"))
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	want := []string{`rcpt_add "admin@example.org"`, `rcpt_remove "postmaster@example.org"`}
	if got := s.Effects(); !slices.Equal(got, want) {
		t.Fatalf("effects = %q, want %q", got, want)
	}
}

// TestSenderNotRewrittenInData: the sender is OnMail's business; running
// data does not apply the table a second time.
func TestSenderNotRewrittenInData(t *testing.T) {
	s, p := configured(t, `{"senders": {"a@example.org": "b@example.org", "b@example.org": "c@example.org"}}`)
	if r := s.Mail(p, "a@example.org"); r.Err != nil || s.MailFrom() != "b@example.org" {
		t.Fatalf("%v %q", r.Err, s.MailFrom())
	}
	s.SetMessage([]byte("\r\nbody\r\n"))
	if r := s.Data(p); r.Err != nil || s.MailFrom() != "b@example.org" {
		t.Fatalf("%v %q", r.Err, s.MailFrom())
	}
}

func set(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, strings.ToLower(a))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestEnvelopeHostRules: an address the host would refuse in rcpt_remove or
// rcpt_add is left alone (with a warning) instead of causing a plugin error.
func TestEnvelopeHostRules(t *testing.T) {
	s, p := configured(t, policy)
	quoted := `"alice smith"@legacy.example`
	s.SetEnvelope("x@example.net", quoted, "bob@legacy.example")
	s.SetMessage([]byte("\r\nbody\r\n"))
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got, want := set(s.Rcpts()), set([]string{quoted, "bob@example.org"}); !slices.Equal(got, want) {
		t.Fatalf("recipients = %q", s.Rcpts())
	}
	var warned bool
	for _, l := range s.Logs() {
		warned = warned || l.Level == sluice.LevelWarn && strings.Contains(l.Text, "white space")
	}
	if !warned {
		t.Fatalf("logs = %+v", s.Logs())
	}

	s, p = configured(t, `{"senders": {"@a.example": "@b.example"}}`)
	if r := s.Mail(p, `"x y"@a.example`); r.Err != nil || s.MailFrom() != `"x y"@a.example` {
		t.Fatalf("%v %q", r.Err, s.MailFrom())
	}
}
