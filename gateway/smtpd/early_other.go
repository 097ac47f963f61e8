//go:build !unix

package smtpd

import "net"

// pendingInput cannot peek at the socket here; GreetDelay still works.
func pendingInput(net.Conn) bool { return false }
