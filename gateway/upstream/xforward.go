package upstream

import (
	"context"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// xforwardOrder is the order in which XFORWARD attributes are sent, among
// those the server lists (Postfix XFORWARD_README).
var xforwardOrder = []string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"}

// mailWithXForward sends the client's attributes with XFORWARD, then the
// MAIL line, as one call. The server forgets XFORWARD attributes at the end
// of each transaction, so they go before every MAIL. A refused XFORWARD
// fails the transaction with 451 4.3.0 before MAIL is sent: the server said
// it would take them, so the refusal is a fault to look at, and mail logged
// under the wrong client would hide it.
func (c *smtpConn) mailWithXForward(ctx context.Context, mail string) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	for _, line := range xforwardLines(attrSet(c.ext["XFORWARD"]), c.id) {
		r, err := c.exchange(ctx, c.cfg.CommandTimeout, line)
		if err != nil {
			return err
		}
		if r.Class() != 2 {
			if (r.Class() != 4 && r.Class() != 5) || r.Code == 421 {
				return c.result(ctx, r) // a lost connection, or a 421 that ends it
			}
			s := r.Sanitized()
			c.log.Warn("downstream refused XFORWARD", "code", s.Code, "enhanced", s.Enhanced, "text", strings.Join(s.Lines, " / "))
			return smtp.ReplyInternal
		}
	}
	r, err := c.exchange(ctx, c.cfg.CommandTimeout, mail)
	if err != nil {
		return err
	}
	return c.result(ctx, r)
}

// xforwardLines renders the XFORWARD commands for id, with the attributes
// the server offered. The values derive from id's fields, overridden by
// what an authorized peer forwarded to us (id.Forwarded); a value that is
// not clean is sent as [UNAVAILABLE]. Attributes are spread over several
// commands, which the server accumulates, so that no line exceeds
// maxCommandLine.
func xforwardLines(offered map[string]bool, id Identity) []string {
	attrs := identityAttrs(id)
	for k, v := range id.Forwarded {
		attrs[strings.ToUpper(k)] = v
	}
	var lines []string
	line := "XFORWARD"
	for _, name := range xforwardOrder {
		v, ok := attrs[name]
		if !offered[name] || !ok {
			continue
		}
		if !cleanValue(v) {
			v = unavailable
		}
		item := " " + name + "=" + xtext(v)
		if len("XFORWARD")+len(item) > maxCommandLine {
			item = " " + name + "=" + unavailable
		}
		if len(line)+len(item) > maxCommandLine {
			lines = append(lines, line)
			line = "XFORWARD"
		}
		line += item
	}
	if line != "XFORWARD" {
		lines = append(lines, line)
	}
	return lines
}

// sendsXForward reports whether XFORWARD goes before each MAIL: configured
// and offered.
func (c *smtpConn) sendsXForward() bool {
	return c.cfg.XForward && c.has("XFORWARD")
}

// rebind gives a pooled connection to a new session: XFORWARD, sent per
// transaction, then describes that session's client, and logs name it.
func (c *smtpConn) rebind(id Identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id = id
	c.log = c.cfg.Logger.With("session", id.SessionID, "upstream", c.cfg.Address)
}
