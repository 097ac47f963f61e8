package proxyprotocol

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// The test's balancer is 127.0.0.2; other clients connect from 127.0.0.1.
const (
	balancerIP = "127.0.0.2"
	strangerIP = "127.0.0.1"
)

type testListener struct {
	net.Listener
	addr     string
	accepted chan net.Conn
}

// start serves a Proxy listener trusting the balancer, with opts, and
// collects what it accepts. Cleanup closes it and checks that its
// goroutines ended.
func start(t *testing.T, opts ProxyOptions) *testListener {
	t.Helper()
	baseline := runtime.NumGoroutine()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Trusted == nil {
		opts.Trusted = []netip.Prefix{netip.MustParsePrefix(balancerIP + "/32")}
	}
	l := &testListener{Listener: Proxy(raw, opts), addr: raw.Addr().String(), accepted: make(chan net.Conn, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("Accept: %v", err)
				}
				return
			}
			l.accepted <- c
		}
	}()
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		<-done
		close(l.accepted)
		for c := range l.accepted {
			c.Close()
		}
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > baseline {
			if time.Now().After(deadline) {
				t.Fatalf("goroutines: %d, baseline %d", runtime.NumGoroutine(), baseline)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return l
}

// dial connects from the loopback address from.
func (l *testListener) dial(t *testing.T, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next accepted connection.
func (l *testListener) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-l.accepted:
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("nothing accepted")
		return nil
	}
}

// wantDropped checks that the server closed c without writing to it.
func wantDropped(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection not dropped")
	}
	if len(b) > 0 {
		t.Fatalf("dropped connection got %q", b)
	}
}

func header(t *testing.T, version byte, src, dst string) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort(dst)))
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderGivesClientAddress(t *testing.T) {
	cases := []struct {
		name      string
		header    func(t *testing.T) []byte
		src, dest string
	}{
		{"v1 IPv4", func(t *testing.T) []byte { return header(t, 1, "192.0.2.10:40001", "198.51.100.1:25") },
			"192.0.2.10:40001", "198.51.100.1:25"},
		{"v2 IPv4", func(t *testing.T) []byte { return header(t, 2, "192.0.2.11:40002", "198.51.100.1:25") },
			"192.0.2.11:40002", "198.51.100.1:25"},
		{"v1 IPv6", func(t *testing.T) []byte { return header(t, 1, "[2001:db8::7]:40003", "[2001:db8::1]:25") },
			"[2001:db8::7]:40003", "[2001:db8::1]:25"},
		{"v2 IPv6", func(t *testing.T) []byte { return header(t, 2, "[2001:db8::8]:40004", "[2001:db8::1]:25") },
			"[2001:db8::8]:40004", "[2001:db8::1]:25"},
		// An IPv4 client reaching an IPv6 balancer address.
		{"v2 mapped", func(t *testing.T) []byte { return header(t, 2, "192.0.2.12:40005", "[2001:db8::1]:25") },
			"192.0.2.12:40005", "[2001:db8::1]:25"},
		{"v2 with TLVs", func(t *testing.T) []byte {
			h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP("192.0.2.13"), Port: 40006},
				&net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 25})
			if err := h.SetTLVs([]proxyproto.TLV{{Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("mx.example.org")},
				{Type: proxyproto.PP2_TYPE_NOOP, Value: bytes.Repeat([]byte{0}, 600)}}); err != nil {
				t.Fatal(err)
			}
			b, err := h.Format()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, "192.0.2.13:40006", "198.51.100.1:25"},
	}
	l := start(t, ProxyOptions{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := l.dial(t, balancerIP)
			// The client's first bytes may share the header's packet.
			if _, err := c.Write(append(tc.header(t), "EHLO client.test\r\n"...)); err != nil {
				t.Fatal(err)
			}
			s := l.next(t)
			if got := s.RemoteAddr().String(); got != tc.src {
				t.Errorf("RemoteAddr %s, want %s", got, tc.src)
			}
			if got := s.LocalAddr().String(); got != tc.dest {
				t.Errorf("LocalAddr %s, want %s", got, tc.dest)
			}
			if b, ok := s.(interface{ Buffered() int }); !ok || b.Buffered() == 0 {
				t.Error("bytes after the header are not reported as buffered")
			}
			// Not a byte of the client's data is lost or duplicated.
			buf := make([]byte, len("EHLO client.test\r\n"))
			if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "EHLO client.test\r\n" {
				t.Fatalf("read %q, %v", buf, err)
			}
			io.WriteString(c, "QUIT\r\n")
			if _, err := io.ReadFull(s, buf[:6]); err != nil || string(buf[:6]) != "QUIT\r\n" {
				t.Fatalf("read %q, %v", buf[:6], err)
			}
			io.WriteString(s, "221 bye\r\n")
			if got, _ := io.ReadAll(io.LimitReader(c, 9)); string(got) != "221 bye\r\n" {
				t.Errorf("client read %q", got)
			}
		})
	}
}

func TestBalancerOwnConnections(t *testing.T) {
	// LOCAL (a health check) and v1 UNKNOWN carry no client: the balancer's
	// own address stays.
	local, err := (&proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}).Format()
	if err != nil {
		t.Fatal(err)
	}
	l := start(t, ProxyOptions{})
	for name, h := range map[string][]byte{"v2 LOCAL": local, "v1 UNKNOWN": []byte("PROXY UNKNOWN\r\n")} {
		t.Run(name, func(t *testing.T) {
			c := l.dial(t, balancerIP)
			c.Write(h)
			s := l.next(t)
			if got, want := s.RemoteAddr().String(), c.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want the balancer's %s", got, want)
			}
		})
	}
}

func TestDropped(t *testing.T) {
	good := header(t, 1, "192.0.2.20:1234", "198.51.100.1:25")
	udp, err := (&proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.UDPv4,
		SourceAddr: &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 53}, DestinationAddr: &net.UDPAddr{IP: net.ParseIP("198.51.100.1"), Port: 53}}).Format()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		from string
		send []byte
	}{
		{"header from a stranger", strangerIP, good},
		{"missing header", balancerIP, []byte("EHLO client.test\r\n")},
		{"bad address", balancerIP, []byte("PROXY TCP4 192.0.2.300 198.51.100.1 1234 25\r\n")},
		{"bare LF", balancerIP, []byte("PROXY TCP4 192.0.2.1 198.51.100.1 1234 25\n")},
		{"bad port", balancerIP, []byte("PROXY TCP4 192.0.2.1 198.51.100.1 70000 25\r\n")},
		{"too long", balancerIP, []byte("PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n")},
		{"v2 garbage", balancerIP, append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x21, 0x11, 0x00, 0x02, 1, 2)},
		{"v2 UDP", balancerIP, udp},
		{"empty", balancerIP, nil},
	}
	l := start(t, ProxyOptions{HeaderTimeout: time.Second})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := l.dial(t, tc.from)
			c.Write(tc.send)
			if tc.send == nil {
				c.(*net.TCPConn).CloseWrite()
			}
			wantDropped(t, c)
		})
	}
	// Nothing of the above was accepted; the next good one is.
	c := l.dial(t, balancerIP)
	c.Write(good)
	if got := l.next(t).RemoteAddr().String(); got != "192.0.2.20:1234" {
		t.Fatalf("accepted %s, want the good connection", got)
	}
}

func TestLateHeader(t *testing.T) {
	const timeout = 300 * time.Millisecond
	l := start(t, ProxyOptions{HeaderTimeout: timeout})
	for name, first := range map[string]string{"silent": "", "split": "PROXY TCP4 192.0.2.1 "} {
		t.Run(name, func(t *testing.T) {
			c := l.dial(t, balancerIP)
			start := time.Now()
			io.WriteString(c, first)
			if name == "split" {
				// The rest comes too late: a v1 header must arrive whole.
				time.Sleep(50 * time.Millisecond)
				io.WriteString(c, "198.51.100.1 1234 25\r\n")
			}
			wantDropped(t, c)
			if d := time.Since(start); name == "silent" && (d < timeout || d > 10*timeout) {
				t.Errorf("dropped after %v, want the header timeout %v", d, timeout)
			}
		})
	}
}

func TestSlowHeaderDoesNotBlockAccept(t *testing.T) {
	l := start(t, ProxyOptions{HeaderTimeout: time.Minute})
	slow := l.dial(t, balancerIP)
	io.WriteString(slow, "PRO")
	c := l.dial(t, balancerIP)
	c.Write(header(t, 2, "192.0.2.30:1000", "198.51.100.1:25"))
	if got := l.next(t).RemoteAddr().String(); got != "192.0.2.30:1000" {
		t.Fatalf("accepted %s", got)
	}
}

func TestMaxPending(t *testing.T) {
	l := start(t, ProxyOptions{HeaderTimeout: time.Minute, MaxPending: 1})
	waiting := l.dial(t, balancerIP)
	io.WriteString(waiting, "P")
	// Wait until the first one is registered, then the second is refused.
	for deadline := time.Now().Add(5 * time.Second); ; {
		pl := l.Listener.(*proxyListener)
		pl.mu.Lock()
		n := len(pl.pending)
		pl.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first connection not pending")
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantDropped(t, l.dial(t, balancerIP))
	// The pending one still completes.
	waiting.Write(header(t, 1, "192.0.2.40:1000", "198.51.100.1:25")[1:])
	if got := l.next(t).RemoteAddr().String(); got != "192.0.2.40:1000" {
		t.Fatalf("accepted %s", got)
	}
}

func TestCloseDropsPending(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Proxy(raw, ProxyOptions{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, HeaderTimeout: time.Minute})
	c, err := net.DialTimeout("tcp", raw.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "PROXY")
	closed := make(chan struct{})
	go func() { l.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a pending header")
	}
	wantDropped(t, c)
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}
