package smtpd

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/pires/go-proxyproto"

	"github.com/sluice-mail/sluice/gateway/proxyprotocol"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// docs/TESTPLAN.md row 29, second half: without the PROXY protocol on the
// listener, a PROXY line is just an unknown command, and it changes
// nothing.
func TestPROXYLineOnPlainListener(t *testing.T) {
	b := newFakeBackend()
	rec := &remoteRecorder{fakeBackend: b, remotes: make(chan string, 4)}
	ts := startServerWith(t, Config{}, rec, b)
	c := ts.greeted(t)
	c.cmd("PROXY TCP4 192.0.2.1 198.51.100.1 40000 25", 500, "5.5.2")
	c.cmd("EHLO client.test", 250, "")
	if got := <-rec.remotes; got != c.Conn.LocalAddr().String() {
		t.Errorf("session saw %s, want the real peer %s", got, c.Conn.LocalAddr())
	}
}

// remoteRecorder records the client address of each session.
type remoteRecorder struct {
	*fakeBackend
	remotes chan string
}

func (r *remoteRecorder) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	r.remotes <- c.RemoteAddr.String()
	return r.fakeBackend.NewSession(ctx, c)
}

func proxyListener(ln net.Listener) net.Listener {
	return proxyprotocol.Proxy(ln, proxyprotocol.ProxyOptions{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
}

func proxyHeader(t *testing.T, src string) string {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)),
		&net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 25})
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Behind the PROXY protocol the session's client is the one in the header.
func TestSessionSeesProxiedClient(t *testing.T) {
	b := newFakeBackend()
	rec := &remoteRecorder{fakeBackend: b, remotes: make(chan string, 4)}
	ts := startServerOn(t, Config{}, rec, b, proxyListener)
	c := ts.dial(t)
	c.Write(proxyHeader(t, "192.0.2.55:41000"))
	c.expect(220, "")
	c.cmd("EHLO client.test", 250, "")
	if got := <-rec.remotes; got != "192.0.2.55:41000" {
		t.Errorf("session saw %s, want the client in the header", got)
	}
}

// A client talking before the greeting is caught even when its bytes came
// in the header's packet, which the listener read from the socket.
func TestEarlyTalkerBehindProxy(t *testing.T) {
	ts := startServerOn(t, Config{}, newFakeBackend(), newFakeBackend(), proxyListener)
	c := ts.dial(t)
	c.Write(proxyHeader(t, "192.0.2.56:41000") + "EHLO early.test\r\n")
	c.expect(554, "5.5.1")
	c.expectClosed()
}
