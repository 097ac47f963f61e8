//go:build unix

package lifecycle

import (
	"log/slog"
	"net"
	"syscall"
	"testing"

	"github.com/sluice-mail/sluice/gateway/policy"
)

// An accepted SMTP session has no TCP keep-alive: its own timeouts end a
// dead peer's session, and keep-alive would cost four setsockopt calls per
// connection.
func TestListenerNoKeepAlive(t *testing.T) {
	ln, err := openListener(policy.Listen{Address: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := keepAlive(t, c); got != 0 {
		t.Fatalf("accepted connection has SO_KEEPALIVE %d, want 0", got)
	}
	// The check itself sees keep-alive where it is on.
	if err := c.(*net.TCPConn).SetKeepAlive(true); err != nil {
		t.Fatal(err)
	}
	if got := keepAlive(t, c); got == 0 {
		t.Fatal("SO_KEEPALIVE reads 0 after SetKeepAlive(true)")
	}
}

func keepAlive(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}
