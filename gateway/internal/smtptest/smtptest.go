// Package smtptest is the scripted SMTP client of the gateway's tests: it
// writes command lines or raw bytes and checks each reply by the prefix of
// its last line, with a deadline on every read and write so a test fails
// instead of hanging.
package smtptest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout bounds each read and write when Client.Timeout is 0.
const DefaultTimeout = 20 * time.Second

// Client is the test's side of one SMTP connection. Conn and R may be
// replaced, after STARTTLS for instance.
type Client struct {
	T       testing.TB
	Conn    net.Conn
	R       *bufio.Reader
	Timeout time.Duration // per read and per write; 0 means DefaultTimeout
}

// New wraps conn, which is closed when the test ends.
func New(t testing.TB, conn net.Conn) *Client {
	t.Cleanup(func() { conn.Close() })
	return &Client{T: t, Conn: conn, R: bufio.NewReader(conn)}
}

// Dial connects to addr without reading anything.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return New(t, conn)
}

// Hello reads the 220 greeting and says EHLO name, which must get a 250.
func (c *Client) Hello(name string) *Client {
	c.T.Helper()
	c.Expect("220")
	c.Cmd("EHLO "+name, "250")
	return c
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Write writes s as it is.
func (c *Client) Write(s string) {
	c.T.Helper()
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// Reply reads one reply, multi-line or not, and returns its last line
// without the CRLF.
func (c *Client) Reply() string {
	c.T.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout()))
	for {
		line, err := c.R.ReadString('\n')
		if err != nil {
			c.T.Fatalf("reading reply: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

// Expect reads one reply whose last line must start with prefix ("250",
// "250 2.0.0") and returns that line.
func (c *Client) Expect(prefix string) string {
	c.T.Helper()
	got := c.Reply()
	if !strings.HasPrefix(got, prefix) {
		c.T.Fatalf("got %q, want %q", got, prefix)
	}
	return got
}

// Cmd writes line and CRLF, and expects a reply starting with prefix.
func (c *Client) Cmd(line, prefix string) string {
	c.T.Helper()
	c.Write(line + "\r\n")
	return c.Expect(prefix)
}
