package bridge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/scan"
)

func scannerPolicy(t *testing.T, dir, blocks string) *policy.Policy {
	t.Helper()
	src := "listen {\n  address = \"127.0.0.1:0\"\n}\nupstream {\n  maildir = \"" + filepath.Join(dir, "md") + "\"\n}\n" + blocks
	p, diags := policy.Parse([]byte(src), filepath.Join(dir, "policy.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// TestBuildScanners: the generation builds the policy's scanners, finds them
// by name, and sends rspamd the password of password_file.
func TestBuildScanners(t *testing.T) {
	passwords := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passwords <- r.Header.Get("Password")
		_, _ = io.WriteString(w, `{"action":"no action","score":0,"required_score":15}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rspamd.pw"), []byte("q1w2e3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := scannerPolicy(t, dir, `scanner "spam" {
  rspamd        = "`+srv.URL+`"
  password_file = "rspamd.pw"
}
scanner "av" {
  clamd = "unix:/run/clamav/clamd.ctl"
}
`)
	g, diags := Build(context.Background(), p, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	defer g.Release()
	if g.Scanner("av") == nil || g.Scanner("nope") != nil {
		t.Fatal("scanners by name")
	}
	res, err := g.Scanner("spam").Scan(context.Background(), scan.Envelope{}, scan.Bytes("Subject: x\r\n\r\nhi\r\n"))
	if err != nil || res.Action != "no action" {
		t.Fatalf("%+v %v", res, err)
	}
	if pw := <-passwords; pw != "q1w2e3" {
		t.Fatalf("Password header %q", pw)
	}
}

// TestBuildScannerPasswordErrors: an unreadable or empty password file fails
// the build at the password_file attribute.
func TestBuildScannerPasswordErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.pw"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "two.pw"), []byte("a\nb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"missing.pw": "no such file", "empty.pw": "is empty", "two.pw": "more than one line"} {
		p := scannerPolicy(t, dir, `scanner "spam" {
  rspamd        = "http://127.0.0.1:11333"
  password_file = "`+file+`"
}
`)
		g, diags := Build(context.Background(), p, Options{})
		if !diags.HasErrors() || g != nil {
			t.Fatalf("%s: built", file)
		}
		d := diags[0]
		if d.Summary != "Cannot use scanner password" || !strings.Contains(d.Detail, want) || d.Subject == nil || d.Subject.Start.Line != 9 || d.Subject.Start.Column != 3 {
			t.Fatalf("%s: %v at %v", file, d, d.Subject)
		}
	}
}
