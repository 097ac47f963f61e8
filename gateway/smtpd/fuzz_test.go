package smtpd

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to one session over net.Pipe, after a
// prefix that puts it in a given state. It fails on a recovered panic in the
// engine, on a hang, or on a session not closed exactly once.
func FuzzSession(f *testing.F) {
	prefixes := []string{
		"",
		"EHLO c.test\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@b.example>\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
	}
	addSeeds(f, len(prefixes), []string{
		"QUIT\r\n",
		"x\r\n.\r\nQUIT\r\n",
		"a\n.\nMAIL FROM:<e@f.example>\r\n.\r\n",
		"\r\n\x00.\r\nRSET\r\n",
		"BDAT 5 LAST\r\nhello",
		"STARTTLS\r\nMAIL FROM:<x@y.example>\r\n",
		"RCPT TO:<a@b.example> NOTIFY=NEVER\r\nDATA\r\n",
	})
	f.Fuzz(func(t *testing.T, state uint8, in []byte) {
		b := newFakeBackend()
		b.data = accept250
		logs := newLogRecorder()
		s := New(fuzzConfig(logs), b)
		srv, cli := net.Pipe()
		fuzzSession(t, s, srv, cli, logs, b, []byte(prefixes[int(state)%len(prefixes)]), in)
		for _, m := range b.Messages() {
			checkStored(t, m)
		}
	})
}

// addSeeds adds each seed after each of the n state prefixes.
func addSeeds(f *testing.F, n int, seeds []string) {
	for _, s := range seeds {
		for i := range n {
			f.Add(uint8(i), []byte(s))
		}
	}
}

// fuzzConfig is the small server the session fuzzers drive.
func fuzzConfig(logs logRecorder) Config {
	return Config{
		Hostname:       "mx.test",
		MaxMessageSize: 4096,
		MaxRecipients:  5,
		CommandTimeout: time.Second,
		DataTimeout:    2 * time.Second,
		Logger:         slog.New(logs),
	}
}

// fuzzSession admits conn into s and writes in from cli, the other end
// of its pipe, then closes cli: the session must release the client, end
// without a recovered panic, and close every session it opened on b.
func fuzzSession(t *testing.T, s *Server, conn net.Conn, cli net.Conn, logs logRecorder, b *fakeBackend, in ...[]byte) {
	t.Helper()
	if !s.admit(conn) {
		t.Fatal("not admitted")
	}
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, cli)
		close(drained)
	}()
	cli.SetWriteDeadline(time.Now().Add(3 * time.Second))
	for _, b := range in {
		cli.Write(b)
	}
	cli.Close()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("client side not released")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session hangs")
	}
	if logs.has("panic in session") || logs.has("panic in Session.Close") {
		t.Fatal("panic recovered")
	}
	if b.sessions != b.closes {
		t.Fatalf("%d sessions, %d closed", b.sessions, b.closes)
	}
}

// checkStored asserts a message handed to Data has only CRLF line endings
// and no NUL.
func checkStored(t *testing.T, m []byte) {
	t.Helper()
	for i, c := range m {
		if c == 0 || c == '\r' && (i+1 == len(m) || m[i+1] != '\n') || c == '\n' && (i == 0 || m[i-1] != '\r') {
			t.Fatalf("bad byte %q at %d in %q", c, i, m)
		}
	}
}
