package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// unavailable is the value of an attribute Sluice does not know, in XCLIENT
// and XFORWARD alike.
const unavailable = "[UNAVAILABLE]"

// maxAttrValue is the longest attribute value passed on, before encoding
// (Postfix's XCLIENT and XFORWARD limit).
const maxAttrValue = 255

// maxCommandLine bounds one XCLIENT or XFORWARD line, CRLF excluded, to the
// command line length every SMTP server must accept (RFC 5321 §4.5.3.1.4).
const maxCommandLine = 510

// errNoXClient is Open's error when XCLIENT is on and the server does not
// offer it to us.
var errNoXClient = errors.New("downstream does not authorize XCLIENT from us: add our address to smtpd_authorized_xclient_hosts")

// xclientOrder is the order in which XCLIENT attributes are sent, among
// those the server lists.
var xclientOrder = []string{"ADDR", "PORT", "NAME", "HELO", "PROTO"}

// xclient tells the server who the client really is (Postfix
// XCLIENT_README): XCLIENT with the attributes the server listed after the
// keyword, which it answers with a new 220 greeting; then HELO or EHLO
// again, as the client did, since the server is back at the start of the
// session. Only the attributes the
// server listed are sent. A server that does not offer XCLIENT, or refuses
// it, is an error: never fall back to sending mail as ourselves.
func (c *smtpConn) xclient(ctx context.Context) error {
	params, ok := c.ext["XCLIENT"]
	if !ok {
		return errNoXClient
	}
	offered := attrSet(params)
	attrs := identityAttrs(c.id)
	var send []string
	for _, name := range xclientOrder {
		if offered[name] {
			send = append(send, name)
		}
	}
	if len(send) == 0 {
		return fmt.Errorf("downstream offers XCLIENT without any of %s", strings.Join(xclientOrder, " "))
	}
	line := xclientLine(send, attrs)

	stop := c.watch(ctx)
	defer stop()
	r, err := c.exchange(ctx, c.cfg.CommandTimeout, line)
	if err != nil {
		return err
	}
	if r.Code != 220 {
		if r.Code == 550 {
			return fmt.Errorf("%w (%w)", errNoXClient, &greetingError{stage: "XCLIENT", reply: r})
		}
		return &greetingError{stage: "XCLIENT", reply: r}
	}
	// The server is back at the greeting stage: greet it again, in the
	// client's words, since Postfix records the name and protocol of this
	// HELO or EHLO over those XCLIENT gave. A client that said HELO made no
	// use of extensions, so none are lost by saying HELO for it.
	verb, name := "EHLO", c.cfg.Helo
	if cleanValue(c.id.Helo) {
		name = c.id.Helo
	}
	if c.id.Proto == "SMTP" {
		verb = "HELO"
	}
	r, err = c.exchange(ctx, c.cfg.CommandTimeout, verb+" "+name)
	if err != nil {
		return err
	}
	if r.Class() != 2 {
		return &greetingError{stage: verb + " after XCLIENT", reply: r}
	}
	if verb == "EHLO" {
		c.ext = parseExtensions(r)
	} else {
		c.ext = map[string]string{}
	}
	return nil
}

// xclientLine renders XCLIENT with the named attributes. If the line would
// be longer than maxCommandLine, the longest free-text values (HELO, then
// NAME) are replaced by [UNAVAILABLE].
func xclientLine(names []string, attrs map[string]string) string {
	for _, shorten := range []string{"", "HELO", "NAME"} {
		if shorten != "" {
			attrs[shorten] = unavailable
		}
		line := "XCLIENT" + encodeAttrs(names, attrs)
		if len(line) <= maxCommandLine {
			return line
		}
	}
	return "XCLIENT" + encodeAttrs(names, attrs)
}

// encodeAttrs renders " NAME=xtext" for each name.
func encodeAttrs(names []string, attrs map[string]string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(" " + n + "=" + xtext(attrs[n]))
	}
	return b.String()
}

// attrSet reads the attribute names listed after an EHLO keyword.
func attrSet(params string) map[string]bool {
	set := map[string]bool{}
	for _, f := range strings.Fields(params) {
		set[strings.ToUpper(f)] = true
	}
	return set
}

// identityAttrs derives the XCLIENT/XFORWARD attribute values from id, each
// one valid for the attribute or [UNAVAILABLE].
func identityAttrs(id Identity) map[string]string {
	a := map[string]string{
		"ADDR":  unavailable,
		"PORT":  unavailable,
		"NAME":  unavailable,
		"HELO":  unavailable,
		"PROTO": unavailable,
	}
	if ip, err := netip.ParseAddr(id.ClientIP); err == nil {
		ip = ip.Unmap().WithZone("")
		switch {
		case ip.Is4():
			a["ADDR"] = ip.String()
		case ip.Is6():
			// Postfix's form for an IPv6 address.
			a["ADDR"] = "IPV6:" + ip.String()
		}
	}
	if id.ClientPort > 0 && id.ClientPort <= 65535 {
		a["PORT"] = strconv.Itoa(id.ClientPort)
	}
	if smtp.ValidHostName(id.ClientName) {
		a["NAME"] = id.ClientName
	}
	if cleanValue(id.Helo) {
		a["HELO"] = id.Helo
	}
	if id.Proto == "SMTP" || id.Proto == "ESMTP" {
		a["PROTO"] = id.Proto
	}
	return a
}

// cleanValue reports whether s may be passed on as an attribute value: not
// empty, at most maxAttrValue octets, printable ASCII without spaces. CR,
// LF and other controls would split or corrupt the command (docs/TESTPLAN.md row
// 31); xtext could carry them, but the server would log them.
func cleanValue(s string) bool {
	if s == "" || len(s) > maxAttrValue {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// xtext encodes s as RFC 3461 §4 xtext: the printable ASCII characters from
// "!" to "~" stand for themselves, except "+" and "=", which like every
// other octet become "+" and two upper-case hex digits.
func xtext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= '!' && ch <= '~' && ch != '+' && ch != '=' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('+')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&0xf])
	}
	return b.String()
}
