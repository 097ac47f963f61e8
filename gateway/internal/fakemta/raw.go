package fakemta

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"time"
)

// acceptRaw is the accept loop of the raw mode.
func (m *MTA) acceptRaw() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		if !m.track(c) {
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer m.untrack(c)
			defer c.Close()
			s := &rawSession{m: m, c: c, br: bufio.NewReader(readCounter{c, m})}
			s.run()
		}()
	}
}

// rawSession is a minimal SMTP responder (RFC 5321 §4.1) with every reply
// open to scripting. It is lenient: it checks only what it needs to record.
type rawSession struct {
	m     *MTA
	c     net.Conn // the TCP connection, or TLS over it after STARTTLS
	br    *bufio.Reader
	tls   bool
	from  string
	inTx  bool
	rcpts []string
}

func (s *rawSession) run() {
	if !s.do(Greeting, "220 "+Hostname+" ESMTP fakemta\r\n") {
		return
	}
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		s.m.recordCommand(line)
		verb, arg, _ := strings.Cut(line, " ")
		ok := true
		switch strings.ToUpper(verb) {
		case "EHLO":
			ok = s.do(Ehlo, s.ehloReply())
		case "HELO":
			ok = s.do(Helo, "250 "+Hostname+"\r\n")
		case "MAIL":
			ok = s.mail(arg)
		case "RCPT":
			ok = s.rcpt(arg)
		case "DATA":
			ok = s.data()
		case "RSET":
			s.reset()
			ok = s.do(Rset, "250 2.0.0 Ok\r\n")
		case "XCLIENT":
			// Postfix XCLIENT_README: accepted, it restarts the session
			// with a new greeting.
			if !s.offers("XCLIENT") {
				ok = s.write("502 5.5.2 Command not recognized\r\n")
				break
			}
			s.reset()
			ok = s.do(XClient, "220 "+Hostname+" ESMTP fakemta\r\n")
		case "XFORWARD":
			if !s.offers("XFORWARD") {
				ok = s.write("502 5.5.2 Command not recognized\r\n")
				break
			}
			ok = s.do(XForward, "250 2.0.0 Ok\r\n")
		case "STARTTLS":
			ok = s.startTLS()
		case "NOOP":
			ok = s.write("250 2.0.0 Ok\r\n")
		case "QUIT":
			s.write("221 2.0.0 Bye\r\n")
			return
		default:
			ok = s.write("502 5.5.2 Command not recognized\r\n")
		}
		if !ok {
			return
		}
	}
}

func (s *rawSession) ehloReply() string {
	ext := s.m.cfg.ext
	if s.tls {
		// RFC 3207 §4.2: not offered again inside TLS.
		ext = slices.DeleteFunc(slices.Clone(ext), func(kw string) bool { return strings.EqualFold(kw, "STARTTLS") })
	}
	var b strings.Builder
	b.WriteString("250")
	if len(ext) > 0 {
		b.WriteByte('-')
	} else {
		b.WriteByte(' ')
	}
	b.WriteString(Hostname + "\r\n")
	for i, kw := range ext {
		if i == len(ext)-1 {
			b.WriteString("250 " + kw + "\r\n")
		} else {
			b.WriteString("250-" + kw + "\r\n")
		}
	}
	return b.String()
}

// startTLS answers STARTTLS (RFC 3207 §4) as scripted. Accept and Send
// (a 220 with bytes injected after it, say) are followed by the server side
// of the handshake; other actions leave the session in plaintext, or end it.
// It returns false when the session must end.
func (s *rawSession) startTLS() bool {
	if !s.offers("STARTTLS") || s.tls {
		return s.write("503 5.5.1 STARTTLS not available\r\n")
	}
	a := s.m.action(StartTLS)
	switch a.kind {
	case kindAccept:
		if !s.write("220 2.0.0 Ready to start TLS\r\n") {
			return false
		}
	case kindSend:
		if !s.write(a.text) {
			return false
		}
	default:
		return s.perform(a, "")
	}
	if s.m.cfg.tls == nil {
		return false // no certificate: the client's handshake fails
	}
	tc := tls.Server(s.c, s.m.cfg.tls)
	s.c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return false
	}
	s.c.SetDeadline(time.Time{})
	// Whatever was pipelined after STARTTLS was plaintext: dropped.
	s.c, s.br, s.tls = tc, bufio.NewReader(readCounter{tc, s.m}), true
	s.reset()
	return true
}

// offers reports whether the EHLO reply lists keyword kw.
func (s *rawSession) offers(kw string) bool {
	for _, e := range s.m.cfg.ext {
		if k, _, _ := strings.Cut(e, " "); strings.EqualFold(k, kw) {
			return true
		}
	}
	return false
}

func (s *rawSession) reset() { s.from, s.inTx, s.rcpts = "", false, nil }

func (s *rawSession) mail(arg string) bool {
	s.m.recordMail()
	a := s.m.action(Mail)
	if a.kind == kindAccept {
		s.from, s.inTx, s.rcpts = address(arg, "FROM:"), true, nil
	}
	return s.perform(a, "250 2.1.0 Ok\r\n")
}

func (s *rawSession) rcpt(arg string) bool {
	if !s.inTx {
		return s.write("503 5.5.1 Need MAIL first\r\n")
	}
	a := s.m.action(Rcpt)
	if a.kind == kindAccept {
		s.rcpts = append(s.rcpts, address(arg, "TO:"))
	}
	return s.perform(a, "250 2.1.5 Ok\r\n")
}

func (s *rawSession) data() bool {
	if len(s.rcpts) == 0 {
		return s.write("503 5.5.1 Need RCPT first\r\n")
	}
	a := s.m.action(DataCmd)
	if a.kind != kindAccept {
		return s.perform(a, "")
	}
	if !s.write("354 End data with <CR><LF>.<CR><LF>\r\n") {
		return false
	}
	data, err := readData(s.br)
	if err != nil {
		return false
	}
	a = s.m.action(EndOfData)
	if a.accepts() {
		s.m.recordMessage(Message{From: s.from, Rcpts: s.rcpts, Data: data, TLS: s.tls})
	}
	s.reset()
	return s.perform(a, "250 2.0.0 Ok: queued\r\n")
}

// readData reads dot-stuffed content up to the line ".\r\n" (RFC 5321
// §4.5.2) and removes the stuffing. Like go-smtp, only CRLF starts a line:
// "\n.\r\n" does not end the data and "\n." is not unstuffed.
func readData(br *bufio.Reader) ([]byte, error) {
	var data []byte
	for {
		line, err := br.ReadSlice('\n')
		bol := len(data) == 0 || bytes.HasSuffix(data, []byte("\r\n"))
		if err == bufio.ErrBufferFull {
			data = appendUnstuffed(data, line, bol)
			continue
		}
		if err != nil {
			return nil, err
		}
		if bol && bytes.Equal(line, []byte(".\r\n")) {
			return data, nil
		}
		data = appendUnstuffed(data, line, bol)
	}
}

func appendUnstuffed(data, chunk []byte, bol bool) []byte {
	if bol && len(chunk) > 0 && chunk[0] == '.' {
		chunk = chunk[1:]
	}
	return append(data, chunk...)
}

// do performs the action scripted for step, okReply being the reply of
// Accept. It returns false when the session must end.
func (s *rawSession) do(step Step, okReply string) bool {
	return s.perform(s.m.action(step), okReply)
}

func (s *rawSession) perform(a Action, okReply string) bool {
	switch a.kind {
	case kindAccept:
		return s.write(okReply)
	case kindReply:
		return s.write(a.format()) && !a.close
	case kindSend:
		return s.write(a.text)
	case kindHang:
		<-s.m.release
		return false
	case kindEndless:
		line := "250-" + strings.Repeat("x", 70) + "\r\n"
		for {
			select {
			case <-s.m.release:
				return false
			default:
			}
			if !s.write(line) {
				return false
			}
		}
	}
	return false // kindDrop
}

func (s *rawSession) write(str string) bool {
	_, err := io.WriteString(s.c, str)
	return err == nil
}

// readCounter counts the reads of a connection that return data.
type readCounter struct {
	r io.Reader
	m *MTA
}

func (c readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.m.countRead()
	}
	return n, err
}

// address extracts the path of "FROM:<a@b> PARAMS" or "TO:<a@b>".
func address(arg, prefix string) string {
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	arg = strings.TrimSpace(arg)
	if i := strings.IndexByte(arg, '>'); strings.HasPrefix(arg, "<") && i > 0 {
		return arg[1:i]
	}
	path, _, _ := strings.Cut(arg, " ")
	return path
}
