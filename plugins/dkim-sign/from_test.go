package main

import (
	"net/mail"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// fullFromDomain is fromDomain without the fast path.
func fullFromDomain(v string) string {
	list, err := mail.ParseAddressList(v)
	if err != nil || len(list) != 1 {
		return ""
	}
	return sluice.Domain(list[0].Address)
}

// The fast path reads the common forms and agrees with net/mail wherever
// it answers.
func TestSimpleFromDomain(t *testing.T) {
	for v, want := range map[string]string{
		"alice@Example.ORG":                 "example.org",
		"Alice <alice@example.org>":         "example.org",
		"Alice Liddell <a@sub.example.org>": "sub.example.org",
		"<a@example.org>":                   "example.org",
		"a@b <c@example.org>":               "example.org",
		"alice@example.org. ":               "example.org",
	} {
		got, ok := simpleFromDomain(v)
		if !ok || got != want {
			t.Errorf("simpleFromDomain(%q) = %q, %v; want %q", v, got, ok, want)
		}
	}
	for _, v := range []string{
		`"Alice, Bob" <a@example.org>`, "Alice (work) <a@example.org>", "a@example.org, b@example.net",
		"<a@b@example.org>", "Alice <a@example.org> trailing", "Alice a@example.org>", "<a@example.org",
		"group: a@example.org;", "a@[192.0.2.1]", "no address", "Alice\r\n <a@example.org>", "<@example.org>", "<a@>",
	} {
		if got, ok := simpleFromDomain(v); ok {
			t.Errorf("simpleFromDomain(%q) = %q; want it left to net/mail", v, got)
		}
	}
}

func FuzzSimpleFromDomain(f *testing.F) {
	for _, s := range []string{"alice@example.org", "Alice <a@example.org>", `"x" <a@b>`, "a@b, c@d", "<a@b@c>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := simpleFromDomain(v)
		if !ok {
			return
		}
		if want := fullFromDomain(v); want != "" && got != want {
			t.Fatalf("simpleFromDomain(%q) = %q, net/mail says %q", v, got, want)
		}
	})
}
