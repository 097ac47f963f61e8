package msgauth

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

// unfoldText joins folded lines.
func unfoldText(s string) string { return regexp.MustCompile(`\r\n[ \t]+`).ReplaceAllString(s, " ") }

// hostile holds values no honest message or DNS answer has.
var hostile = Result{
	SPF: &SPFResult{Result: "PASS\r\n", Identity: "mailfrom", Domain: "example.org",
		Sender: `"a b"@example.org`, Reason: "x\x01y"},
	DKIM: []DKIMResult{
		{Result: "pass", Domain: "evil.example; dkim=pass", Selector: "s 1(x)", Signature: "ab/cd+ef=", Reason: "bad\r\n sig"},
		{Result: "fail", Domain: strings.Repeat("long-label.", 30) + "example", Selector: "s1",
			Reason: "signature did not verify (\"really\") \\ ; honest"},
	},
	DMARC: &DMARCResult{Result: "fail", FromDomain: "example.org\"; dmarc=pass", Policy: "reject", Percent: 100,
		Reason: strings.Repeat("r", maxComment+1)},
}

// Hostile values cannot add results or break the field's syntax, and the
// field is one a plugin can add (sdk/ABI.md §4.4 rules).
func TestFormatHostile(t *testing.T) {
	v := hostile.Format()
	flat := unfoldText(v)
	for _, w := range []string{
		"dkim=pass header.d=\"evil.exampledkim=pass\" header.s=s1x header.b=\"ab/cd+ef=\";",
		"dkim=fail (signature did not verify really honest) header.d=" + strings.Repeat("long-label.", 23),
		"spf=pass smtp.mailfrom=example.org;", // the quoted local part does not survive: the domain
		"dmarc=fail header.from=\"example.orgdmarc=pass\"",
	} {
		if !strings.Contains(flat, w) {
			t.Errorf("result list lacks %q:\n%s", w, v)
		}
	}
	if n := strings.Count(v, ";"); n != 3 { // between the four results only
		t.Errorf("%d semicolons:\n%s", n, v)
	}
	field := "Authentication-Results: mx.example.org;\r\n\t" + v
	for _, l := range strings.Split(field, "\r\n") {
		if len(l) > maxLine && !strings.Contains(l, "long-label") { // one 255-byte word
			t.Errorf("line of %d bytes: %q", len(l), l)
		}
	}
	if err := message.ValidValue([]byte("Authentication-Results"), []byte("mx.example.org;\r\n\t"+v)); err != nil {
		t.Errorf("not a valid header value: %v", err)
	}
}

func TestFormatFolding(t *testing.T) {
	r := Result{
		DKIM:  []DKIMResult{{Result: "pass", Domain: strings.Repeat("d", 40) + ".example", Selector: strings.Repeat("s", 30), Signature: "abcdefghijkl"}},
		SPF:   &SPFResult{Result: "pass", Identity: "mailfrom", Domain: "example.org", Sender: "a@example.org", Reason: strings.Repeat("c", 60)},
		DMARC: &DMARCResult{Result: "pass", FromDomain: "example.org"},
	}
	v := r.Format()
	lines := strings.Split(v, "\r\n")
	for i, l := range lines {
		if len(l)+1 > maxLine { // +1: a continuation's TAB is in l, the first line's in the caller's
			t.Errorf("line %d of %d bytes: %q", i, len(l), l)
		}
		if i > 0 && !strings.HasPrefix(l, "\t") {
			t.Errorf("continuation line %d does not start with a tab: %q", i, l)
		}
	}
	if len(lines) != 5 { // dkim on 2, spf on 2, dmarc
		t.Errorf("%d lines:\n%s", len(lines), v)
	}
	want := "dkim=pass header.d=" + strings.Repeat("d", 40) + ".example header.s=" + strings.Repeat("s", 30) + " header.b=abcdefghijkl; " +
		"spf=pass (" + strings.Repeat("c", 60) + ") smtp.mailfrom=a@example.org; dmarc=pass header.from=example.org"
	if got := unfoldText(v); got != want {
		t.Errorf("unfolded:\n got %q\nwant %q", got, want)
	}
	if got := (Result{}).Format(); got != "" {
		t.Errorf("no results: %q", got)
	}
	if got := (Result{DKIM: []DKIMResult{{Result: "none"}}}).Format(); got != "dkim=none" {
		t.Errorf("no signature: %q", got)
	}
	helo := Result{SPF: &SPFResult{Result: "pass", Identity: "helo", Domain: "mail.example.org", Sender: "postmaster@mail.example.org"}}
	if got := helo.Format(); got != "spf=pass smtp.helo=mail.example.org" {
		t.Errorf("null sender: %q", got)
	}
}

func TestSanitizers(t *testing.T) {
	for in, want := range map[string]string{
		"example.org": "example.org", "a@example.org": "a@example.org", "@example.org": "@example.org",
		"ab/cd": `"ab/cd"`, "ab+cd": "ab+cd", "a=b": `"a=b"`, "a.@b": `"a.@b"`,
	} {
		if got := pvalue(in); got != want {
			t.Errorf("pvalue(%q) = %q, want %q", in, got, want)
		}
	}
	if got := comment("no DNS  record\tfound"); got != "no DNS record found" {
		t.Errorf("comment = %q", got)
	}
	if got := comment("caf\xc3\xa9"); got != "" {
		t.Errorf("non-ASCII comment = %q", got)
	}
}
