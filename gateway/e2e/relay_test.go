package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/docsnippet"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// outsider stands for a client on the Internet: an address that stock
// Postfix does not trust, unlike 127.0.0.1, from which Sluice connects.
const outsider = "127.0.0.5"

// No open relay, for every policy the project ships and the README's:
// stock Postfix with its default mynetworks (this host, 127.0.0.1/32,
// the address Sluice connects from) behind each, and a client from
// 127.0.0.5 sending to a foreign domain. Each case first shows the trap is
// armed (mail from 127.0.0.1 straight to the Postfix listener Sluice feeds
// is relayed and queued), then that the outsider gets a 5xx through Sluice
// and nothing more is queued.
func TestNoOpenRelay(t *testing.T) {
	root := repoRoot()
	readme := readmePolicy(t, root)
	shipped := func(name string) docsnippet.Snippet {
		b, err := os.ReadFile(filepath.Join(root, "policies", name))
		if err != nil {
			t.Fatal(err)
		}
		return docsnippet.Snippet{File: "policies/" + name, Line: 1, Source: string(b)}
	}

	// MX front: Sluice on the public port, Postfix behind it from the
	// examples/postfix/mx-front snippets (one instance for the three
	// policies). The outsider is refused by Postfix, judging the address
	// XCLIENT gave.
	t.Run("mx-front", func(t *testing.T) {
		pfAddr := loopback(t)
		pf := postfixtest.Start(t, postfixtest.Options{
			Addr: pfAddr,
			MainCF: append(postfixtest.Snippet(t, "mx-front/main.cf", map[string]string{"MYNETWORKS": "127.0.0.1/32"}),
				"defer_transports = smtp"),
			MasterCF: postfixtest.Snippet(t, "mx-front/master.cf", map[string]string{"POSTFIX_ADDR": pfAddr, "SLUICE_IP": "127.0.0.1"}),
		})
		for _, tc := range []struct {
			name  string
			start func(t *testing.T) string
		}{
			{"README example", func(t *testing.T) string { return serveSnippet(t, readme, pfAddr) }},
			{"policies/postfix-front.hcl", func(t *testing.T) string { return serveSnippet(t, shipped("postfix-front.hcl"), pfAddr) }},
			{"examples/postfix/mx-front", func(t *testing.T) string {
				listen := loopback(t)
				startExample(t, "mx-front", listen, pfAddr)
				return listen
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sluiceAddr := tc.start(t)
				out, err := swaks(t, sluiceAddr, "--local-interface", outsider, "--from", "spammer@sender.test", "--to", "victim@foreign.test")
				if err == nil || !strings.Contains(out, "<** 554 5.7.1") || !strings.Contains(out, "Relay access denied") {
					t.Fatalf("outsider not refused through Sluice: %v\n%s\nmaillog:\n%s", err, out, pf.Log())
				}
				assertQueued(t, pf, 0)
			})
		}
		armed(t, pf, pfAddr)
	})

	// Proxy filter: Postfix on the public port hands each transaction to
	// Sluice; the after-filter listener trusts Sluice. The outsider who
	// skips Postfix and connects to Sluice directly gets Sluice's 554;
	// through the public listener Postfix refuses it.
	proxyFilter := func(t *testing.T, start func(t *testing.T, sluiceAddr, after string)) {
		public, sluiceAddr, after := loopback(t), loopback(t), loopback(t)
		pf := postfixtest.Start(t, postfixtest.Options{
			Addr:              public,
			DefaultMynetworks: true,
			MainCF:            append(postfixtest.Snippet(t, "proxy-filter/main.cf", nil), "defer_transports = smtp"),
			MasterCF: postfixtest.Snippet(t, "proxy-filter/master.cf", map[string]string{
				"PUBLIC_ADDR": public, "SLUICE_ADDR": sluiceAddr, "POSTFIX_ADDR": after, "SLUICE_IP": "127.0.0.1"}),
		})
		start(t, sluiceAddr, after)
		out, err := swaks(t, sluiceAddr, "--local-interface", outsider, "--from", "spammer@sender.test", "--to", "victim@foreign.test")
		if err == nil || !strings.Contains(out, "<** 554 5.7.1 Client host rejected") {
			t.Fatalf("a client connecting to Sluice directly was not refused: %v\n%s", err, out)
		}
		out, err = swaks(t, public, "--local-interface", outsider, "--from", "spammer@sender.test", "--to", "victim@foreign.test")
		if err == nil || !strings.Contains(out, "554 5.7.1") {
			t.Fatalf("outsider not refused through Postfix's public listener: %v\n%s\nmaillog:\n%s", err, out, pf.Log())
		}
		assertQueued(t, pf, 0)
		armed(t, pf, after)
	}
	t.Run("policies/postfix-proxy-filter.hcl", func(t *testing.T) {
		proxyFilter(t, func(t *testing.T, sluiceAddr, after string) {
			serveSnippetOn(t, shipped("postfix-proxy-filter.hcl"), sluiceAddr, after)
		})
	})
	t.Run("examples/postfix/proxy-filter", func(t *testing.T) {
		proxyFilter(t, func(t *testing.T, sluiceAddr, after string) {
			startExample(t, "proxy-filter", sluiceAddr, after)
		})
	})
}

// armed shows that the Postfix listener at addr trusts 127.0.0.1: mail
// from there to a foreign domain, without XCLIENT, is relayed (queued).
// That is what Sluice would get for every client without XCLIENT or its
// own refusal.
func armed(t *testing.T, pf *postfixtest.Postfix, addr string) {
	t.Helper()
	out, err := swaks(t, addr, "--local-interface", "127.0.0.1", "--from", "a@sender.test", "--to", "someone@foreign.test")
	if err != nil || !strings.Contains(out, "<-  250 2.0.0 Ok: queued") {
		t.Fatalf("the trap is not armed: Postfix did not relay for 127.0.0.1: %v\n%s", err, out)
	}
	assertQueued(t, pf, 1)
}

// assertQueued waits (bounded) for Postfix's queue to hold want messages,
// and fails if it holds another number.
func assertQueued(t *testing.T, pf *postfixtest.Postfix, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pf.Queued() != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := pf.Queued(); got != want {
		t.Fatalf("Postfix's queue holds %d messages, want %d; maillog:\n%s", got, want, pf.Log())
	}
}

// readmePolicy is the README's policy example: its first whole ```hcl
// block.
func readmePolicy(t *testing.T, root string) docsnippet.Snippet {
	t.Helper()
	snips, err := docsnippet.Find(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snips {
		if s.File == "README.md" && !s.Fragment {
			return s
		}
	}
	t.Fatal("README.md has no whole ```hcl policy")
	return docsnippet.Snippet{}
}

// serveSnippet runs `sluice serve` on the snippet, laid out as installed,
// on a new loopback address, forwarding to upstream; it returns the
// address.
func serveSnippet(t *testing.T, s docsnippet.Snippet, upstream string) string {
	t.Helper()
	listen := loopback(t)
	serveSnippetOn(t, s, listen, upstream)
	return listen
}

// serveSnippetOn is serveSnippet on a given address. The policy's listen
// and upstream addresses are replaced with --listen and --upstream, which
// keep every other setting (xclient, xforward, xforward_peers).
func serveSnippetOn(t *testing.T, s docsnippet.Snippet, listen, upstream string) {
	t.Helper()
	path, err := s.Sandbox(t.TempDir(), binDir)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{Addr: listen}
	g.run(t, sluiceServe(path, "--listen", listen, "--upstream", upstream, "--watch=false"))
	if strings.Contains(g.Log(), "open relay") {
		t.Errorf("sluice warned about an open relay:\n%s", g.Log())
	}
}
