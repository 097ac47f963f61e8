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

// hostile holds values no honest message or DNS answer has.
var hostile = &sluice.AuthResult{
	SPF: &sluice.SPFResult{Result: "PASS\r\n", Identity: "mailfrom", Domain: "example.org",
		Sender: `"a b"@example.org`, Reason: "x\x01y"},
	DKIM: []sluice.DKIMResult{
		{Result: "pass", Domain: "evil.example; dkim=pass", Selector: "s 1(x)", Signature: "ab/cd+ef=", Reason: "bad\r\n sig"},
		{Result: "fail", Domain: strings.Repeat("long-label.", 30) + "example", Selector: "s1",
			Reason: "signature did not verify (\"really\") \\ ; honest"},
	},
	DMARC: &sluice.DMARCResult{Result: "fail", FromDomain: "example.org\"; dmarc=pass", Policy: "reject", Percent: 100,
		Reason: strings.Repeat("r", maxComment+1)},
}

func TestRenderHostile(t *testing.T) {
	infos := resinfos(hostile)
	v := render(id, infos)
	want := []string{
		"dkim=pass header.d=\"evil.exampledkim=pass\" header.s=s1x header.b=\"ab/cd+ef=\";",
		"dkim=fail (signature did not verify really honest) header.d=" + strings.Repeat("long-label.", 23),
		"spf=pass smtp.mailfrom=example.org;", // the quoted local part does not survive: the domain
		"dmarc=fail header.from=\"example.orgdmarc=pass\"",
	}
	flat := unfold(v)
	for _, w := range want {
		if !strings.Contains(flat, w) {
			t.Errorf("field lacks %q:\n%s", w, v)
		}
	}
	// Sanitized values hold no ';': one per resinfo, after the id.
	if n := strings.Count(v, ";"); n != len(infos) {
		t.Errorf("%d semicolons for %d results:\n%s", n, len(infos), v)
	}
	for _, l := range strings.Split(fieldName+": "+v, "\r\n") {
		// The 255-byte header.d is one word: its line is long, the others not.
		if len(l) > maxLine && !strings.Contains(l, "long-label") {
			t.Errorf("line of %d bytes: %q", len(l), l)
		}
	}
	// The host takes it as a header value (sdk/ABI.md §4.4).
	s := sluicetest.New()
	s.SetEnvelope("a@example.org", "b@example.org")
	if err := s.SetMessage([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		h.InsertHeader(0, fieldName, v)
		setTags(h, hostile)
		return sluice.Continue
	}); r.Err != nil {
		t.Fatalf("host refused the field or tags: %v", r.Err)
	}
	tags := s.Tags()
	if tags[tagSPF] != "pass" || tags[tagDKIM] != "pass" || tags[tagDKIMDomains] != "evil.exampledkim=pass" ||
		tags[tagDomain] != "example.orgdmarc=pass" {
		t.Errorf("tags: %q", tags)
	}
}

func TestFolding(t *testing.T) {
	words := [][]string{
		{"dkim=pass", "header.d=" + strings.Repeat("d", 40) + ".example", "header.s=" + strings.Repeat("s", 30), "header.b=abcdefghijkl"},
		{"spf=pass", "(" + strings.Repeat("c", 60) + ")", "smtp.mailfrom=a@example.org"},
		{"dmarc=pass", "header.from=example.org"},
	}
	v := render(id, words)
	lines := strings.Split(fieldName+": "+v, "\r\n")
	for i, l := range lines {
		if len(l) > maxLine {
			t.Errorf("line %d of %d bytes: %q", i, len(l), l)
		}
		if i > 0 && !strings.HasPrefix(l, "\t") {
			t.Errorf("continuation line %d does not start with a tab: %q", i, l)
		}
	}
	if len(lines) != 6 { // id, dkim on 2, spf on 2, dmarc
		t.Errorf("%d lines:\n%s", len(lines), v)
	}
	if got := unfold(v); got != id+"; "+strings.Join([]string{
		strings.Join(words[0], " "), strings.Join(words[1], " "), strings.Join(words[2], " ")}, "; ") {
		t.Errorf("unfolded: %q", got)
	}
	if got := render(id, nil); got != id+"; none" {
		t.Errorf("no results: %q", got)
	}
}

func TestSanitizers(t *testing.T) {
	for in, want := range map[string]string{
		"example.org":   "example.org",
		"a@example.org": "a@example.org",
		"@example.org":  "@example.org",
		"ab/cd":         `"ab/cd"`,
		"ab+cd":         "ab+cd",
		"a=b":           `"a=b"`,
		"a.@b":          `"a.@b"`,
	} {
		if got := pvalue(in); got != want {
			t.Errorf("pvalue(%q) = %q, want %q", in, got, want)
		}
	}
	if got := value("a b\t(c);d\"e\\f\x00g\xffh"); got != "abcdefgh" {
		t.Errorf("value = %q", got)
	}
	if got := value(strings.Repeat("x", 300)); len(got) != maxValue {
		t.Errorf("value not cut: %d bytes", len(got))
	}
	if got := keyword("TempError"); got != "temperror" {
		t.Errorf("keyword = %q", got)
	}
	if got := keyword("\r\n"); got != "none" {
		t.Errorf("keyword of nothing = %q", got)
	}
	if got := comment("no DNS  record\tfound"); got != "no DNS record found" {
		t.Errorf("comment = %q", got)
	}
	if got := comment("caf\xc3\xa9"); got != "" {
		t.Errorf("non-ASCII comment = %q", got)
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
	if r.Err != nil || r.Verdict != sluice.Continue {
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
		return sluice.Continue
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
