//go:build !linux

package milter

import "net"

func tuneTCP(ln net.Listener) net.Listener { return ln }
