package console

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// A policy's console block sets up the recorder the running gateway feeds:
// with `console { hash_addresses = true }` a message sent over SMTP shows
// up in the API with its addresses hashed (domains in clear) and can still
// be found by its sender's address; without the block, in clear. The
// ring's size is the block's, or DefaultSize.
func TestPolicyConsoleBlock(t *testing.T) {
	for _, tc := range []struct {
		name, block string
		hashed      bool
		size        int
	}{
		{"hash_addresses", "console {\n  hash_addresses = true\n  size = 50\n}\n", true, 50},
		{"no block", "", false, DefaultSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
			path := filepath.Join(t.TempDir(), "policy.hcl")
			src := fmt.Sprintf("listen { address = %q }\nupstream { maildir = \"mail\" }\n%s", addr, tc.block)
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			var rec *Recorder
			gw, diags, err := lifecycle.Start(context.Background(), lifecycle.Options{Path: path,
				NewEngine: func(ctx context.Context, store kv.Store) (*wasmhost.Engine, error) {
					return wasmhost.NewEngine(ctx, wasmhost.EngineOptions{KV: store})
				},
				NewRecorder: func(c policy.Console) bridge.Recorder {
					rec = NewRecorder(OptionsOf(c))
					return rec
				}})
			if err != nil {
				t.Fatalf("Start: %v\n%v", err, diags)
			}
			t.Cleanup(gw.Shutdown)
			srv := startConsole(t, gw, rec)

			c := smtptest.Dial(t, addr).Hello("client.example")
			c.Cmd("MAIL FROM:<alice@example.org>", "250")
			c.Cmd("RCPT TO:<bob@example.net>", "250")
			c.Cmd("DATA", "354")
			c.Cmd("Subject: hi\r\n\r\nhello\r\n.", "250")
			c.Cmd("QUIT", "221")

			var got Transactions
			deadline := time.Now().Add(10 * time.Second)
			for {
				getJSON(t, srv.URL+"/api/transactions", 200, &got)
				if len(got.Transactions) > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if len(got.Transactions) != 1 {
				t.Fatalf("transactions %+v, want the one sent", got.Transactions)
			}
			if got.Capacity != tc.size {
				t.Errorf("capacity %d, want %d", got.Capacity, tc.size)
			}
			e := got.Transactions[0]
			hashed := regexp.MustCompile(`^h-[0-9a-f]{12}@example\.(org|net)$`)
			for _, a := range append([]string{e.From}, e.Rcpts...) {
				if tc.hashed && (!hashed.MatchString(a) || strings.Contains(a, "alice") || strings.Contains(a, "bob")) {
					t.Errorf("address %q, want it hashed with the domain in clear", a)
				}
				if !tc.hashed && a != "alice@example.org" && a != "bob@example.net" {
					t.Errorf("address %q, want it in clear", a)
				}
			}
			var found Transactions
			getJSON(t, srv.URL+"/api/transactions?address="+url.QueryEscape("alice@example.org"), 200, &found)
			if len(found.Transactions) != 1 {
				t.Errorf("filtering by the sender's address found %d transactions", len(found.Transactions))
			}
		})
	}
}

// docs/policy.md gives the console's default ring size as a literal, which
// the policy decoder leaves to this package (a size of 0): it must be
// DefaultSize, what a policy without size gets. The largest size the
// policy accepts is the recorder's MaxSize.
func TestPolicyDocSizeDefault(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## console\n")
	if !ok {
		t.Fatal("docs/policy.md has no console section")
	}
	m := regexp.MustCompile("\n\\| `size` \\|[^|]*\\| `([0-9]+)` \\|").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("docs/policy.md's console section gives no literal default for size")
	}
	if m[1] != strconv.Itoa(DefaultSize) {
		t.Errorf("docs/policy.md gives size's default as %s; DefaultSize is %d", m[1], DefaultSize)
	}
	const base = "listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\n"
	for _, tc := range []struct {
		block string
		size  int
	}{
		{"", DefaultSize},
		{"console {}\n", DefaultSize},
		{"console { size = " + m[1] + " }\n", DefaultSize},
		{fmt.Sprintf("console { size = %d }\n", MaxSize), MaxSize},
	} {
		p, diags := policy.Parse([]byte(base+tc.block), "policy.hcl")
		if diags.HasErrors() {
			t.Fatalf("%q: %v", tc.block, diags)
		}
		if n := NewRecorder(OptionsOf(p.Console)).Size(); n != tc.size {
			t.Errorf("%q: a ring of %d, want %d", tc.block, n, tc.size)
		}
	}
	if _, diags := policy.Parse([]byte(base+fmt.Sprintf("console { size = %d }\n", MaxSize+1)), "policy.hcl"); !diags.HasErrors() {
		t.Errorf("size = %d decodes; MaxSize is %d", MaxSize+1, MaxSize)
	}
}
