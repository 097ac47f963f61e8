package policy

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the decoder's output")

// dump renders a policy as stable text for golden files: the testdata
// directory shows as $DIR and the machine's name as $HOSTNAME.
func dump(p *Policy, dir string) string {
	host := defaultHostname()
	clean := func(s string) string {
		s = strings.ReplaceAll(s, dir, "$DIR")
		if s == host {
			return "$HOSTNAME"
		}
		return s
	}
	rng := func(r hcl.Range) string {
		if r.Filename == "" {
			return "-"
		}
		return fmt.Sprintf("%s:%d:%d-%d:%d", filepath.Base(r.Filename), r.Start.Line, r.Start.Column, r.End.Line, r.End.Column)
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	l := p.Listen
	w("file %s", clean(p.File))
	w("listen %s", rng(l.Range))
	w("  address %q hostname %q", l.Address, clean(l.Hostname))
	w("  max_message_size %d max_recipients %d max_line_length %d", l.MaxMessageSize, l.MaxRecipients, l.MaxLineLength)
	w("  max_header_size %d max_header_fields %d", l.MaxHeaderSize, l.MaxHeaderFields)
	w("  max_connections %d max_connections_per_ip %d", l.MaxConnections, l.MaxConnectionsPerIP)
	w("  command_timeout %s data_timeout %s greet_delay %s", l.CommandTimeout, l.DataTimeout, l.GreetDelay)
	w("  bare_lf %s early_talker %s", l.BareLF, l.EarlyTalker)
	if l.TLS != nil {
		w("  tls cert %s key %s min_version %s", clean(l.TLS.CertFile), clean(l.TLS.KeyFile), l.TLS.MinVersion)
	}
	w("  xforward_peers %v", l.XForwardPeers)
	w("  proxy_protocol %t proxy_trusted %v", l.ProxyProtocol, l.ProxyTrusted)
	u := p.Upstream
	w("upstream %s", rng(u.Range))
	w("  address %q maildir %q helo %q", u.Address, clean(u.Maildir), clean(u.Helo))
	w("  connect_timeout %s command_timeout %s data_timeout %s", u.ConnectTimeout, u.CommandTimeout, u.DataTimeout)
	w("  xclient %t xforward %t", u.XClient, u.XForward)
	w("  tls %s ca_file %q %s server_name %q", u.TLS, clean(u.TLSCAFile), rng(u.TLSCAFileRange), u.TLSServerName)
	for _, pl := range p.Plugins {
		w("plugin %q %s", pl.Name, rng(pl.DefRange))
		w("  wasm %s %s", clean(pl.Wasm), rng(pl.WasmRange))
		w("  config %s %s", pl.Config, rng(pl.ConfigRange))
		w("  timeout %s memory %d on_error %s", pl.Timeout, pl.Memory, pl.OnError)
		w("  grants %q %s", pl.Grants, rng(pl.GrantsRange))
		w("  breaker %d %d %g %s %s", pl.BreakerThreshold, pl.BreakerWindow, pl.BreakerFaultRate, pl.BreakerBackoff, pl.BreakerMaxBackoff)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	t.Setenv("SLUICE_TEST_DOMAIN", "")
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p, diags := Load(file)
			if len(diags) > 0 {
				var b strings.Builder
				WriteDiagnostics(&b, diags)
				t.Fatalf("valid policy has diagnostics:\n%s", b.String())
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if p.Hash != sha256.Sum256(src) {
				t.Error("Hash is not the SHA-256 of the source")
			}
			for _, pl := range p.Plugins {
				if !json.Valid(pl.Config) {
					t.Errorf("plugin %s: config is not JSON: %s", pl.Name, pl.Config)
				}
			}
			got := dump(p, dir)
			golden := strings.TrimSuffix(file, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("decoded policy differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestSyntaxErrorGivesNoPolicy(t *testing.T) {
	p, diags := Parse([]byte("listen {\n"), "policy.hcl")
	if p != nil {
		t.Errorf("policy from a syntax error: %+v", p)
	}
	if !diags.HasErrors() {
		t.Error("no error for a syntax error")
	}
}

func TestPartialPolicyOnErrors(t *testing.T) {
	// A policy with errors is still returned so tools can go on checking
	// plugins, with invalid values left at their defaults.
	src := okListen + okUpstream + `plugin "a" {
  wasm    = "a.wasm"
  timeout = "forever"
}
plugin "b" {
  wasm = "b.wasm"
}
`
	p, diags := Parse([]byte(src), "/srv/sluice/policy.hcl")
	if !diags.HasErrors() {
		t.Fatal("expected an error")
	}
	if p == nil || len(p.Plugins) != 2 {
		t.Fatalf("want both plugins despite the error, got %+v", p)
	}
	if p.Plugins[0].Timeout != defaultPluginTimeout {
		t.Errorf("invalid timeout left %s, want the default", p.Plugins[0].Timeout)
	}
	if p.Plugins[1].Wasm != "/srv/sluice/b.wasm" {
		t.Errorf("wasm = %q", p.Plugins[1].Wasm)
	}
}

func TestDefaults(t *testing.T) {
	p, diags := Parse([]byte(okBoth+"plugin \"p\" {\n  wasm = \"p.wasm\"\n}\n"), "policy.hcl")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	host := defaultHostname()
	l, u, pl := p.Listen, p.Upstream, p.Plugins[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"hostname", l.Hostname, host},
		{"max_message_size", l.MaxMessageSize, int64(25 << 20)},
		{"max_recipients", l.MaxRecipients, 1000},
		{"max_line_length", l.MaxLineLength, 2048},
		{"max_header_size", l.MaxHeaderSize, 512 << 10},
		{"max_header_fields", l.MaxHeaderFields, 10000},
		{"max_connections", l.MaxConnections, 1000},
		{"max_connections_per_ip", l.MaxConnectionsPerIP, 50},
		{"command_timeout", l.CommandTimeout.String(), "5m0s"},
		{"data_timeout", l.DataTimeout.String(), "10m0s"},
		{"greet_delay", l.GreetDelay.String(), "0s"},
		{"junk_command_limit", l.JunkCommandLimit, 100},
		{"hard_error_limit", l.HardErrorLimit, 20},
		{"bare_lf", l.BareLF, "normalize"},
		{"early_talker", l.EarlyTalker, "reject"},
		{"tls", l.TLS == nil, true},
		{"helo", u.Helo, host},
		{"connect_timeout", u.ConnectTimeout.String(), "10s"},
		{"upstream command_timeout", u.CommandTimeout.String(), "1m0s"},
		{"upstream data_timeout", u.DataTimeout.String(), "1m30s"},
		{"plugin timeout", pl.Timeout.String(), "200ms"},
		{"plugin memory", pl.Memory, uint64(64 << 20)},
		{"plugin on_error", pl.OnError, "tempfail"},
		{"plugin config", string(pl.Config), "{}"},
		{"plugin grants", len(pl.Grants), 0},
		{"plugin kv_quota", pl.KVQuota, int64(64 << 20)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSessionLimits(t *testing.T) {
	src := "listen {\n  address = \":25\"\n  junk_command_limit = 7\n  hard_error_limit = 3\n}\n" + okUpstream
	p, diags := Parse([]byte(src), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if l := p.Listen; l.JunkCommandLimit != 7 || l.HardErrorLimit != 3 {
		t.Fatalf("junk_command_limit %d hard_error_limit %d", l.JunkCommandLimit, l.HardErrorLimit)
	}
}

func TestHeloDefaultsToListenHostname(t *testing.T) {
	src := "listen {\n  address = \":25\"\n  hostname = \"mx.example.org\"\n}\n" + okUpstream
	p, diags := Parse([]byte(src), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if p.Upstream.Helo != "mx.example.org" {
		t.Errorf("helo = %q, want the listen hostname", p.Upstream.Helo)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("SLUICE_TEST_HOST", "mx1.example.net")
	t.Setenv("SLUICE_TEST_UNSET", "")
	src := `listen {
  address  = "127.0.0.1:2525"
  hostname = env("SLUICE_TEST_HOST")
}
upstream {
  address = env("SLUICE_TEST_UNSET", "127.0.0.1:10025")
  helo    = upper(env("SLUICE_TEST_UNSET", "fallback.example"))
  xclient = true
}
plugin "p" {
  wasm   = "p.wasm"
  config = {
    empty   = env("SLUICE_TEST_UNSET")
    set     = env("SLUICE_TEST_HOST", "ignored")
    joined  = join(",", concat(["a"], ["b"]))
    first   = coalesce(env("SLUICE_TEST_UNSET"), "second")
    greeted = format("hello %s", lower("WORLD"))
  }
}
`
	p, diags := Parse([]byte(src), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if p.Listen.Hostname != "mx1.example.net" {
		t.Errorf("hostname = %q", p.Listen.Hostname)
	}
	if p.Upstream.Address != "127.0.0.1:10025" || p.Upstream.Helo != "FALLBACK.EXAMPLE" {
		t.Errorf("upstream = %+v", p.Upstream)
	}
	want := `{"empty":"","first":"second","greeted":"hello world","joined":"a,b","set":"mx1.example.net"}`
	if string(p.Plugins[0].Config) != want {
		t.Errorf("config = %s, want %s", p.Plugins[0].Config, want)
	}
}

func TestLocals(t *testing.T) {
	// Locals may be used before they are defined and across blocks.
	src := `locals {
  url = "${local.host}:${local.port}"
}
locals {
  host = "127.0.0.1"
  port = 10025
}
listen {
  address = ":25"
}
upstream {
  address = local.url
  xclient = true
}
`
	p, diags := Parse([]byte(src), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if p.Upstream.Address != "127.0.0.1:10025" {
		t.Errorf("address = %q", p.Upstream.Address)
	}
}

func TestPaths(t *testing.T) {
	src := okListen + `upstream {
  maildir = "../var/mail"
}
plugin "rel" {
  wasm = "plugins/rel.wasm"
}
plugin "abs" {
  wasm = "/opt/abs.wasm"
}
plugin "up" {
  wasm = "./x/../../up.wasm"
}
`
	p, diags := Parse([]byte(src), "/srv/sluice/policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	for i, want := range []string{"/srv/sluice/plugins/rel.wasm", "/opt/abs.wasm", "/srv/up.wasm"} {
		if got := p.Plugins[i].Wasm; got != want {
			t.Errorf("plugin %d wasm = %q, want %q", i, got, want)
		}
	}
	if p.Upstream.Maildir != "/srv/var/mail" {
		t.Errorf("maildir = %q", p.Upstream.Maildir)
	}
	if p.File != "/srv/sluice/policy.hcl" {
		t.Errorf("file = %q", p.File)
	}

	// A relative policy file name resolves against the working directory.
	p, diags = Parse([]byte(src), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "plugins/rel.wasm"); p.Plugins[0].Wasm != want {
		t.Errorf("wasm = %q, want %q", p.Plugins[0].Wasm, want)
	}
}

func TestPluginRanges(t *testing.T) {
	src := okBoth + `plugin "dkim" {
  config = { a = 1 }
  wasm   = "dkim.wasm"
}
`
	p, diags := Parse([]byte(src), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	pl := p.Plugins[0]
	if r := pl.DefRange; r.Start.Line != 7 || r.Start.Column != 1 || r.End.Column != 14 {
		t.Errorf("DefRange = %v, want the `plugin \"dkim\"` header", r)
	}
	if r := pl.WasmRange; r.Start.Line != 9 || r.Start.Column != 3 {
		t.Errorf("WasmRange = %v", r)
	}
	if r := pl.ConfigRange; r.Start.Line != 8 || r.Start.Column != 3 {
		t.Errorf("ConfigRange = %v", r)
	}
	if r := p.Listen.Range; r.Start.Line != 1 {
		t.Errorf("listen Range = %v", r)
	}
	if r := p.Upstream.Range; r.Start.Line != 4 {
		t.Errorf("upstream Range = %v", r)
	}
}

func TestPluginOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString(okBoth)
	names := []string{"zeta", "alpha", "m1", "b-2", "c_3"}
	for _, n := range names {
		fmt.Fprintf(&b, "plugin %q {\n  wasm = \"%s.wasm\"\n}\n", n, n)
	}
	p, diags := Parse([]byte(b.String()), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	for i, n := range names {
		if p.Plugins[i].Name != n {
			t.Fatalf("plugin %d is %q, want %q (declaration order)", i, p.Plugins[i].Name, n)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.hcl")
	if err := os.WriteFile(path, []byte(okBoth), 0o600); err != nil {
		t.Fatal(err)
	}
	p, diags := Load(path)
	if len(diags) > 0 || p == nil || p.File != path {
		t.Fatalf("Load = %+v, %v", p, diags)
	}

	missing := filepath.Join(dir, "missing.hcl")
	p, diags = Load(missing)
	if p != nil || !diags.HasErrors() {
		t.Fatalf("Load(missing) = %+v, %v", p, diags)
	}
	var b strings.Builder
	WriteDiagnostics(&b, diags)
	if want := missing + ": Cannot read policy: no such file or directory\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// TestDocExample keeps the language reference in doc.go true: it must decode
// without diagnostics.
func TestDocExample(t *testing.T) {
	t.Setenv("MAIL_DOMAIN", "")
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, line := range strings.Split(string(doc), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			src.WriteString(code + "\n")
		}
	}
	p, diags := Parse([]byte(src.String()), "doc.hcl")
	if len(diags) > 0 {
		var b strings.Builder
		WriteDiagnostics(&b, diags)
		t.Fatalf("doc example:\n%s", b.String())
	}
	if p.Listen.Hostname != "mx.example.org" || len(p.Plugins) != 1 || string(p.Plugins[0].Config) != `{"header":"X-Tag"}` {
		t.Errorf("doc example decoded to %+v", p)
	}
}
