package milter

import (
	"net"
	"syscall"
)

// quickAckListener turns on TCP_QUICKACK after every read of an accepted
// connection. Postfix writes a macro packet and the command packet after
// it as two segments; with Nagle on its side and delayed ACKs on ours the
// second waits for the 40 ms ACK timer. Linux clears TCP_QUICKACK by
// itself, hence after every read. README "Milter mode" has the numbers.
type quickAckListener struct{ net.Listener }

func (l quickAckListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &quickAckConn{TCPConn: tc, raw: raw}, nil
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	c.quickAck()
	return n, err
}

func (c *quickAckConn) quickAck() {
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

func tuneTCP(ln net.Listener) net.Listener { return quickAckListener{ln} }
