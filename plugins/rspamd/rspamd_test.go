package main

import (
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/plugins/internal/scanverdict/scantest"
	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const msg = "From: alice@example.org\r\nSubject: Hello\r\nX-Spam: forged\r\n\r\nbody\r\n"

func run(t *testing.T, cfg string, set func(s *sluicetest.Session)) (*sluicetest.Session, sluicetest.Result) {
	t.Helper()
	return scantest.Run(t, &rspamd{}, msg, cfg, set)
}

func header(t *testing.T, s *sluicetest.Session, name string) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(string(s.Message()), "\r\n") {
		if line == "" {
			break
		}
		if n, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(n, name) {
			out = append(out, v)
		}
	}
	return strings.Join(out, "|")
}

func result(action string) sluice.ScanResult {
	return sluice.ScanResult{Engine: sluice.EngineRspamd, Action: action, Score: 7.5, RequiredScore: 15,
		Symbols: []sluice.ScanSymbol{{Name: "BAYES_SPAM", Score: 5.1}, {Name: "R_DKIM_NA", Score: 0}}}
}

func TestActions(t *testing.T) {
	for _, c := range []struct {
		action, cfg string
		msg         string
		verdict     sluice.Verdict
		reply       string
		spam        string
		subject     string
	}{
		{action: "no action", verdict: sluice.VerdictContinue, subject: "Hello"},
		{action: "add header", verdict: sluice.VerdictContinue, spam: "Yes", subject: "Hello"},
		{action: "rewrite subject", verdict: sluice.VerdictContinue, subject: "*** SPAM *** Hello"},
		{action: "rewrite subject", cfg: `"subject_prefix": "[SPAM] "`, verdict: sluice.VerdictContinue, subject: "[SPAM] Hello"},
		{action: "greylist", verdict: sluice.VerdictTempfail, reply: "451 4.7.1 Greylisted, try again later", subject: "Hello"},
		{action: "greylist", cfg: `"greylist": "continue"`, verdict: sluice.VerdictContinue, subject: "Hello"},
		{action: "soft reject", verdict: sluice.VerdictTempfail, reply: "451 4.7.1 Try again later", subject: "Hello"},
		{action: "reject", verdict: sluice.VerdictReject, reply: "554 5.7.1 Spam message rejected", subject: "Hello"},
		{action: "reject", msg: "Gtube pattern\r\n", verdict: sluice.VerdictReject, reply: "554 5.7.1 Gtube pattern", subject: "Hello"},
	} {
		t.Run(c.action+c.cfg, func(t *testing.T) {
			cfg := `{"scanner": "spam"`
			if c.cfg != "" {
				cfg += ", " + c.cfg
			}
			s, r := run(t, cfg+"}", func(s *sluicetest.Session) {
				res := result(c.action)
				res.Message = c.msg
				s.SetScanResult("spam", res)
			})
			if r.Err != nil || r.Verdict != c.verdict {
				t.Fatalf("verdict %v, %v; want %v", r.Verdict, r.Err, c.verdict)
			}
			if c.reply != "" {
				if r.Reply == nil || r.Reply.String() != c.reply {
					t.Errorf("reply %v, want %s", r.Reply, c.reply)
				}
				return
			}
			if got := header(t, s, "X-Spam"); got != c.spam {
				t.Errorf("X-Spam = %q, want %q (a forged one removed)", got, c.spam)
			}
			if got := header(t, s, "X-Spam-Score"); got != "7.50 / 15.00" {
				t.Errorf("X-Spam-Score = %q", got)
			}
			if got := header(t, s, "X-Spam-Action"); got != c.action {
				t.Errorf("X-Spam-Action = %q", got)
			}
			if got := header(t, s, "X-Spam-Symbols"); got != "" {
				t.Errorf("X-Spam-Symbols without symbols_header: %q", got)
			}
			if got := header(t, s, "Subject"); got != c.subject {
				t.Errorf("Subject = %q, want %q", got, c.subject)
			}
		})
	}
}

func TestRspamdSubjectSymbolsAndMilter(t *testing.T) {
	s, r := run(t, `{"scanner": "spam", "symbols_header": true}`, func(s *sluicetest.Session) {
		res := result("rewrite subject")
		res.Subject = "[rspamd] Hello"
		res.AddHeaders = []sluice.ScanHeader{{Name: "X-Virus", Value: "no\r\n"}, {Name: "X-Top", Value: "1", Order: 1}, {Name: "bad name", Value: "x"}}
		res.RemoveHeaders = []sluice.ScanHeader{{Name: "From", Index: 1}}
		s.SetScanResult("spam", res)
	})
	if r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("%v %v", r.Verdict, r.Err)
	}
	if got := header(t, s, "Subject"); got != "[rspamd] Hello" {
		t.Errorf("Subject = %q", got)
	}
	if got := header(t, s, "X-Spam-Symbols"); got != "BAYES_SPAM(5.10), R_DKIM_NA(0.00)" {
		t.Errorf("X-Spam-Symbols = %q", got)
	}
	if got := header(t, s, "X-Virus"); got != "no" {
		t.Errorf("milter add X-Virus = %q", got)
	}
	if !strings.HasPrefix(string(s.Message()), "X-Top: 1\r\n") {
		t.Errorf("order 1 is not at the top:\n%s", s.Message())
	}
	if got := header(t, s, "From"); got != "" {
		t.Errorf("milter remove From[1] left %q", got)
	}
}

// A scanner that fails defers the message unless on_error = "continue";
// then it passes unscanned, without score headers.
func TestRspamdScannerDown(t *testing.T) {
	_, r := run(t, `{"scanner": "spam"}`, func(s *sluicetest.Session) { s.SetScanError("spam", "connection refused") })
	if r.Verdict != sluice.VerdictTempfail || r.Reply == nil || r.Reply.Code != 451 {
		t.Errorf("scanner down: %v %v", r.Verdict, r.Reply)
	}
	s, r := run(t, `{"scanner": "spam", "on_error": "continue"}`, func(s *sluicetest.Session) { s.SetScanError("spam", "timeout") })
	if r.Verdict != sluice.VerdictContinue || header(t, s, "X-Spam-Score") != "" {
		t.Errorf("on_error continue: %v, score %q", r.Verdict, header(t, s, "X-Spam-Score"))
	}
}

func TestRspamdConfig(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &rspamd{} }, []sluicetest.ConfigCase{
		{Name: "no scanner", JSON: `{}`, WantErr: "scanner: required"},
		{Name: "bad scanner", JSON: `{"scanner": "Spam!"}`, WantErr: "is not a scanner name"},
		{Name: "bad on_error", JSON: `{"scanner": "spam", "on_error": "reject"}`, WantErr: `on_error: "reject" is neither`},
		{Name: "bad greylist", JSON: `{"scanner": "spam", "greylist": "accept"}`, WantErr: `greylist: "accept" is neither`},
		{Name: "line break in prefix", JSON: `{"scanner": "spam", "subject_prefix": "a\nb"}`, WantErr: "subject_prefix:"},
		{Name: "unknown key", JSON: `{"scanner": "spam", "nope": 1}`, WantErr: "unknown key"},
	})
}
