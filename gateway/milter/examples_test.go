package milter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/policy"
)

// The shipped milter example's Postfix timeouts cover the shipped policy's
// plugin timeouts: milter_command_timeout (one MAIL or RCPT event) and
// milter_content_timeout (end of message) exceed the sum of the plugins'
// per-call timeouts, so Sluice, not Postfix, answers a slow plugin with
// on_error's reply.
func TestExampleTimeoutsCoverPolicy(t *testing.T) {
	root := filepath.Join("..", "..")
	p, diags := policy.Load(filepath.Join(root, "policies", "postfix-milter.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var sum time.Duration
	for _, pl := range p.Plugins {
		sum += pl.Timeout
	}
	raw, err := os.ReadFile(filepath.Join(root, "examples", "postfix", "milter", "main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			params[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for _, name := range []string{"milter_command_timeout", "milter_content_timeout"} {
		d, err := time.ParseDuration(params[name])
		if err != nil {
			t.Fatalf("%s = %q: %v", name, params[name], err)
		}
		if d <= sum {
			t.Errorf("%s = %v does not exceed the policy's plugin timeouts (%v in all)", name, d, sum)
		}
	}
	for name, want := range map[string]string{"milter_default_action": "tempfail", "milter_protocol": "6"} {
		if params[name] != want {
			t.Errorf("%s = %q, want %q", name, params[name], want)
		}
	}
}
