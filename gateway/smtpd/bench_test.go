package smtpd

import (
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkTransaction runs whole transactions of 10 KiB over loopback on
// one connection, pipelined as smtp-source does: the engine's share of the
// docs/DESIGN.md §6 single-session latency.
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

// BenchmarkSession runs one connection per message, lock-step with HELO as
// smtp-source does by default (bench/bench.sh): what a message costs the
// engine when every message is a new session.
func BenchmarkSession(b *testing.B) {
	fb := newFakeBackend()
	fb.data = accept250
	ts := startServer(b, Config{}, fb)
	body := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 10<<10/72) + ".\r\n"
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		c := &client{smtptest.New(b, nc)}
		c.expect(220, "")
		c.cmd("HELO client.example", 250, "")
		c.toData()
		c.Write(body)
		c.expect(250, "")
		c.cmd("QUIT", 221, "")
		nc.Close()
		<-fb.closed
		fb.mu.Lock()
		fb.msgs, fb.calls = nil, nil
		fb.mu.Unlock()
	}
}
