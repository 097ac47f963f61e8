package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/redistest"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
)

// BenchmarkKVChain measures what a shared Redis store adds to each
// message: the chain of BenchmarkMilterVsProxy (access at RCPT, tag and
// ed25519 dkim-sign at end of DATA) plus ratelimit (one kv_incr per
// message) and greylist (a passed triplet: its kv_get and kv_set per
// recipient), with the kv store in process ("memory") or on a private
// redis-server over loopback ("redis"). One client sends b.N messages of
// 10 KiB one after another on one session into a maildir upstream, so
// ns/op is the latency of a whole transaction; the difference between the
// two sub-benchmarks is the cost of Redis per message.
// Run: go test -run '^$' -bench KVChain -benchtime 2000x ./gateway/e2e/
// (README "Running several gateways", the Cost bullet, has the numbers.)
func BenchmarkKVChain(b *testing.B) {
	chain := benchChain(b, `plugin "ratelimit" {
  wasm   = "%BIN%/plugins/ratelimit.wasm"
  grants = ["kv"]
  config = { rules = [{ key = "sender", limit = 1000000000, window = "1h" }] }
}
plugin "greylist" {
  wasm   = "%BIN%/plugins/greylist.wasm"
  grants = ["kv"]
  config = { delay = "1s" }
}
`)
	run := func(b *testing.B, kv string) {
		listen := loopback(b)
		md := filepath.Join(b.TempDir(), "mail")
		g := serveWith(b, `listen {
  address = "`+listen+`"
}
upstream { maildir = "`+md+`" }
`+kv+chain, listen)
		c := smtptest.Dial(b, listen).Hello("bench.sluice.test")
		body := "Subject: kv bench\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 160) + "."
		send := func() string {
			c.Cmd("MAIL FROM:<sender@sluice.test>", "250")
			if r := c.Cmd("RCPT TO:<bob@example.net>", ""); !strings.HasPrefix(r, "250") {
				c.Cmd("RSET", "250")
				return r
			}
			c.Cmd("DATA", "354")
			return c.Cmd(body, "")
		}
		// The first message is greylisted; once the delay has passed the
		// triplet passes, and every later message reads and refreshes it.
		deadline := time.Now().Add(30 * time.Second)
		for r := send(); !strings.HasPrefix(r, "250"); r = send() {
			if !strings.HasPrefix(r, "451") || time.Now().After(deadline) {
				b.Fatalf("warm-up: %q; sluice log:\n%s", r, g.Log())
			}
			time.Sleep(200 * time.Millisecond)
		}
		for range 50 { // warm instances
			if r := send(); !strings.HasPrefix(r, "250") {
				b.Fatalf("warm-up: %q", r)
			}
		}
		b.ResetTimer()
		for range b.N {
			if r := send(); !strings.HasPrefix(r, "250") {
				b.Fatalf("got %q; sluice log:\n%s", r, g.Log())
			}
		}
		b.StopTimer()
		c.Cmd("QUIT", "221")
	}
	b.Run("memory", func(b *testing.B) { run(b, "") })
	b.Run("redis", func(b *testing.B) {
		srv := redistest.Start(b)
		run(b, fmt.Sprintf("kv {\n  redis = %q\n}\n", srv.URL))
	})
}
