package fakemta

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	gosmtp "github.com/emersion/go-smtp"
)

// backend is the go-smtp mode: go-smtp speaks the protocol, the session
// records and applies the scripted actions at MAIL, RCPT and end of data.
type backend struct{ m *MTA }

func (b backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{m: b.m, c: c}, nil
}

type session struct {
	m     *MTA
	c     *gosmtp.Conn
	from  string
	rcpts []string
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	s.m.recordMail()
	s.from, s.rcpts = from, nil
	return s.apply(s.m.action(Mail))
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	err := s.apply(s.m.action(Rcpt))
	if err == nil {
		s.rcpts = append(s.rcpts, to)
	}
	return err
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	a := s.m.action(EndOfData)
	if a.accepts() {
		s.m.recordMessage(Message{From: s.from, Rcpts: append([]string(nil), s.rcpts...), Data: data})
	}
	return s.apply(a)
}

func (s *session) Reset() { s.from, s.rcpts = "", nil }

func (s *session) Logout() error { return nil }

// apply performs an action go-smtp can express (see Action.needsRaw).
func (s *session) apply(a Action) error {
	switch a.kind {
	case kindAccept:
		return nil
	case kindReply:
		return &gosmtp.SMTPError{Code: a.code, EnhancedCode: enhancedCode(a.enhanced), Message: a.text}
	case kindHang:
		<-s.m.release
	}
	s.c.Conn().Close()
	return errStopped
}

// enhancedCode converts "4.3.0" for go-smtp; "" means none.
func enhancedCode(s string) gosmtp.EnhancedCode {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return gosmtp.NoEnhancedCode
	}
	var ec gosmtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return gosmtp.NoEnhancedCode
		}
		ec[i] = n
	}
	return ec
}

// tapConn records the command lines go-smtp reads, skipping message content:
// after a "DATA" line answered with 354, lines are content until ".". go-smtp
// reads and writes a connection from one goroutine, so no lock is needed.
// A client that sends content before the 354 would get it recorded as
// commands; Sluice's client never does.
type tapConn struct {
	net.Conn
	m *MTA

	line      []byte // the current line, its first maxTapLine bytes
	inData    bool
	dataBOL   bool // in data, the previous line ended in CRLF
	last      byte // the byte before the current one
	afterDATA bool // "DATA" was read, its reply not yet written
	closeOnce sync.Once
}

const maxTapLine = 4096

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.m.countRead()
	}
	for _, b := range p[:n] {
		if len(c.line) < maxTapLine {
			c.line = append(c.line, b)
		}
		if b == '\n' {
			c.endLine(c.last == '\r')
		}
		c.last = b
	}
	return n, err
}

func (c *tapConn) endLine(crlf bool) {
	line := c.line
	c.line = c.line[:0]
	if c.inData {
		// Like go-smtp's reader, only CRLF "." CRLF ends the data.
		if c.dataBOL && string(line) == ".\r\n" {
			c.inData = false
		}
		c.dataBOL = crlf
		return
	}
	cmd := string(bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")))
	c.m.recordCommand(cmd)
	c.afterDATA = strings.EqualFold(cmd, "DATA")
}

func (c *tapConn) Write(p []byte) (int, error) {
	if c.afterDATA {
		c.afterDATA = false
		c.inData = bytes.HasPrefix(p, []byte("354"))
		c.dataBOL = true
	}
	return c.Conn.Write(p)
}

func (c *tapConn) Close() error {
	c.closeOnce.Do(func() { c.m.untrack(c.Conn) })
	return c.Conn.Close()
}
