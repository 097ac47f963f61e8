package smtpd

import (
	"strconv"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Replies of the protocol engine itself (RFC 5321 §4.2.2, RFC 3463 codes).
// Those shared with the rest of Sluice live in package smtp.
var (
	replyOK            = smtp.NewReply(250, "2.0.0", "Ok")
	replyMailOK        = smtp.NewReply(250, "2.1.0", "Ok")
	replyRcptOK        = smtp.NewReply(250, "2.1.5", "Ok")
	replyBye           = smtp.NewReply(221, "2.0.0", "Bye")
	replyStartData     = smtp.NewReply(354, "", "End data with <CR><LF>.<CR><LF>")
	replyStartTLS      = smtp.NewReply(220, "2.0.0", "Ready to start TLS")
	replyVrfy          = smtp.NewReply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
	replyUnknown       = smtp.NewReply(500, "5.5.2", "Command not recognized")
	replyNotImpl       = smtp.NewReply(502, "5.5.1", "Command not implemented")
	replyBDAT          = smtp.NewReply(502, "5.5.1", "BDAT not supported, closing connection")
	replyNULCommand    = smtp.NewReply(501, "5.5.2", "NUL characters not allowed")
	replyNeedHelo      = smtp.NewReply(503, "5.5.1", "Send HELO or EHLO first")
	replyNestedMail    = smtp.NewReply(503, "5.5.1", "Nested MAIL command")
	replyNeedMail      = smtp.NewReply(503, "5.5.1", "Need MAIL command")
	replyNoRcpts       = smtp.NewReply(554, "5.5.1", "No valid recipients")
	replyTLSActive     = smtp.NewReply(503, "5.5.1", "TLS already active")
	replyTooManyErrors = smtp.NewReply(421, "4.7.0", "Too many errors, closing connection")
	replyTooManyJunk   = smtp.NewReply(421, "4.7.0", "Too many junk commands, closing connection")
	replyTooManyConns  = smtp.NewReply(421, "4.7.0", "Too many connections, try again later")
	replyEarlyTalker   = smtp.NewReply(554, "5.5.1", "Protocol error: client talked before the greeting")
	replyPanic         = smtp.NewReply(421, "4.3.0", "Temporary local problem, closing connection")
	replyNoSession     = smtp.NewReply(421, "4.3.0", "Service not available, closing connection")
)

// syntax is a 501 5.5.4 reply showing the expected form.
func syntax(form string) *smtp.Reply {
	return smtp.NewReply(501, "5.5.4", "Syntax: "+form)
}

// dataLineTooLong refuses a message with a line longer than max bytes, CRLF
// included: permanent, as the same message will always be refused.
func dataLineTooLong(max int) *smtp.Reply {
	return smtp.NewReply(552, "5.3.4", "Message line longer than "+strconv.Itoa(max)+" bytes")
}
