package main

import (
	"crypto/ed25519"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Tags hold sanitized values whatever the host returns.
func TestTagsHostile(t *testing.T) {
	hostile := &sluice.AuthResult{
		SPF:   &sluice.SPFResult{Result: "PASS\r\n", Identity: "mailfrom", Domain: "example.org"},
		DKIM:  []sluice.DKIMResult{{Result: "pass", Domain: "evil.example; dkim=pass"}},
		DMARC: &sluice.DMARCResult{Result: "fail", FromDomain: "example.org\"; dmarc=pass", Policy: "reject", Percent: 100},
	}
	s := sluicetest.New()
	s.SetEnvelope("a@example.org", "b@example.org")
	if err := s.SetMessage([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		setTags(h, hostile)
		return sluice.VerdictContinue
	}); r.Err != nil {
		t.Fatalf("host refused the tags: %v", r.Err)
	}
	tags := s.Tags()
	if tags[tagSPF] != "pass" || tags[tagDKIM] != "pass" || tags[tagDKIMDomains] != "evil.exampledkim=pass" ||
		tags[tagDomain] != "example.orgdmarc=pass" || tags[tagPolicy] != "reject" || tags[tagPct] != "100" {
		t.Errorf("tags: %q", tags)
	}
}

func TestRender(t *testing.T) {
	if got := render(id, ""); got != id+"; none" {
		t.Errorf("no results: %q", got)
	}
	if got := render(id, "dkim=none;\r\n\tspf=pass"); got != id+";\r\n\tdkim=none;\r\n\tspf=pass" {
		t.Errorf("render = %q", got)
	}
}

func TestBestDKIM(t *testing.T) {
	r := func(rs ...string) []sluice.DKIMResult {
		var out []sluice.DKIMResult
		for _, x := range rs {
			out = append(out, sluice.DKIMResult{Result: x})
		}
		return out
	}
	for _, tt := range []struct {
		in   []sluice.DKIMResult
		want string
	}{
		{nil, "none"},
		{r("none"), "none"},
		{r("fail", "pass"), "pass"},
		{r("none", "temperror", "fail"), "temperror"},
		{r("permerror", "fail"), "permerror"},
	} {
		if got := bestDKIM(tt.in); got != tt.want {
			t.Errorf("bestDKIM(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// noAuth is a host whose auth_check answers NOT_FOUND.
type noAuth struct{ sluice.Host }

func (noAuth) CheckAuth(sluice.AuthChecks) (*sluice.AuthResult, bool) { return nil, false }

func TestNoResults(t *testing.T) {
	s := env{from: "alice@example.org", msg: forged + msg}.session(t)
	p := &authResults{}
	if err := s.Configure(p, `{"authserv_id": "mx.example.org"}`); err != nil {
		t.Fatal(err)
	}
	r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict { return p.OnData(noAuth{h}) })
	if r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
	}
	if len(s.Tags()) != 0 {
		t.Errorf("tags: %v", s.Tags())
	}
	if n := len(s.HeaderValues(fieldName)); n != 2 { // the two foreign fields
		t.Errorf("%d fields left", n)
	}
	logs := s.Logs()
	if len(logs) == 0 || logs[len(logs)-1].Level != sluice.LevelWarn {
		t.Errorf("logs: %+v", logs)
	}
}

// TestGolden renders the field for a message the emulated host signed with
// a fixed key at its fixed clock, so every byte is reproducible.
func TestGolden(t *testing.T) {
	key := ed25519.NewKeyFromSeed([]byte("sluice auth-results golden seed!"))
	e := env{from: "alice@example.org", dns: map[string]string{
		"example.org":               spfPass,
		"_dmarc.example.org":        "v=DMARC1; p=quarantine; pct=50",
		"s1._domainkey.example.org": dkimRecord(key),
	}}
	s := e.session(t)
	s.SetDKIMKey("k", "example.org", "s1", key)
	if r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		if err := h.SignDKIM("k", sluice.DKIMOptions{}); err != nil {
			t.Error(err)
		}
		return sluice.VerdictContinue
	}); r.Err != nil {
		t.Fatal(r.Err)
	}
	run(t, s, `{"authserv_id": "mx.example.org"}`)
	got := fieldName + ": " + s.HeaderValues(fieldName)[0] + "\r\n"
	path := filepath.Join("testdata", "full.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("field\n%s\nwant (%s)\n%s", got, path, want)
	}
	checkLines(t, strings.TrimSuffix(got, "\r\n"))
}
