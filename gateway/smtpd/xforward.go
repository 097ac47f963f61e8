package smtpd

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// xforwardAttrNames are the XFORWARD attributes we accept, listed after the
// EHLO keyword in Postfix's order.
const xforwardAttrNames = "NAME ADDR PROTO HELO SOURCE PORT IDENT"

// maxXForwardValue is the longest attribute value after xtext decoding.
const maxXForwardValue = 255

// Replies to XFORWARD, worded as Postfix's (XFORWARD_README).
var (
	// docs/TESTPLAN.md row 28: not an authorized peer; nothing is changed.
	replyXForwardDenied = smtp.NewReply(550, "5.7.0", "Error: insufficient authorization")
	replyXForwardInTx   = smtp.NewReply(503, "5.5.1", "Error: MAIL transaction in progress")
	replyXForwardSyntax = syntax("XFORWARD attribute=value...")
	// Sluice never takes XCLIENT: its access decisions are its own.
	replyXClientDenied = replyXForwardDenied
)

// xforwardAllowed reports whether the peer ip is in one of peers.
func xforwardAllowed(peers []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range peers {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// xforwardCmd handles XFORWARD (Postfix XFORWARD_README): an authorized
// peer tells us who its client was, before MAIL. Attributes accumulate over
// several commands and are forgotten when the transaction ends. A command
// with one bad attribute changes nothing.
func (c *conn) xforwardCmd(arg string) bool {
	if !c.xforwardOK {
		c.log.Warn("XFORWARD from an unauthorized peer refused")
		return c.bad(replyXForwardDenied)
	}
	if c.inTx {
		return c.bad(replyXForwardInTx)
	}
	attrs, rep := parseXForward(arg)
	if rep != nil {
		c.log.Warn("bad XFORWARD refused", "reply", rep.Lines[0])
		return c.bad(rep)
	}
	if c.xforward == nil {
		c.xforward = make(map[string]string, len(attrs))
	}
	for k, v := range attrs {
		c.xforward[k] = v
	}
	c.reply(replyOK)
	return true
}

// parseXForward reads "NAME=value ..." into upper-case names and decoded,
// checked values, or returns the 501 reply for the first bad one.
func parseXForward(arg string) (map[string]string, *smtp.Reply) {
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return nil, replyXForwardSyntax
	}
	attrs := make(map[string]string, len(fields))
	for _, f := range fields {
		name, raw, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, replyXForwardSyntax
		}
		name = strings.ToUpper(name)
		if !strings.Contains(" "+xforwardAttrNames+" ", " "+name+" ") {
			return nil, smtp.NewReply(501, "5.5.4", "Bad XFORWARD attribute name") // the name is not echoed: it may hold anything
		}
		v, ok := decodeXtext(raw)
		if !ok || !validXForwardValue(name, v) {
			// docs/TESTPLAN.md row 31: CR, LF, space or another control character,
			// once decoded, is refused and never passed on.
			return nil, smtp.NewReply(501, "5.5.4", "Bad XFORWARD attribute value for "+name)
		}
		attrs[name] = v
	}
	return attrs, nil
}

// decodeXtext decodes RFC 3461 §4 xtext: "+" and two hex digits stand for
// an octet; the other characters are "!" to "~" except "+" and "=".
func decodeXtext(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '+':
			if i+2 >= len(s) {
				return "", false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case ch < '!' || ch > '~' || ch == '=':
			return "", false
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), true
}

// unhex is the value of one hex digit; RFC 3461 writes them upper case, and
// lower case is accepted too.
func unhex(ch byte) (byte, bool) {
	switch {
	case ch >= '0' && ch <= '9':
		return ch - '0', true
	case ch >= 'A' && ch <= 'F':
		return ch - 'A' + 10, true
	case ch >= 'a' && ch <= 'f':
		return ch - 'a' + 10, true
	}
	return 0, false
}

// validXForwardValue checks a decoded value: never empty, never longer than
// maxXForwardValue, printable ASCII without spaces, and of the attribute's
// form. "[UNAVAILABLE]" means unknown for every attribute.
func validXForwardValue(name, v string) bool {
	if v == "" || len(v) > maxXForwardValue {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return false
		}
	}
	if v == "[UNAVAILABLE]" {
		return true
	}
	switch name {
	case "NAME":
		return v == "[TEMPUNAVAIL]" || smtp.ValidHostName(v)
	case "ADDR":
		if len(v) > 5 && strings.EqualFold(v[:5], "IPV6:") {
			a, err := netip.ParseAddr(v[5:])
			return err == nil && a.Is6()
		}
		_, err := netip.ParseAddr(v)
		return err == nil
	case "PORT":
		n, err := strconv.ParseUint(v, 10, 16)
		return err == nil && n > 0
	case "PROTO":
		return len(v) <= 64 && strings.Trim(strings.ToUpper(v), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
	case "SOURCE":
		return strings.EqualFold(v, "LOCAL") || strings.EqualFold(v, "REMOTE")
	}
	return true // HELO and IDENT: any printable text
}
