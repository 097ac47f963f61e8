package main

import (
	"slices"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// TestHello is the test the SDK README shows.
func TestHello(t *testing.T) {
	s := sluicetest.New()
	p := &hello{}
	if err := s.Configure(p, `{"header": "hi", "deny": "bad@example.com"}`); err != nil {
		t.Fatal(err)
	}

	r := s.Mail(p, "BAD@example.com")
	if r.Err != nil || r.Verdict != sluice.VerdictReject || r.Reply.String() != "550 5.7.1 Sender not welcome here" {
		t.Fatalf("MAIL: %v %v %v", r.Verdict, r.Reply, r.Err)
	}
	if r := s.Mail(p, "good@example.com"); r.Verdict != sluice.VerdictContinue {
		t.Fatalf("MAIL good: %v", r.Verdict)
	}

	s.SetEnvelope("alice@example.org", "bob@example.net")
	if err := s.SetMessage([]byte("Subject: test\n\nHello\n")); err != nil {
		t.Fatal(err)
	}
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := s.HeaderValues("X-Hello"); len(got) != 1 || got[0] != "hi" {
		t.Fatalf("X-Hello = %q", got)
	}
	if got := s.Effects(); !slices.Equal(got, []string{`header_add "X-Hello" "hi"`}) {
		t.Fatalf("effects = %q", got)
	}
}

func TestBadConfig(t *testing.T) {
	if err := sluicetest.New().Configure(&hello{}, `{"haeder": "x"}`); err == nil {
		t.Fatal("typo accepted")
	}
}
