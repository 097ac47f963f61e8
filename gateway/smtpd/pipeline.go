package smtpd

import (
	"context"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Later is what the Mail or Rcpt of a Settler returns to answer the
// command after more commands: its reply then comes from Settle. It is
// compared by identity; its fields mean nothing.
var Later = &smtp.Reply{}

// Settler is a Session that can answer MAIL and RCPT later, so that the
// work of a group of pipelined commands can be batched (the bridge sends
// their MAIL and RCPTs downstream in one write, RFC 2920). The server calls
// Settle before it reads from the socket again, before any command other
// than RCPT, and before the connection ends, so a client never waits for
// a reply while its command is held back. Until then it takes a MAIL
// answered Later as accepted, and RCPTs after it are given to the session.
type Settler interface {
	Session
	// Settle returns the replies of the commands answered Later since the
	// last Settle, in order, one each; nil is the default success reply.
	// If the MAIL among them fails, the RCPTs that followed it are
	// answered 503 5.5.1, as they would have been had the MAIL been
	// answered first, whatever Settle returns for them.
	Settle(ctx context.Context) []*smtp.Reply
}

// held is a reply not sent yet because a reply before it is Later.
type held struct {
	r    *smtp.Reply // Later until settled
	mail bool        // the reply to MAIL
	rcpt bool        // a reply to RCPT
}

// hold queues r behind the replies already held.
func (c *conn) hold(h held) {
	if h.r != Later && h.r.Code >= 400 {
		c.heldErrors++
	}
	c.held = append(c.held, h)
}

// holding reports whether replies are held back behind a Later one.
func (c *conn) holding() bool { return len(c.held) > 0 }

// batchable reports whether the RCPT just read may join the held group: it
// could not take the transaction past MaxRecipients, nor its errors to
// HardErrorLimit, whatever the held replies turn out to be. Otherwise the
// group is settled first, and the command runs on the exact state.
func (c *conn) batchable(verb string) bool {
	return verb == "RCPT" && c.rcpts < c.cfg.MaxRecipients &&
		c.errors+c.heldErrors+1 < c.cfg.HardErrorLimit
}

// settle gets the replies answered Later from the session and sends every
// held reply in order, with the state changes its command would have
// made: a failed MAIL ends the transaction and turns the replies of the
// RCPTs after it into 503; a failed RCPT is not counted. Nothing is sent
// after a reply that closes the connection.
func (c *conn) settle() {
	if !c.holding() {
		return
	}
	queue := c.held
	c.held, c.heldErrors = nil, 0
	later := 0
	for _, h := range queue {
		if h.r == Later {
			later++
		}
	}
	var replies []*smtp.Reply
	if later > 0 {
		replies = c.settler.Settle(c.ctx)
		if len(replies) != later {
			c.log.Error("session settled a wrong number of replies", "got", len(replies), "want", later)
		}
	}
	k, noMail := 0, false
	for _, h := range queue {
		r := h.r
		if r == Later {
			r = smtp.ReplyInternal
			if k < len(replies) {
				def := replyRcptOK
				if h.mail {
					def = replyMailOK
				}
				r = c.checked(replies[k], def)
			}
			k++
			switch {
			case h.mail && r.Class() != 2:
				c.inTx, c.rcpts, c.sizeHint, noMail = false, 0, 0, true
			case h.rcpt && r.Class() != 2 && !noMail:
				c.rcpts--
			}
		}
		if h.rcpt && noMail {
			r = replyNeedMail
		}
		if !c.closing {
			c.emit(r)
		}
	}
}
