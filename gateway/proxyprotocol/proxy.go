// Package proxyprotocol prepares the gateway's SMTP listener. Behind a TCP load
// balancer, Proxy reads the PROXY protocol header (HAProxy's
// proxy-protocol.txt, versions 1 and 2) that names the real client, so that
// the SMTP server, the plugins and the downstream (through XCLIENT) see the
// client rather than the balancer.
package proxyprotocol

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/pires/go-proxyproto"
)

// Defaults of ProxyOptions.
const (
	// DefaultHeaderTimeout bounds the wait for a complete header. A
	// balancer sends it at once, with the connection.
	DefaultHeaderTimeout = 5 * time.Second
	// DefaultMaxPending bounds the connections whose header is awaited.
	DefaultMaxPending = 1024
)

// headerBufferSize holds a whole v1 header (at most 107 bytes), which the
// parser wants in one read, and most v2 headers.
const headerBufferSize = 512

// ProxyOptions configures Proxy.
type ProxyOptions struct {
	// Trusted are the balancers' networks. Only they may send a header,
	// and they must; connections from anywhere else are closed at once.
	Trusted []netip.Prefix
	// HeaderTimeout: DefaultHeaderTimeout when 0 or less.
	HeaderTimeout time.Duration
	// MaxPending: DefaultMaxPending when 0 or less. Connections beyond it
	// are closed.
	MaxPending int
	Logger     *slog.Logger // nil discards
}

// Proxy wraps ln so that its connections start with a PROXY protocol header
// (v1 or v2) from a trusted balancer. Accept returns only connections whose
// header was read and valid; their RemoteAddr and LocalAddr are the
// addresses in the header. Every other connection is closed without a
// word: one from an address outside Trusted, one whose header is missing,
// malformed, or incomplete within HeaderTimeout (docs/TESTPLAN.md row 29). A LOCAL
// header (the balancer's own health check) and a v1 "PROXY UNKNOWN" keep
// the balancer's addresses, as the specification says.
//
// Headers are read in a goroutine per connection, so a slow one never holds
// up Accept. Close closes ln and the connections still awaiting a header,
// and waits for those goroutines.
func Proxy(ln net.Listener, opts ProxyOptions) net.Listener {
	opts.HeaderTimeout = positiveOr(opts.HeaderTimeout, DefaultHeaderTimeout)
	opts.MaxPending = positiveOr(opts.MaxPending, DefaultMaxPending)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &proxyListener{
		ln:      ln,
		opts:    opts,
		log:     opts.Logger,
		ready:   make(chan accepted),
		done:    make(chan struct{}),
		pending: map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

type proxyListener struct {
	ln   net.Listener
	opts ProxyOptions
	log  *slog.Logger

	ready chan accepted // connections with a header, and ln's errors
	done  chan struct{} // closed by Close
	wg    sync.WaitGroup

	mu        sync.Mutex
	pending   map[net.Conn]struct{} // awaiting their header
	closeOnce sync.Once
	closeErr  error
}

type accepted struct {
	c   net.Conn
	err error
}

// Accept returns the next connection whose header was read, or the error
// of the wrapped listener's Accept; net.ErrClosed after Close.
func (l *proxyListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.ready:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *proxyListener) Addr() net.Addr { return l.ln.Addr() }

func (l *proxyListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.ln.Close()
		l.mu.Lock()
		for c := range l.pending {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return l.closeErr
}

// acceptLoop accepts raw connections. An Accept error goes to the caller
// of Accept, which decides whether to retry (and how soon); the loop goes on
// only once the error was taken.
func (l *proxyListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if !l.deliver(accepted{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		peer := addrOf(c.RemoteAddr())
		if !l.trusted(peer) {
			l.log.Info("connection dropped: PROXY protocol expected from a trusted balancer only", "remote", peer.String())
			c.Close()
			continue
		}
		if !l.track(c) {
			l.log.Warn("connection dropped: too many connections awaiting their PROXY header", "remote", peer.String())
			c.Close()
			continue
		}
		l.wg.Add(1)
		go l.handshake(c, peer)
	}
}

// handshake reads the header of c and hands the connection to Accept.
func (l *proxyListener) handshake(c net.Conn, peer netip.AddrPort) {
	defer l.wg.Done()
	pc, err := readHeader(c, l.opts.HeaderTimeout)
	l.untrack(c)
	if err != nil {
		l.log.Warn("connection dropped: bad PROXY protocol header", "remote", peer.String(), "err", err)
		c.Close()
		return
	}
	if !l.deliver(accepted{c: pc}) {
		c.Close()
	}
}

// deliver waits for Accept to take a; false once the listener is closed.
func (l *proxyListener) deliver(a accepted) bool {
	select {
	case l.ready <- a:
		return true
	case <-l.done:
		return false
	}
}

func (l *proxyListener) trusted(peer netip.AddrPort) bool {
	ip := peer.Addr().Unmap()
	for _, p := range l.opts.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// track registers a connection awaiting its header; false when there are
// too many or the listener is closed.
func (l *proxyListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	if len(l.pending) >= l.opts.MaxPending {
		return false
	}
	l.pending[c] = struct{}{}
	return true
}

func (l *proxyListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
}

var errTransport = errors.New("PROXY header names a transport other than TCP")

// readHeader reads the header at the start of c within timeout and returns
// c with the addresses it names.
func readHeader(c net.Conn, timeout time.Duration) (*proxyConn, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, headerBufferSize)
	h, err := proxyproto.Read(br)
	if err != nil {
		return nil, err // proxyproto.ErrNoProxyProtocol when missing
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	pc := &proxyConn{Conn: c, br: br, remote: c.RemoteAddr(), local: c.LocalAddr()}
	if !h.Command.IsProxy() || h.TransportProtocol.IsUnspec() {
		return pc, nil // LOCAL, or v1 UNKNOWN: the balancer's own connection
	}
	src, dst, ok := h.TCPAddrs()
	if !ok {
		return nil, fmt.Errorf("%w (%#x)", errTransport, byte(h.TransportProtocol))
	}
	pc.remote, pc.local = unmapped(src), unmapped(dst)
	return pc, nil
}

// unmapped gives an IPv4 client in an IPv6 header (::ffff:a.b.c.d) its
// IPv4 form, as the kernel would for a direct connection.
func unmapped(a *net.TCPAddr) *net.TCPAddr {
	ap := a.AddrPort()
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// addrOf is the address of a peer.
func addrOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// proxyConn is a connection after its header: reads return first what was
// read past the header, and the addresses are the header's.
type proxyConn struct {
	net.Conn
	br            *bufio.Reader // bytes read past the header; nil once drained
	remote, local net.Addr
}

func (c *proxyConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p) // from the buffer only
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// Buffered reports how many bytes that followed the header were read from
// the socket and not yet returned by Read: the SMTP server counts them as
// bytes sent before its greeting.
func (c *proxyConn) Buffered() int {
	if c.br == nil {
		return 0
	}
	return c.br.Buffered()
}

func (c *proxyConn) RemoteAddr() net.Addr { return c.remote }
func (c *proxyConn) LocalAddr() net.Addr  { return c.local }

// SyscallConn gives the socket, for the SMTP server's check for input
// waiting before its greeting.
func (c *proxyConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// positiveOr returns v, or def when v is 0 or less (a zero field).
func positiveOr[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
