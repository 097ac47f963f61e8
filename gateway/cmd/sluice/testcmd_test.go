package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decidePolicy writes a policy with testdata/decide.wat and a message
// without a final line break, and returns their paths.
func decidePolicy(t *testing.T) (policyPath, eml string) {
	t.Helper()
	dir := t.TempDir()
	wasm(t, dir, "decide")
	policyPath = writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "decide" { wasm = "decide.wasm" }
`)
	eml = filepath.Join(dir, "m.eml")
	if err := os.WriteFile(eml, []byte("Subject: hi\n\nlast line without a break"), 0o644); err != nil {
		t.Fatal(err)
	}
	return policyPath, eml
}

type testJSON struct {
	Action      string
	Code        int
	Tags        map[string]string
	Message     string
	RcptReplies []struct {
		Rcpt, Action, Enhanced, Text string
		Code                         int
	} `json:"rcpt_replies"`
}

// TestTestExitStatus: `sluice test` exits with the final action, in text
// and JSON mode alike (README "Command line").
func TestTestExitStatus(t *testing.T) {
	p, eml := decidePolicy(t)
	for _, tc := range []struct {
		name, from string
		rcpts      []string
		action     string
		status     int
	}{
		{"accept", "a@example.org", []string{"b@example.net"}, "accept", 0},
		{"reject", "a@example.org", []string{"x@example.net"}, "reject", 3},
		{"tempfail", "a@example.org", []string{"t@example.net"}, "tempfail", 4},
		{"discard", "d@example.org", []string{"b@example.net"}, "discard", 5},
		{"quarantine", "q@example.org", []string{"b@example.net"}, "quarantine", 6},
		{"one of two recipients refused", "a@example.org", []string{"x@example.net", "b@example.net"}, "accept", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"test", "--policy", p, "--from", tc.from}
			for _, r := range tc.rcpts {
				args = append(args, "--rcpt", r)
			}
			code, out, stderr := runCLI(append(args, eml)...)
			if code != tc.status || !strings.Contains(out, "action: "+tc.action+" ") {
				t.Fatalf("text: exit %d, want %d\n%s%s", code, tc.status, out, stderr)
			}
			code, out, stderr = runCLI(append(args, "--json", eml)...)
			var res testJSON
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("not JSON: %v\n%s%s", err, out, stderr)
			}
			if code != tc.status || res.Action != tc.action {
				t.Fatalf("json: exit %d action %q, want %d %q\n%s", code, res.Action, tc.status, tc.action, out)
			}
		})
	}
}

// TestTestJSONRcptReplies: --json reports the reply each RCPT got.
func TestTestJSONRcptReplies(t *testing.T) {
	p, eml := decidePolicy(t)
	code, out, stderr := runCLI("test", "--policy", p, "--rcpt", "x@example.net", "--rcpt", "b@example.net",
		"--rcpt", "t@example.net", "--json", eml)
	var res testJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, stderr)
	}
	type want struct {
		rcpt, action string
		code         int
		enh, text    string
	}
	wants := []want{
		{"x@example.net", "reject", 550, "5.1.1", "No such user"},
		{"b@example.net", "accept", 250, "2.1.5", "Ok"},
		{"t@example.net", "tempfail", 451, "4.7.1", "Try again later"},
	}
	if len(res.RcptReplies) != len(wants) {
		t.Fatalf("rcpt_replies = %+v", res.RcptReplies)
	}
	for i, w := range wants {
		g := res.RcptReplies[i]
		if g.Rcpt != w.rcpt || g.Action != w.action || g.Code != w.code || g.Enhanced != w.enh || g.Text != w.text {
			t.Errorf("rcpt_replies[%d] = %+v, want %+v", i, g, w)
		}
	}
}

// TestTestFinalNewline: a message file without a final line break is ended
// with CRLF, as an SMTP client does before the dot, so the body the plugin
// reads is the body delivered.
func TestTestFinalNewline(t *testing.T) {
	p, eml := decidePolicy(t)
	code, out, stderr := runCLI("test", "--policy", p, "--json", eml)
	var res testJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, stderr)
	}
	if res.Tags["body_end"] != "crlf" {
		t.Errorf("the plugin read a body ending %q, want crlf", res.Tags["body_end"])
	}
	if !strings.HasSuffix(res.Message, "\r\n\r\nlast line without a break\r\n") {
		t.Errorf("delivered message %q", res.Message)
	}
}

// TestTestJSONLoadFailure: with --json, a policy that does not load still
// prints one JSON object, with the diagnostics, and exits 1.
func TestTestJSONLoadFailure(t *testing.T) {
	dir := t.TempDir()
	p := writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "gone" { wasm = "missing.wasm" }
`)
	eml := filepath.Join(dir, "m.eml")
	os.WriteFile(eml, []byte("Subject: hi\n\nbody\n"), 0o644)
	code, out, stderr := runCLI("test", "--policy", p, "--json", eml)
	var res struct {
		Action      string
		Error       string
		Diagnostics []struct {
			Severity, File, Summary, Text string
			Line, Column                  int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if code != 1 || res.Action != "error" || len(res.Diagnostics) == 0 {
		t.Fatalf("exit %d: %+v", code, res)
	}
	d := res.Diagnostics[0]
	if d.Severity != "error" || d.File != p || d.Line != 3 || !strings.Contains(d.Text, "missing.wasm") {
		t.Errorf("diagnostic %+v", d)
	}
	if !strings.Contains(stderr, "missing.wasm") {
		t.Errorf("stderr lacks the diagnostic: %s", stderr)
	}
	// A message file that cannot be read: JSON too.
	code, out, _ = runCLI("test", "--policy", p, "--json", filepath.Join(dir, "none.eml"))
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Action != "error" || res.Error == "" {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
}

// TestTestHelp: `sluice test --help` documents the exit statuses.
func TestTestHelp(t *testing.T) {
	code, _, stderr := runCLI("test", "--help")
	if code != 0 || !strings.Contains(stderr, "Exit status: 0 accepted, 3 rejected") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}
