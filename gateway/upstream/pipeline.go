package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Command is one MAIL FROM or RCPT TO of a pipelined batch.
type Command struct {
	Rcpt   bool   // RCPT TO; false for MAIL FROM
	Path   string // the address, without angle brackets ("" = null sender)
	Params string // ESMTP parameters as the client sent them, filtered as Mail and Rcpt do
}

// Pipeliner is implemented by a Conn that can send the envelope of a
// transaction in one write (RFC 2920, PIPELINING).
type Pipeliner interface {
	// Pipelining reports whether the server offered PIPELINING.
	Pipelining() bool
	// Pipeline sends cmds and returns one result per command, each what Mail
	// or Rcpt would have returned for it. RCPTs that follow a MAIL refused
	// here, before anything is sent, are not sent and get 503 5.5.1; RCPTs
	// that follow a MAIL the server refused are sent and get the server's
	// own replies. When the dialogue fails (I/O error, timeout, a reply
	// that is not SMTP, bytes nobody asked for, an RCPT accepted after its
	// MAIL was refused, a refused XFORWARD) or the server answers 421,
	// every command of the batch gets that error, whatever was answered
	// before it: the replies can no longer be matched to the commands, so
	// none may be taken for an acceptance.
	Pipeline(ctx context.Context, cmds []Command) []error
}

// pipelineWindow bounds the commands written before their replies are
// read. A write that fits in the socket buffers never waits for the server
// to read, so the server can never be blocked writing replies we do not
// read yet (RFC 2920 §3.5: no deadlock). 16 KiB is over 300 recipients.
const pipelineWindow = 16 << 10

// replyNeedMail answers, without sending it, an RCPT whose MAIL was refused
// before it was sent, as a server answers an RCPT outside a transaction.
var replyNeedMail = smtp.NewReply(503, "5.5.1", "Error: need MAIL command")

// errRcptAfterRefusedMail is a server that accepted a recipient of a
// transaction it had refused: out of step.
var errRcptAfterRefusedMail = errors.New("RCPT accepted after MAIL was refused")

// batchLine is one line of a batch: cmd is the index of its Command, or -1
// for an XFORWARD line.
type batchLine struct {
	text string
	cmd  int
	rcpt bool
}

var _ Pipeliner = (*smtpConn)(nil)

func (c *smtpConn) Pipelining() bool { return c.has("PIPELINING") }

// Pipeline writes the batch, XFORWARD first when it goes before MAIL (as
// Postfix's own SMTP client pipelines it), and reads the replies in order.
// It must be used only when Pipelining reports true.
func (c *smtpConn) Pipeline(ctx context.Context, cmds []Command) []error {
	c.last.Store(nil)
	errs := make([]error, len(cmds))
	lines := c.batchLines(cmds, errs)
	if len(lines) == 0 {
		return errs
	}
	end, err := c.begin(ctx)
	if err == nil {
		err = c.exchangeBatch(ctx, lines, errs)
		end()
	}
	if err != nil {
		fill(errs, err)
	}
	return errs
}

// batchLines renders the commands to send and sets errs for those refused
// before sending.
func (c *smtpConn) batchLines(cmds []Command, errs []error) []batchLine {
	var lines []batchLine
	noMail := false
	for i, cmd := range cmds {
		if !cmd.Rcpt {
			text, refuse := c.mailLine(cmd.Path, cmd.Params)
			noMail = refuse != nil
			if refuse != nil {
				errs[i] = refuse
				continue
			}
			if c.sendsXForward() {
				for _, x := range xforwardLines(attrSet(c.ext["XFORWARD"]), c.id) {
					lines = append(lines, batchLine{text: x, cmd: -1})
				}
			}
			lines = append(lines, batchLine{text: text, cmd: i})
			continue
		}
		if noMail {
			errs[i] = replyNeedMail
			continue
		}
		text, refuse := c.rcptLine(cmd.Path, cmd.Params)
		if refuse != nil {
			errs[i] = refuse
			continue
		}
		lines = append(lines, batchLine{text: text, cmd: i, rcpt: true})
	}
	return lines
}

// exchangeBatch writes lines, at most pipelineWindow bytes at a time, and
// reads each window's replies into errs. A non-nil error is for the whole
// batch: the connection is lost (or closing, after a 421).
func (c *smtpConn) exchangeBatch(ctx context.Context, lines []batchLine, errs []error) error {
	var xforwardRefused *smtp.Reply
	mailRefused := false
	for start := 0; start < len(lines); {
		stop, size := start, 0
		for stop < len(lines) && (stop == start || size+len(lines[stop].text)+2 <= pipelineWindow) {
			c.bw.WriteString(lines[stop].text)
			c.bw.WriteString("\r\n")
			size += len(lines[stop].text) + 2
			stop++
		}
		c.setDeadline(ctx, c.cfg.CommandTimeout)
		if err := c.bw.Flush(); err != nil {
			return c.lost(ctx, err)
		}
		for k := start; k < stop; k++ {
			c.setDeadline(ctx, c.cfg.CommandTimeout)
			r, err := smtp.ReadReply(c.br)
			if err != nil {
				return c.lost(ctx, err)
			}
			if k == stop-1 && c.br.Buffered() > 0 {
				return c.lost(ctx, errUnsolicited)
			}
			if r.Code == 421 || (r.Class() != 2 && r.Class() != 4 && r.Class() != 5) {
				return c.result(ctx, r)
			}
			l := lines[k]
			switch {
			case l.cmd < 0:
				if r.Class() != 2 && xforwardRefused == nil {
					xforwardRefused = r.Sanitized()
				}
				continue
			case !l.rcpt:
				mailRefused = r.Class() != 2
			case mailRefused && r.Class() == 2:
				return c.lost(ctx, errRcptAfterRefusedMail)
			}
			if r.Class() == 2 {
				c.last.Store(r.Sanitized())
				errs[l.cmd] = nil
			} else {
				c.last.Store(nil)
				errs[l.cmd] = r.Sanitized()
			}
		}
		start = stop
	}
	if r := xforwardRefused; r != nil {
		// The MAIL behind it was sent all the same and may have opened a
		// transaction: the connection is dropped rather than reset.
		c.log.Warn("downstream refused XFORWARD", "code", r.Code, "enhanced", r.Enhanced, "text", strings.Join(r.Lines, " / "))
		return c.lost(ctx, fmt.Errorf("downstream refused XFORWARD: %d %s", r.Code, r.Enhanced))
	}
	return nil
}

// sendEach is Pipeline for a connection that cannot pipeline: the commands
// one at a time, with the same results, except that a lost connection
// fails only the commands from there on.
func sendEach(ctx context.Context, c Conn, cmds []Command) []error {
	errs := make([]error, len(cmds))
	noMail := false
	for i, cmd := range cmds {
		switch {
		case !cmd.Rcpt:
			errs[i] = c.Mail(ctx, cmd.Path, cmd.Params)
			noMail = errs[i] != nil
		case noMail:
			errs[i] = replyNeedMail
		default:
			errs[i] = c.Rcpt(ctx, cmd.Path, cmd.Params)
		}
	}
	return errs
}
