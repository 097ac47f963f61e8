package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
)

// spamd scans with SpamAssassin's daemon over the SPAMC/SPAMD protocol
// (spamd's "PROTOCOL" document): one request per connection, so one
// connection per scan, at most MaxConns at once.
type spamd struct {
	cfg     Config
	dial    *dialer
	command string
}

// Commands for spamd: SYMBOLS returns the names of the rules that hit,
// REPORT the human-readable report with each rule's points.
const (
	SpamdSymbols = "SYMBOLS"
	SpamdReport  = "REPORT"
)

func newSpamd(c Config) (*spamd, error) {
	d, err := newDialer(c.Address, c.MaxConns)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(c.User, "\r\n") {
		return nil, errors.New("spamd user holds a line break")
	}
	return &spamd{cfg: c, dial: d, command: SpamdSymbols}, nil
}

func (s *spamd) Close() error { return nil }

func (s *spamd) Scan(ctx context.Context, _ Envelope, msg Message) (*Result, error) {
	if s.cfg.MaxSize > 0 && int64(msg.Size()) > s.cfg.MaxSize {
		return tooLarge(&s.cfg), nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	conn, release, err := s.dial.dial(ctx)
	if err != nil {
		return nil, s.cfg.fail(ctx, err)
	}
	defer release()
	defer conn.Close()
	if err := s.send(conn, msg); err != nil {
		return nil, s.cfg.fail(ctx, err)
	}
	// spamd closes the connection after its reply.
	reply, err := readReply(conn, -1)
	if err != nil {
		return nil, s.cfg.fail(ctx, err)
	}
	res, err := parseSpamd(reply, s.command)
	if err != nil {
		return nil, s.cfg.protocolError("%v", err)
	}
	return res, nil
}

func (s *spamd) send(conn net.Conn, msg Message) error {
	w := bufio.NewWriterSize(conn, 32<<10)
	fmt.Fprintf(w, "%s SPAMC/1.5\r\nContent-length: %d\r\n", s.command, msg.Size())
	if s.cfg.User != "" {
		fmt.Fprintf(w, "User: %s\r\n", s.cfg.User)
	}
	w.WriteString("\r\n")
	if _, err := msg.WriteTo(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// Tell spamd the request is complete; some versions wait for it.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	return nil
}

// parseSpamd decodes a reply to SYMBOLS or REPORT:
//
//	SPAMD/1.1 0 EX_OK
//	Content-length: 27
//	Spam: True ; 1000.0 / 5.0
//
//	GTUBE,NO_RECEIVED,NO_RELAYS
func parseSpamd(reply []byte, command string) (*Result, error) {
	head, body, ok := bytes.Cut(reply, []byte("\r\n\r\n"))
	if !ok {
		// A reply with no body may end at its header section.
		head, ok = bytes.CutSuffix(reply, []byte("\r\n"))
		if !ok {
			return nil, fmt.Errorf("not a SPAMD reply: %s", snippet(reply))
		}
	}
	lines := strings.Split(string(head), "\r\n")
	f := strings.Fields(lines[0])
	if len(f) < 3 || !strings.HasPrefix(f[0], "SPAMD/1.") {
		return nil, fmt.Errorf("not a SPAMD reply: %s", snippet(reply))
	}
	if f[1] != "0" {
		return nil, fmt.Errorf("spamd: %s", strings.Join(f[1:], " "))
	}
	res := &Result{Engine: EngineSpamd}
	seenSpam := false
	length := -1
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad SPAMD header line %s", snippet([]byte(l)))
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "spam":
			// "True ; 15.0 / 5.0"
			verdict, scores, ok1 := strings.Cut(value, ";")
			score, required, ok2 := strings.Cut(scores, "/")
			var err1, err2 error
			res.Score, err1 = strconv.ParseFloat(strings.TrimSpace(score), 64)
			res.RequiredScore, err2 = strconv.ParseFloat(strings.TrimSpace(required), 64)
			v := strings.ToLower(strings.TrimSpace(verdict))
			if !ok1 || !ok2 || err1 != nil || err2 != nil || !finite(res.Score) || !finite(res.RequiredScore) || (v != "true" && v != "false" && v != "yes" && v != "no") {
				return nil, fmt.Errorf("bad Spam header %s", snippet([]byte(value)))
			}
			res.Spam = v == "true" || v == "yes"
			seenSpam = true
		case "content-length":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad Content-length %s", snippet([]byte(value)))
			}
			length = n
		}
	}
	if !seenSpam {
		return nil, errors.New("SPAMD reply without a Spam header")
	}
	if length >= 0 {
		if len(body) < length {
			return nil, io.ErrUnexpectedEOF
		}
		body = body[:length]
	}
	text := strings.TrimRight(string(body), "\r\n")
	switch command {
	case SpamdSymbols:
		for _, name := range strings.Split(text, ",") {
			if name = strings.TrimSpace(name); name != "" {
				res.Symbols = append(res.Symbols, Symbol{Name: name})
			}
		}
	case SpamdReport:
		res.Report = text
		res.Symbols = reportSymbols(text)
	}
	return res, nil
}

// reportSymbols reads the rules of a REPORT body: after the " pts rule
// name" heading and its dashes, lines of "points NAME description".
func reportSymbols(report string) []Symbol {
	var out []Symbol
	table := false
	for _, l := range strings.Split(report, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(strings.TrimSpace(l), "----") {
			table = true
			continue
		}
		if !table {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		pts, err := strconv.ParseFloat(f[0], 64)
		if err != nil || !finite(pts) {
			if len(out) > 0 && strings.HasPrefix(l, " ") { // a wrapped description
				out[len(out)-1].Description += " " + strings.Join(f, " ")
			}
			continue
		}
		out = append(out, Symbol{Name: f[1], Score: pts, Description: strings.Join(f[2:], " ")})
	}
	return out
}

// finite reports whether f is a number JSON can carry.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
