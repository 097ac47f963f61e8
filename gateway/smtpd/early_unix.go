//go:build unix

package smtpd

import (
	"net"
	"syscall"
)

// pendingInput reports, without blocking, whether the peer has sent bytes
// that nobody read yet (recv with MSG_PEEK|MSG_DONTWAIT).
func pendingInput(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var buf [1]byte
	rc.Read(func(fd uintptr) bool {
		n, _, _ = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	return n > 0
}
