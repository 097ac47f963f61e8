package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wasm compiles testdata/NAME.wat into dir.
func wasm(t *testing.T, dir, name string) string {
	t.Helper()
	out := filepath.Join(dir, name+".wasm")
	if msg, err := exec.Command("wat2wasm", filepath.Join("testdata", name+".wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm (Debian package wabt; run make deps): %v\n%s", err, msg)
	}
	return out
}

func writePolicy(t *testing.T, dir, src string) string {
	t.Helper()
	p := filepath.Join(dir, "policy.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pluginPolicy compiles testdata/NAME.wat into a temp dir and writes there
// a policy listening on 127.0.0.1:2525, delivering to a maildir, with the
// plugin block plugin (its first line is line 3); it returns the policy's path.
func pluginPolicy(t *testing.T, name, plugin string) string {
	t.Helper()
	dir := t.TempDir()
	wasm(t, dir, name)
	return writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
`+plugin)
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append(args, "--cache-dir="), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckReportsPositions(t *testing.T) {
	dir := t.TempDir()
	wasm(t, dir, "stamp")
	wasm(t, dir, "command")
	cases := []struct {
		name, policy string
		want         []string
	}{
		{"unknown attribute", `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "a" {
  wasm = "stamp.wasm"
  colour = "blue"
}
`, []string{"policy.hcl:5:3: "}},
		{"missing module", `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "a" {
  wasm = "nope.wasm"
}
`, []string{"policy.hcl:4:3: Cannot read plugin module"}},
		{"command module", `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }

plugin "cmd" {
  wasm = "command.wasm"
}
`, []string{"policy.hcl:4:1: Plugin failed to load", "-buildmode=c-shared", "-mexec-model=reactor"}},
		{"bad duration", `listen {
  address = "127.0.0.1:2525"
  command_timeout = "5x"
}
upstream { maildir = "mail" }
`, []string{"policy.hcl:3:"}},
		{"missing CA file", `listen { address = "127.0.0.1:2525" }
upstream {
  address     = "127.0.0.1:10025"
  tls         = "required"
  tls_ca_file = "nope.pem"
}
`, []string{"policy.hcl:5:3: Cannot read TLS CA file", "no such file"}},
		{"CA file without certificates", `listen { address = "127.0.0.1:2525" }
upstream {
  address     = "127.0.0.1:10025"
  tls         = "required"
  tls_ca_file = "policy.hcl"
}
`, []string{"policy.hcl:5:3: Cannot read TLS CA file", "no PEM certificate found"}},
		{"DKIM key missing", `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
dkim_key "main" {
  domain           = "example.org"
  selector         = "s1"
  private_key_file = "keys/none.pem"
}
`, []string{"policy.hcl:6:3: Cannot use DKIM key", `dkim key "main"`, "file does not exist"}},
		{"DKIM key not a key", `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
dkim_key "main" {
  domain           = "example.org"
  selector         = "s1"
  private_key_file = "policy.hcl"
}
`, []string{"policy.hcl:6:3: Cannot use DKIM key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writePolicy(t, dir, tc.policy)
			code, _, stderr := runCLI("check", p)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	p := writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "stamp" { wasm = "stamp.wasm" }
`)
	if code, out, stderr := runCLI("check", p); code != 0 || !strings.Contains(out, "ok (1 plugins)") {
		t.Fatalf("valid policy: exit %d\n%s%s", code, out, stderr)
	}
}

func TestTestJSON(t *testing.T) {
	dir := t.TempDir()
	wasm(t, dir, "stamp")
	p := writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "stamp" { wasm = "stamp.wasm" }
`)
	out := runTestJSON(t, dir, p, 0)
	var res struct {
		Action  string
		Code    int
		Steps   []struct{ Plugin, Phase, Verdict string }
		Message string
		Tags    map[string]string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.Action != "accept" || res.Code != 250 || len(res.Steps) != 1 || res.Steps[0].Plugin != "stamp" ||
		res.Steps[0].Phase != "data" || res.Tags["stamped"] != "wat" {
		t.Fatalf("unexpected result: %+v", res)
	}
	if res.Message != "Subject: hi\r\nX-Stamp: wat\r\n\r\nbody\r\n" {
		t.Fatalf("message %q", res.Message)
	}
}

func TestUsage(t *testing.T) {
	if code, _, _ := runCLI("frobnicate"); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}

// runTestJSON runs `sluice test --json` of policy p on a small message from
// a@example.org to b@example.net, written in dir, checks its exit status
// and returns its output.
func runTestJSON(t *testing.T, dir, p string, wantCode int) string {
	t.Helper()
	eml := filepath.Join(dir, "m.eml")
	os.WriteFile(eml, []byte("Subject: hi\n\nbody\n"), 0o644)
	code, out, stderr := runCLI("test", "--policy", p, "--from", "a@example.org", "--rcpt", "b@example.net", "--json", eml)
	if code != wantCode {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	return out
}
