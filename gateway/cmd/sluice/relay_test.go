package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/policy"
)

// `sluice check` warns, at the upstream's address, about an SMTP upstream
// that passes no client identity, and says why and what to do; it refuses
// proxy-filter mode without xforward_peers; a Maildir upstream or one with
// xclient gets nothing.
func TestCheckOpenRelayWarnings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, upstream string
		code           int
		want           string // "" = no diagnostic at all
	}{
		{"smtp without identity", "upstream {\n  address = \"127.0.0.1:10025\"\n}\n", 0,
			"policy.hcl:4:3: warning: Possible open relay: this SMTP upstream has neither xclient nor xforward, so the downstream MTA sees every client as Sluice's own address; stock Postfix trusts loopback (mynetworks)"},
		{"proxy filter without peers", "upstream {\n  address  = \"127.0.0.1:10025\"\n  xforward = true\n}\n", 1,
			"policy.hcl:5:3: Proxy-filter mode without xforward_peers: "},
		{"xclient", "upstream {\n  address = \"127.0.0.1:10025\"\n  xclient = true\n}\n", 0, ""},
		{"maildir", "upstream {\n  maildir = \"mail\"\n}\n", 0, ""},
	} {
		path := writePolicy(t, dir, "listen { address = \"127.0.0.1:2525\" }\n\n"+tc.upstream)
		code, _, stderr := runCLI("check", path)
		if code != tc.code || tc.want == "" && stderr != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: check = %d\n%s\nwant %d and %q", tc.name, code, stderr, tc.code, tc.want)
		}
	}
}

// `sluice serve --upstream ADDR` on a Maildir policy forwards over SMTP
// without XCLIENT: the build that serve prints says so.
func TestServeUpstreamOverrideWarns(t *testing.T) {
	path := writePolicy(t, t.TempDir(), "listen { address = \"127.0.0.1:2525\" }\nupstream {\n  maildir = \"mail\"\n}\n")
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	var lf loadFlags
	eng, err := lf.engine(ctx, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	gen, diags := build(ctx, path, eng, log, func(p *policy.Policy) { p.Upstream.Address, p.Upstream.Maildir = "127.0.0.1:10025", "" }, nil)
	if gen != nil {
		defer gen.Release()
	}
	var b strings.Builder
	policy.WriteDiagnostics(&b, diags)
	if diags.HasErrors() || !strings.Contains(b.String(), "policy.hcl:2:1: warning: Possible open relay") {
		t.Errorf("diagnostics:\n%s", b.String())
	}
}
