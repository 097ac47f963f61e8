package smtpd

import (
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// maxSizeHint caps the buffer preallocated from a client's SIZE declaration,
// so that a lie costs us little.
const maxSizeHint = 1 << 20

// command runs one command line (already free of CR, LF and NUL); false ends
// the connection.
func (c *conn) command(line []byte) bool {
	verb, arg := splitCommand(string(line))
	c.log.Debug("command", "verb", verb)
	if c.holding() {
		if !c.batchable(verb) {
			c.settle()
			if c.closing {
				return false
			}
		} else {
			// Every reply to this RCPT is marked, for settle.
			mark := len(c.held)
			defer func() {
				for i := mark; i < len(c.held); i++ {
					c.held[i].rcpt = true
				}
			}()
		}
	}
	if isJunk(verb) && !c.junkCommand() {
		return false
	}
	switch verb {
	case "EHLO", "HELO":
		return c.helo(verb, arg)
	case "MAIL":
		return c.mail(arg)
	case "RCPT":
		return c.rcpt(arg)
	case "DATA":
		return c.data(arg)
	case "RSET":
		if arg != "" {
			return c.bad(syntax("RSET"))
		}
		c.resetTx()
		c.reply(replyOK)
	case "NOOP":
		c.reply(replyOK)
	case "QUIT":
		c.quit = true
		c.reply(replyBye)
		return false
	case "VRFY":
		if arg == "" {
			return c.bad(syntax("VRFY address"))
		}
		c.reply(replyVrfy)
	case "HELP":
		c.reply(c.help())
	case "STARTTLS":
		return c.startTLS(arg)
	case "XFORWARD":
		return c.xforwardCmd(arg)
	case "XCLIENT":
		// Nobody may change the client's identity for access control
		// (docs/TESTPLAN.md row 28); answered as Postfix answers the unauthorized.
		c.log.Warn("XCLIENT refused")
		return c.bad(replyXClientDenied)
	case "BDAT":
		// We never offer CHUNKING (RFC 3030): the chunk that follows would
		// be read as commands. Refuse and close (docs/TESTPLAN.md row 11).
		c.log.Warn("BDAT without CHUNKING")
		c.reply(replyBDAT)
		return false
	case "EXPN", "TURN", "ETRN", "ATRN", "AUTH":
		return c.bad(replyNotImpl)
	default:
		return c.bad(replyUnknown)
	}
	return true
}

// isJunk reports the commands that move no mail: NOOP, RSET, VRFY, HELP,
// HELO, EHLO and anything unknown or unimplemented. Postfix's
// smtpd_junk_command_limit counts NOOP, VRFY, ETRN and RSET; we add HELO and
// EHLO because each one runs the helo plugins, so an endless EHLO loop would
// make the gateway work for nothing.
func isJunk(verb string) bool {
	switch verb {
	case "MAIL", "RCPT", "DATA", "QUIT", "STARTTLS", "XFORWARD", "XCLIENT", "BDAT":
		return false
	}
	return true
}

// helo handles HELO and EHLO (RFC 5321 §4.1.1.1). A new EHLO ends any open
// transaction (§4.1.4).
func (c *conn) helo(verb, arg string) bool {
	if !validHeloName(arg) {
		return c.bad(syntax(verb + " hostname"))
	}
	if c.inTx {
		c.resetTx()
	}
	c.xforward = nil
	r := c.sess.Helo(c.ctx, arg, c.tls)
	if r != nil && r.Class() != 2 {
		c.greeted = false
		c.reply(c.checked(r, nil))
		return true
	}
	c.greeted = true
	c.heloName, c.proto = arg, "ESMTP"
	if verb == "HELO" {
		c.proto = "SMTP"
		c.reply(c.checked(r, smtp.NewReply(250, "", c.cfg.Hostname)))
		return true
	}
	c.reply(c.ehloReply())
	return true
}

// ehloReply lists exactly the extensions we implement. Not CHUNKING,
// SMTPUTF8, DSN or AUTH.
func (c *conn) ehloReply() *smtp.Reply {
	lines := []string{
		c.cfg.Hostname,
		"PIPELINING", // RFC 2920
		"8BITMIME",   // RFC 6152
		"SIZE " + strconv.FormatInt(c.cfg.MaxMessageSize, 10), // RFC 1870
		"ENHANCEDSTATUSCODES", // RFC 2034
	}
	if c.cfg.TLSConfig != nil && c.tls == nil {
		lines = append(lines, "STARTTLS") // RFC 3207
	}
	if c.xforwardOK {
		lines = append(lines, "XFORWARD "+xforwardAttrNames) // Postfix XFORWARD_README
	}
	return &smtp.Reply{Code: 250, Lines: lines}
}

func (c *conn) help() *smtp.Reply {
	cmds := "HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
	if c.cfg.TLSConfig != nil && c.tls == nil {
		cmds += " STARTTLS"
	}
	if c.xforwardOK {
		cmds += " XFORWARD"
	}
	return smtp.NewReply(214, "2.0.0", "Commands: "+cmds)
}

// mail handles MAIL FROM (RFC 5321 §4.1.1.2).
func (c *conn) mail(arg string) bool {
	switch {
	case !c.greeted:
		return c.bad(replyNeedHelo)
	case c.inTx:
		return c.bad(replyNestedMail)
	}
	from, params, rep := parsePath(arg, "FROM:", senderPath)
	if rep != nil {
		return c.bad(rep)
	}
	size, rep := mailParams(params, c.cfg.MaxMessageSize)
	if rep != nil {
		if rep.Code == 552 {
			c.reply(rep) // a policy answer, not a protocol error
			return true
		}
		return c.bad(rep)
	}
	c.tellOrigin()
	r := c.sess.Mail(c.ctx, from, strings.Join(params, " "))
	if r == Later && c.settler != nil {
		// Taken as accepted until settled (pipeline.go).
		c.inTx, c.rcpts = true, 0
		c.sizeHint = int(min(size, maxSizeHint))
		c.hold(held{r: Later, mail: true})
		return true
	}
	r = c.checked(r, replyMailOK)
	if r.Class() == 2 {
		c.inTx, c.rcpts = true, 0
		c.sizeHint = int(min(size, maxSizeHint))
	}
	c.reply(r)
	return true
}

// rcpt handles RCPT TO (RFC 5321 §4.1.1.3).
func (c *conn) rcpt(arg string) bool {
	if !c.inTx {
		return c.bad(replyNeedMail)
	}
	to, params, rep := parsePath(arg, "TO:", recipientPath)
	if rep == nil {
		rep = rcptParams(params)
	}
	if rep != nil {
		return c.bad(rep)
	}
	if c.rcpts >= c.cfg.MaxRecipients {
		c.excess++
		c.reply(smtp.ReplyTooManyRcpts)
		return true
	}
	r := c.sess.Rcpt(c.ctx, to, strings.Join(params, " "))
	if r == Later && c.settler != nil {
		c.rcpts++ // until settled
		c.hold(held{r: Later, rcpt: true})
		return true
	}
	r = c.checked(r, replyRcptOK)
	if r.Class() == 2 {
		c.rcpts++
	}
	c.reply(r)
	return true
}
