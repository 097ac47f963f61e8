package smtptest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// The client follows a scripted dialogue, skips continuation lines, and
// fails a test instead of hanging on a silent server.
func TestClient(t *testing.T) {
	srv, cli := net.Pipe()
	go func() {
		defer srv.Close()
		srv.Write([]byte("220 mx ESMTP\r\n"))
		buf := make([]byte, 64)
		n, _ := srv.Read(buf)
		if string(buf[:n]) == "EHLO c.test\r\n" {
			srv.Write([]byte("250-mx\r\n250 PIPELINING\r\n"))
		}
	}()
	c := New(t, cli)
	c.Hello("c.test")

	silent, other := net.Pipe()
	defer other.Close()
	s := New(t, silent)
	s.Timeout = 100 * time.Millisecond
	ft := &fatalT{TB: t}
	s.T = ft
	start := time.Now()
	func() {
		defer func() { recover() }()
		s.Reply()
	}()
	if !strings.Contains(ft.msg, "reading reply") || time.Since(start) > 5*time.Second {
		t.Fatalf("silent server: %q after %v", ft.msg, time.Since(start))
	}
}

// fatalT records Fatalf and stops the calling function.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = format
	panic("fatal")
}
