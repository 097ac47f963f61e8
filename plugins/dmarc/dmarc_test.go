package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// session returns a data-phase session whose transaction has tags, as
// auth-results would have set them.
func session(t *testing.T, tags map[string]string) *sluicetest.Session {
	t.Helper()
	s := sluicetest.New()
	s.SetEnvelope("alice@example.org", "bob@example.com")
	if err := s.SetMessage([]byte("From: alice@example.org\r\nSubject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		for k, v := range tags {
			h.SetTag(k, v)
		}
		return sluice.VerdictContinue
	}); r.Err != nil {
		t.Fatal(r.Err)
	}
	return s
}

func failing(policy, pct string) map[string]string {
	m := map[string]string{tagDMARC: "fail", tagPolicy: policy, tagDomain: "example.org"}
	if pct != "" {
		m[tagPct] = pct
	}
	return m
}

// always and never are sample functions.
func always(int) bool { return true }
func never(int) bool  { return false }

func TestEnforce(t *testing.T) {
	const rejectText = "DMARC policy of example.org rejects this message"
	tests := []struct {
		name    string
		cfg     string
		tags    map[string]string
		sample  func(int) bool
		verdict sluice.Verdict
		action  string // "" = no tag
		text    string
	}{
		{name: "pass", tags: map[string]string{tagDMARC: "pass", tagPolicy: "reject", tagPct: "100"},
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "none result", tags: map[string]string{tagDMARC: "none", tagPolicy: "", tagPct: "0"},
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "temperror is not fail", tags: map[string]string{tagDMARC: "temperror", tagPolicy: "reject", tagPct: "100"},
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "reject", tags: failing("reject", "100"), verdict: sluice.VerdictReject, action: "reject", text: rejectText},
		{name: "reject, pct absent means 100", tags: failing("reject", ""), verdict: sluice.VerdictReject, action: "reject", text: rejectText},
		{name: "quarantine", tags: failing("quarantine", "100"), verdict: sluice.VerdictQuarantine, action: "quarantine"},
		{name: "policy none", tags: failing("none", "100"), verdict: sluice.VerdictContinue, action: "none"},
		{name: "reject sampled", tags: failing("reject", "30"), sample: always,
			verdict: sluice.VerdictReject, action: "reject", text: rejectText},
		{name: "reject not sampled quarantines", tags: failing("reject", "30"), sample: never,
			verdict: sluice.VerdictQuarantine, action: "quarantine"},
		{name: "quarantine sampled", tags: failing("quarantine", "30"), sample: always,
			verdict: sluice.VerdictQuarantine, action: "quarantine"},
		{name: "quarantine not sampled continues", tags: failing("quarantine", "30"), sample: never,
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "pct 0 never applies", tags: failing("reject", "0"), sample: always,
			verdict: sluice.VerdictQuarantine, action: "quarantine"},
		{name: "reject off", cfg: `{"reject": false}`, tags: failing("reject", "100"),
			verdict: sluice.VerdictQuarantine, action: "quarantine"},
		{name: "reject and quarantine off", cfg: `{"reject": false, "quarantine": false}`, tags: failing("reject", "100"),
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "quarantine off", cfg: `{"quarantine": false}`, tags: failing("quarantine", "100"),
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "quarantine off, reject kept", cfg: `{"quarantine": false}`, tags: failing("reject", "100"),
			verdict: sluice.VerdictReject, action: "reject", text: rejectText},
		{name: "quarantine off, reject not sampled", cfg: `{"quarantine": false}`, tags: failing("reject", "50"), sample: never,
			verdict: sluice.VerdictContinue, action: "none"},
		{name: "reject_text", cfg: `{"reject_text": "Forged sender (%domain%); see https://dmarc.org/"}`,
			tags: failing("reject", "100"), verdict: sluice.VerdictReject, action: "reject",
			text: "Forged sender (example.org); see https://dmarc.org/"},
		{name: "domain sanitized", tags: map[string]string{tagDMARC: "fail", tagPolicy: "reject", tagDomain: "ex ample.org;<b>\x7f\xff"},
			verdict: sluice.VerdictReject, action: "reject", text: "DMARC policy of example.orgb rejects this message"},
		{name: "no domain", tags: map[string]string{tagDMARC: "fail", tagPolicy: "reject"},
			verdict: sluice.VerdictReject, action: "reject", text: "DMARC policy of the sender's domain rejects this message"},
		{name: "policy in capitals", tags: failing("REJECT", "100"), verdict: sluice.VerdictReject, action: "reject", text: rejectText},
		{name: "unknown policy", tags: failing("bounce", "100"), verdict: sluice.VerdictContinue, action: "none"},
		{name: "bad pct means 100", tags: failing("reject", "lots"), verdict: sluice.VerdictReject, action: "reject", text: rejectText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := session(t, tt.tags)
			sample := tt.sample
			if sample == nil {
				sample = func(pct int) bool { t.Errorf("sampled with pct %d", pct); return true }
			}
			p := &enforcer{sample: sample}
			cfg := tt.cfg
			if cfg == "" {
				cfg = "{}"
			}
			if err := s.Configure(p, cfg); err != nil {
				t.Fatal(err)
			}
			r := s.Data(p)
			if r.Err != nil || r.Verdict != tt.verdict {
				t.Fatalf("Data = %v, %v; want %v", r.Verdict, r.Err, tt.verdict)
			}
			if tt.verdict == sluice.VerdictReject {
				if r.Reply.Code != 550 || r.Reply.Enhanced != "5.7.1" || r.Reply.Text != tt.text {
					t.Errorf("reply = %v, want 550 5.7.1 %s", r.Reply, tt.text)
				}
			}
			if got, ok := s.Tags()[tagAction]; got != tt.action || ok != (tt.action != "") {
				t.Errorf("%s = %q (%v), want %q", tagAction, got, ok, tt.action)
			}
		})
	}
}

func TestSampleGetsPct(t *testing.T) {
	var got []int
	p := &enforcer{sample: func(pct int) bool { got = append(got, pct); return pct > 50 }}
	for _, pct := range []string{"30", "70"} {
		s := session(t, failing("reject", pct))
		if err := s.Configure(p, `{}`); err != nil {
			t.Fatal(err)
		}
		s.Data(p)
	}
	if len(got) != 2 || got[0] != 30 || got[1] != 70 {
		t.Errorf("sample called with %v", got)
	}
}

func TestMissingTags(t *testing.T) {
	s := session(t, map[string]string{tagPolicy: "reject"})
	p := &enforcer{}
	if err := s.Configure(p, `{}`); err != nil {
		t.Fatal(err)
	}
	if r := s.Data(p); r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
	}
	logs := s.Logs()
	if len(logs) != 1 || logs[0].Level != sluice.LevelWarn || !strings.Contains(logs[0].Text, "auth-results") {
		t.Errorf("logs = %+v", logs)
	}
	if _, ok := s.Tags()[tagAction]; ok {
		t.Error("action tag set without a result")
	}
}

func TestQuarantineLogs(t *testing.T) {
	s := session(t, failing("quarantine", "100"))
	p := &enforcer{}
	s.Configure(p, `{}`)
	r := s.Data(p)
	logs := s.Logs()
	if len(logs) != 1 || logs[0].Level != sluice.LevelWarn || !strings.Contains(logs[0].Text, "example.org") {
		t.Errorf("logs = %+v", logs)
	}
	if r.Reply == nil || !strings.Contains(r.Reply.Text, "DMARC fail for example.org") {
		t.Errorf("reply = %+v, want the reason for X-Sluice-Quarantine", r.Reply)
	}
}

// TestSampleRandom checks the default sampler's bounds and that it gives
// both answers near the asked rate (the bounds fail with a probability
// below 1e-15).
func TestSampleRandom(t *testing.T) {
	const n = 2000
	for _, tt := range []struct{ pct, lo, hi int }{
		{0, 0, 0}, {100, n, n}, {50, 800, 1200}, {10, 100, 320},
	} {
		hits := 0
		for range n {
			if sampleRandom(tt.pct) {
				hits++
			}
		}
		if hits < tt.lo || hits > tt.hi {
			t.Errorf("pct %d: %d of %d sampled, want %d to %d", tt.pct, hits, n, tt.lo, tt.hi)
		}
	}
	// Through the plugin without a sample function: crypto/rand.
	p := &enforcer{}
	if err := sluicetest.New().Configure(p, `{}`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 200 {
		seen[p.action("reject", 50)] = true
	}
	if !seen["reject"] || !seen["quarantine"] || len(seen) != 2 {
		t.Errorf("actions at pct 50: %v", seen)
	}
}

func TestConfigure(t *testing.T) {
	for _, cfg := range []string{
		`{}`,
		`{"reject": false, "quarantine": true}`,
		`{"reject_text": "Rejected by the DMARC policy of %domain%"}`,
		`{"reject_text": "` + strings.Repeat("x", 400) + `"}`,
	} {
		if err := sluicetest.New().Configure(&enforcer{}, cfg); err != nil {
			t.Errorf("Configure(%s): %v", cfg, err)
		}
	}
	for cfg, want := range map[string]string{
		`{"rejects": true}`:                                           "unknown key",
		`{"reject": "yes"}`:                                           "config.reject: \"yes\" is not true or false",
		`{"reject_text": "bad\r\ntext"}`:                              "0x0d",
		`{"reject_text": "caf\u00e9"}`:                                "0xc3",
		`{"reject_text": "` + strings.Repeat("x", 401) + `"}`:         "400",
		`{"reject_text": "` + strings.Repeat("x", 150) + `%domain%"}`: "400",
	} {
		err := sluicetest.New().Configure(&enforcer{}, cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Configure(%s) = %v, want an error with %q", cfg, err, want)
		}
	}
}
