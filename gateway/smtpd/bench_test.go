package smtpd

import (
	"strings"
	"testing"
)

// BenchmarkTransaction runs whole transactions of 10 KiB over loopback on
// one connection, pipelined as smtp-source does: the engine's share of the
// SPEC §6 single-session latency.
func BenchmarkTransaction(b *testing.B) {
	fb := newFakeBackend()
	fb.data = accept250
	ts := startServer(b, Config{}, fb)
	c := ts.ehloed(b)
	body := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 10<<10/72) + ".\r\n"
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
		c.expect(250, "")
		c.expect(250, "")
		c.expect(354, "")
		c.Write(body)
		c.expect(250, "")
		fb.mu.Lock()
		fb.msgs, fb.calls = nil, nil
		fb.mu.Unlock()
	}
}
