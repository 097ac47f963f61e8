package smtpd

import (
	"errors"
	"math"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// data handles DATA (RFC 5321 §4.1.1.4): 354, the message up to CRLF.CRLF,
// then the Session's verdict. Whatever the outcome, the transaction ends.
func (c *conn) data(arg string) bool {
	switch {
	case arg != "":
		return c.bad(syntax("DATA"))
	case !c.inTx:
		return c.bad(replyNeedMail)
	case c.rcpts == 0:
		// RFC 5321 §3.3 and RFC 2920 §3.1: all RCPTs failed.
		c.reply(replyNoRcpts)
		return true
	}
	c.reply(replyStartData)
	if !c.flush() {
		return false
	}
	c.setRead(c.cfg.CommandTimeout, time.Now().Add(c.cfg.DataTimeout), false)
	msg, err := smtp.ReadData(c.br, smtp.DataOptions{
		MaxSize:    c.cfg.MaxMessageSize,
		MaxConsume: maxConsume(c.cfg.MaxMessageSize),
		MaxLine:    c.cfg.MaxLineLength,
		BareLF:     c.cfg.BareLF,
		SizeHint:   c.sizeHint,
		Chunks:     &c.srv.chunks,
	})
	c.setRead(c.cfg.CommandTimeout, time.Time{}, false)

	keep := true
	var r *smtp.Reply
	switch {
	case err == nil:
		r = c.checked(c.sess.Data(c.ctx, msg), smtp.ReplyInternal)
		c.log.Info("message received", "size", len(msg), "code", r.Code)
	case errors.Is(err, smtp.ErrTooBig):
		c.log.Info("message too big")
		r = smtp.ReplyTooBig
	case errors.Is(err, smtp.ErrLineTooLong):
		c.log.Warn("message line too long", "limit", c.cfg.MaxLineLength)
		r = dataLineTooLong(c.cfg.MaxLineLength)
	case errors.Is(err, smtp.ErrNUL):
		c.log.Warn("NUL in message data")
		r = smtp.ReplyNULNotAllowed
	case smtp.IsFramingError(err):
		// docs/TESTPLAN.md rows A1–A5: bare CR always, bare LF under the reject
		// policy. The client's framing cannot be trusted: close.
		c.log.Warn("bare CR or LF in message data", "err", err)
		r, keep = smtp.ReplyBareLF, false
	case errors.Is(err, smtp.ErrDataOverrun):
		c.log.Warn("message far over the size limit")
		r, keep = smtp.ReplyTooBig, false
	default:
		c.resetTx()
		c.ioError(err)
		return false
	}
	c.resetTx()
	c.reply(r)
	if r.Class() == 2 {
		c.delivered()
	}
	return keep
}

// maxConsume is how much raw DATA we read before giving up on finding its
// end: past twice the limit (and a margin) the client is sending something
// we refuse anyway, so we answer and close rather than read on.
func maxConsume(maxSize int64) int64 {
	if maxSize > (math.MaxInt64-1<<20)/2 {
		return 0 // no limit; the DATA deadline still bounds the work
	}
	return 2*maxSize + 1<<20
}
