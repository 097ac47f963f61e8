package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// defaultSetting is one setting a policy may leave out: what the policy
// decodes it to, what the component that applies it does with a zero
// value, and where the README lists it.
type defaultSetting struct {
	section, name string // README section heading and setting name
	policy, zero  any
}

// defaultSettings decodes a policy that sets nothing it may leave out.
func defaultSettings(t *testing.T) []defaultSetting {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	p, diags := Parse([]byte(`listen { address = "127.0.0.1:2525" }
upstream {
  address = "127.0.0.1:10025"
  xclient = true
}
resolver { servers = ["127.0.0.1:53"] }
plugin "p" { wasm = "p.wasm" }
`), filepath.Join(dir, "policy.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, u, pl := p.Listen, p.Upstream, p.Plugins[0]
	const (
		listen  = "Listener settings"
		up      = "Upstream settings"
		plugins = "Plugin settings"
	)
	return []defaultSetting{
		{listen, "max_message_size", l.MaxMessageSize, int64(smtpd.DefaultMaxMessageSize)},
		{listen, "max_recipients", l.MaxRecipients, smtpd.DefaultMaxRecipients},
		{listen, "max_line_length", l.MaxLineLength, smtpd.DefaultMaxLineLength},
		{listen, "command_timeout", l.CommandTimeout, smtpd.DefaultCommandTimeout},
		{listen, "data_timeout", l.DataTimeout, smtpd.DefaultDataTimeout},
		{listen, "junk_command_limit", l.JunkCommandLimit, smtpd.DefaultJunkCommandLimit},
		{listen, "hard_error_limit", l.HardErrorLimit, smtpd.DefaultHardErrorLimit},
		{listen, "max_connections", l.MaxConnections, smtpd.DefaultMaxConnections},
		{listen, "max_connections_per_ip", l.MaxConnectionsPerIP, smtpd.DefaultMaxConnectionsPerIP},
		{listen, "greet_delay", l.GreetDelay, time.Duration(0)},
		// Only the policy bounds the header (message.Limits' zero is no
		// limit), so these are checked against the README alone.
		{listen, "max_header_size", int64(l.MaxHeaderSize), nil},
		{listen, "max_header_fields", l.MaxHeaderFields, nil},
		{up, "connect_timeout", u.ConnectTimeout, upstream.DefaultConnectTimeout},
		{up, "command_timeout", u.CommandTimeout, upstream.DefaultCommandTimeout},
		{up, "data_timeout", u.DataTimeout, upstream.DefaultDataTimeout},
		{plugins, "timeout", pl.Timeout, wasmhost.DefaultTimeout},
		{plugins, "init_timeout", pl.InitTimeout, wasmhost.DefaultInitTimeout},
		{plugins, "memory", int64(pl.Memory), int64(wasmhost.DefaultMemoryLimit)},
		{plugins, "kv_quota", pl.KVQuota, int64(wasmhost.DefaultKVQuota)},
		{plugins, "breaker_threshold", pl.BreakerThreshold, wasmhost.DefaultBreakerThreshold},
		{plugins, "breaker_window", pl.BreakerWindow, wasmhost.DefaultBreakerWindow},
		{plugins, "breaker_fault_rate", pl.BreakerFaultRate, wasmhost.DefaultBreakerFaultRate},
		{plugins, "breaker_backoff", pl.BreakerBackoff, wasmhost.DefaultBreakerBackoff},
		{plugins, "breaker_max_backoff", pl.BreakerMaxBackoff, wasmhost.DefaultBreakerMaxBackoff},
		// The plugin host's own cap on a message is the listener's.
		{listen, "max_message_size", l.MaxMessageSize, int64(wasmhost.DefaultMaxMessageSize)},
		{plugins, "resolver timeout", p.Resolver.Timeout, dns.DefaultTimeout},
	}
}

// Every default is defined once, by the component that applies it: a
// policy that leaves a setting out gets what the component does with a
// zero value, so `sluice serve` and a component used on its own (tests,
// `sluice test`) agree.
func TestDefaultsAreTheComponents(t *testing.T) {
	for _, s := range defaultSettings(t) {
		if s.zero != nil && fmt.Sprint(s.policy) != fmt.Sprint(s.zero) {
			t.Errorf("%s: the policy's default is %v, the component's %v", s.name, s.policy, s.zero)
		}
	}
}

// The README's settings lists give the same defaults: "`name` (VALUE" in
// the setting's section, VALUE a size, a duration or a number.
func TestREADMEListsDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	section := func(heading string) string {
		i := strings.Index(readme, "### "+heading+"\n")
		if i < 0 {
			t.Fatalf("README has no %q section", heading)
		}
		s := readme[i+len(heading)+5:]
		if j := strings.Index(s, "\n#"); j >= 0 {
			s = s[:j]
		}
		return strings.Join(strings.Fields(s), " ")
	}
	for _, s := range defaultSettings(t) {
		name := s.name
		if name == "resolver timeout" {
			name = "timeout"
		}
		text := section(s.section)
		re := regexp.MustCompile("`" + regexp.QuoteMeta(name) + "` \\(([0-9.]+[A-Za-z]*)")
		if s.name == "resolver timeout" {
			re = regexp.MustCompile("`resolver` block's `timeout` is ([0-9.]+[A-Za-z]*)")
		}
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("README %q does not give %s's default as \"`%s` (VALUE\"", s.section, s.name, name)
			continue
		}
		var listed any
		switch s.policy.(type) {
		case time.Duration:
			d, err := time.ParseDuration(m[1])
			if err != nil {
				t.Errorf("README %s: %v", s.name, err)
			}
			listed = d
		case int64:
			n, err := parseSize(m[1])
			if err != nil {
				t.Errorf("README %s: %v", s.name, err)
			}
			listed = n
		default:
			listed = m[1]
		}
		if fmt.Sprint(listed) != fmt.Sprint(s.policy) {
			t.Errorf("README %q lists %s = %s; the default is %v", s.section, s.name, m[1], s.policy)
		}
	}
}
