package main

import (
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/plugins/internal/scanverdict/scantest"
	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func run(t *testing.T, cfg string, set func(s *sluicetest.Session)) (*sluicetest.Session, sluicetest.Result) {
	t.Helper()
	return scantest.Run(t, &clamav{}, "Subject: hi\r\nX-Virus-Scanned: forged\r\n\r\nbody\r\n", cfg, set)
}

func TestClamav(t *testing.T) {
	infected := sluice.ScanResult{Engine: sluice.EngineClamd, Infected: true, Virus: "Eicar-Signature"}
	_, r := run(t, `{"scanner": "virus"}`, func(s *sluicetest.Session) { s.SetScanResult("virus", infected) })
	if r.Verdict != sluice.VerdictReject || r.Reply.String() != "554 5.7.0 Virus found: Eicar-Signature" {
		t.Errorf("infected: %v %v", r.Verdict, r.Reply)
	}
	_, r = run(t, `{"scanner": "virus", "action": "quarantine"}`, func(s *sluicetest.Session) { s.SetScanResult("virus", infected) })
	if r.Verdict != sluice.VerdictQuarantine || r.Reply == nil || r.Reply.Text != "Virus found: Eicar-Signature" {
		t.Errorf("quarantine: %v %v", r.Verdict, r.Reply)
	}
	s, r := run(t, `{"scanner": "virus"}`, func(s *sluicetest.Session) {
		s.SetScanResult("virus", sluice.ScanResult{Engine: sluice.EngineClamd})
	})
	if r.Verdict != sluice.VerdictContinue || !strings.Contains(string(s.Message()), "X-Virus-Scanned: clamav\r\n") ||
		strings.Contains(string(s.Message()), "forged") {
		t.Errorf("clean: %v\n%s", r.Verdict, s.Message())
	}
	_, r = run(t, `{"scanner": "virus"}`, func(s *sluicetest.Session) { s.SetScanError("virus", "connection refused") })
	if r.Verdict != sluice.VerdictTempfail || r.Reply.Code != 451 {
		t.Errorf("clamd down: %v %v", r.Verdict, r.Reply)
	}
	s, r = run(t, `{"scanner": "virus", "on_error": "continue"}`, func(s *sluicetest.Session) { s.SetScanError("virus", "timeout") })
	if r.Verdict != sluice.VerdictContinue || strings.Contains(string(s.Message()), "X-Virus-Scanned: clamav\r\n") {
		t.Errorf("on_error continue: %v\n%s", r.Verdict, s.Message())
	}
	sluicetest.ConfigCases(t, func() any { return &clamav{} }, []sluicetest.ConfigCase{
		{Name: "no scanner", JSON: `{}`, WantErr: "scanner: required"},
		{Name: "bad action", JSON: `{"scanner": "virus", "action": "drop"}`, WantErr: `action: "drop" is neither`},
	})
}
