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
	return scantest.Run(t, &spamassassin{}, "Subject: hi\r\nX-Spam-Flag: NO\r\n\r\nbody\r\n", cfg, set)
}

func TestSpamassassin(t *testing.T) {
	spam := sluice.ScanResult{Engine: sluice.EngineSpamd, Spam: true, Score: 1000, RequiredScore: 5,
		Symbols: []sluice.ScanSymbol{{Name: "GTUBE"}, {Name: "MISSING_DATE"}}}
	s, r := run(t, `{"scanner": "sa"}`, func(s *sluicetest.Session) { s.SetScanResult("sa", spam) })
	m := string(s.Message())
	if r.Verdict != sluice.VerdictContinue || !strings.Contains(m, "X-Spam-Flag: YES\r\n") || strings.Contains(m, "X-Spam-Flag: NO") ||
		!strings.Contains(m, "X-Spam-Score: 1000.0\r\n") ||
		!strings.Contains(m, "X-Spam-Status: Yes, score=1000.0 required=5.0 tests=GTUBE,MISSING_DATE\r\n") {
		t.Errorf("no reject_score: %v\n%s", r.Verdict, m)
	}
	_, r = run(t, `{"scanner": "sa", "reject_score": 1000}`, func(s *sluicetest.Session) { s.SetScanResult("sa", spam) })
	if r.Verdict != sluice.VerdictReject || r.Reply.String() != "554 5.7.1 Spam message rejected (score 1000.0)" {
		t.Errorf("at reject_score: %v %v", r.Verdict, r.Reply)
	}
	s, r = run(t, `{"scanner": "sa", "reject_score": 10}`, func(s *sluicetest.Session) {
		s.SetScanResult("sa", sluice.ScanResult{Engine: sluice.EngineSpamd, Score: -0.5, RequiredScore: 5})
	})
	if m := string(s.Message()); r.Verdict != sluice.VerdictContinue || !strings.Contains(m, "X-Spam-Status: No, score=-0.5 required=5.0 tests=none\r\n") {
		t.Errorf("ham: %v\n%s", r.Verdict, m)
	}
	_, r = run(t, `{"scanner": "sa"}`, func(s *sluicetest.Session) { s.SetScanError("sa", "refused") })
	if r.Verdict != sluice.VerdictTempfail || r.Reply.Code != 451 {
		t.Errorf("spamd down: %v %v", r.Verdict, r.Reply)
	}
	_, r = run(t, `{"scanner": "sa", "on_error": "continue"}`, func(s *sluicetest.Session) { s.SetScanError("sa", "refused") })
	if r.Verdict != sluice.VerdictContinue {
		t.Errorf("on_error continue: %v", r.Verdict)
	}
}
