package contract

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// Misuse is a plugin breaking the contract inside a host function: the
// call ends as a plugin error (a trap in the gateway, sdk/ABI.md §5) and
// every change it made is rolled back.
type Misuse struct {
	Func   string // the host function, such as abi.FnTagSet
	Reason string // what was wrong, for the plugin's author
}

func (e *Misuse) Error() string { return e.Func + ": " + e.Reason }

// ResultError is what a hook returned or left behind breaking the
// contract: an invalid verdict, a reply of the wrong class, an invalid or
// too large message, or no recipient left (sdk/ABI.md §2.1, §4.5, §4.6, §7).
type ResultError struct{ Reason string }

func (e *ResultError) Error() string { return e.Reason }

// Plugin is what a call knows of the plugin it runs, fixed for the
// plugin's lifetime.
type Plugin struct {
	Name string // info "plugin.name"
	// DKIMKeys is info "dkim.keys": one granted key a line (sdk/ABI.md
	// §4.2), "" when none.
	DKIMKeys string
	// MaxMessageSize caps the message a data-phase call may leave; 0 means
	// abi.DefaultMaxMessageSize. A message received within
	// abi.MessageGrowthAllowance of it may still grow by that much.
	MaxMessageSize int
	// KV is the key/value store (grant "kv"); the plugin's namespace in it
	// is Name.
	KV kv.Store
}

// Call is one hook call (or _initialize and sluice_configure, with no
// State) over one filter.State. The zero Call is unusable: use Begin. A
// Call is not safe for concurrent use; the host runs one at a time per
// instance.
type Call struct {
	p    *Plugin
	st   *filter.State // nil during _initialize and sluice_configure
	hook string        // the guest export running, for messages

	body        []byte // body buffer this call allocated (appendable)
	bodyChanged bool
	envChanged  bool
	headerGrow  int // bytes of header fields added by this call
}

// Begin starts a call of hook on st (nil outside a transaction) for p.
func Begin(p *Plugin, st *filter.State, hook string) *Call {
	c := &Call{}
	c.Reset(p, st, hook)
	return c
}

// Reset makes c a new call, reusing its memory.
func (c *Call) Reset(p *Plugin, st *filter.State, hook string) {
	*c = Call{p: p, st: st, hook: hook}
}

// State returns the call's transaction, nil during sluice_configure.
func (c *Call) State() *filter.State { return c.st }

// Hook returns the guest export the call runs.
func (c *Call) Hook() string { return c.hook }

func misuse(fn, format string, args ...any) *Misuse {
	return &Misuse{Func: fn, Reason: fmt.Sprintf(format, args...)}
}

// touch is called before every change: the state saves what the call may
// change at its first change, and the chain rolls back to it if the call
// fails (filter.State.Rollback).
func (c *Call) touch() { c.st.Touch() }

// needPhase refuses a mutation outside the phases allowed (sdk/ABI.md
// §4.3-§4.7).
func (c *Call) needPhase(fn string, allowed ...filter.Phase) *Misuse {
	if c.st != nil {
		for _, a := range allowed {
			if c.st.Phase == a {
				return nil
			}
		}
	}
	where := c.hook
	if c.st != nil {
		where = c.st.Phase.String() + " phase"
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = a.String()
	}
	return misuse(fn, "not allowed in %s (only in the %s phase)", where, strings.Join(names, " and "))
}

// everyPhase is where tag_set and set_reply may be called.
var everyPhase = filter.Phases[:]

// Info returns an info value (sdk/ABI.md §4.2); ok is false for a key
// unknown, not available in this phase, or asked during sluice_configure
// (where only plugin.name and dkim.keys answer).
func (c *Call) Info(key string) (v string, ok bool) {
	switch key {
	case abi.InfoPlugin:
		return c.p.Name, true
	case abi.InfoDKIMKeys:
		return c.p.DKIMKeys, c.p.DKIMKeys != ""
	}
	st := c.st
	if st == nil || st.Session == nil {
		return "", false
	}
	sess := st.Session
	switch key {
	case abi.InfoSessionID:
		return sess.ID, true
	case abi.InfoClientIP:
		if !sess.ClientIP.IsValid() {
			return "", false
		}
		return sess.ClientIP.String(), true
	case abi.InfoClientPort:
		return strconv.Itoa(sess.ClientPort), true
	case abi.InfoClientName:
		return sess.ClientName, sess.ClientName != ""
	case abi.InfoHelo:
		return sess.Helo, st.Phase >= filter.Helo
	case abi.InfoTLS:
		return sess.TLSVersion, sess.TLSVersion != ""
	case abi.InfoTLSCipher:
		return sess.TLSCipher, sess.TLSVersion != "" && sess.TLSCipher != ""
	case abi.InfoHostname:
		return sess.Hostname, true
	case abi.InfoPhase:
		return st.Phase.String(), true
	case abi.InfoMailFrom:
		return st.From, st.Phase >= filter.Mail
	case abi.InfoMailParams:
		return st.MailParams, st.Phase >= filter.Mail
	case abi.InfoRcpt:
		return st.Rcpt, st.Phase == filter.Rcpt
	case abi.InfoRcptParams:
		return st.RcptParams, st.Phase == filter.Rcpt
	case abi.InfoQueueID:
		return st.QueueID, st.Phase >= filter.Mail && st.QueueID != ""
	case abi.InfoAuthUser:
		return sess.AuthUser, sess.AuthUser != ""
	}
	return "", false
}

// RcptCount returns the number of accepted recipients; ok is false during
// sluice_configure.
func (c *Call) RcptCount() (int, bool) {
	if c.st == nil {
		return 0, false
	}
	return len(c.st.Rcpts), true
}

// Rcpt returns accepted recipient i.
func (c *Call) Rcpt(i int) (string, bool) {
	if c.st == nil || i < 0 || i >= len(c.st.Rcpts) {
		return "", false
	}
	return c.st.Rcpts[i], true
}

// ValidTagKey reports whether k is 1 to abi.MaxTagKey bytes of
// [A-Za-z0-9_.-] (sdk/ABI.md §4.3).
func ValidTagKey[T string | []byte](k T) bool {
	if len(k) == 0 || len(k) > abi.MaxTagKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

func tagKey(fn string, k []byte) *Misuse {
	if !ValidTagKey(k) {
		return misuse(fn, "tag key %q must be 1 to %d bytes of A-Z a-z 0-9 _ . -", truncate(k, 80), abi.MaxTagKey)
	}
	return nil
}

// Tag returns a tag (transaction tags shadow session tags); found is false
// for a tag not set, and during sluice_configure.
func (c *Call) Tag(key []byte) (v string, found bool, err error) {
	if m := tagKey(abi.FnTagGet, key); m != nil {
		return "", false, m
	}
	if c.st == nil {
		return "", false, nil
	}
	v, found = c.st.Tag(string(key))
	return v, found, nil
}

// SetTag sets a tag: a session tag in connect and helo, else a
// transaction tag. Values are at most abi.MaxTagValue bytes without CR,
// LF or NUL.
func (c *Call) SetTag(key, value []byte) error {
	if c.st == nil {
		return misuse(abi.FnTagSet, "not allowed in %s (there is no session yet)", c.hook)
	}
	if m := tagKey(abi.FnTagSet, key); m != nil {
		return m
	}
	if len(value) > abi.MaxTagValue {
		return misuse(abi.FnTagSet, "tag value is %d bytes; at most %d are allowed", len(value), abi.MaxTagValue)
	}
	if bytes.ContainsAny(value, "\r\n\x00") {
		return misuse(abi.FnTagSet, "tag value contains CR, LF or NUL")
	}
	c.touch()
	c.st.SetTag(string(key), string(value))
	return nil
}

// SetReply sets the reply of the call (sdk/ABI.md §4.7). An empty
// enhanced code becomes "class.0.0". Whether the reply matches the verdict
// is checked by Result.
func (c *Call) SetReply(code int, enhanced, text []byte) error {
	const fn = abi.FnSetReply
	if c.st == nil {
		return misuse(fn, "not allowed in %s (there is no command to reply to)", c.hook)
	}
	if code < 400 || code > 599 {
		return misuse(fn, "reply code %d is not between 400 and 599", code)
	}
	enh := strconv.Itoa(code/100) + ".0.0"
	if len(enhanced) > 0 {
		enh = string(enhanced)
		if !smtp.ValidEnhanced(enh, code) {
			return misuse(fn, "enhanced status code %q is not class.subject.detail with class %d (RFC 3463)",
				truncate(enhanced, 20), code/100)
		}
	}
	if len(text) == 0 || len(text) > abi.MaxReplyText {
		return misuse(fn, "reply text is %d bytes; it must be 1 to %d", len(text), abi.MaxReplyText)
	}
	for _, b := range text {
		if b < 0x20 || b > 0x7e {
			return misuse(fn, "reply text contains byte 0x%02x; only printable ASCII and space are allowed", b)
		}
	}
	c.st.Reply = smtp.NewReply(code, enh, string(text))
	return nil
}

// address validates an address argument: local@domain, no angle brackets,
// whitespace or control characters (sdk/ABI.md §4.6). With allowEmpty the
// null reverse path "" is accepted.
func address(fn string, a []byte, allowEmpty bool) (string, *Misuse) {
	if len(a) == 0 && allowEmpty {
		return "", nil
	}
	if len(a) > abi.MaxAddress {
		return "", misuse(fn, "address is %d bytes; at most %d are allowed", len(a), abi.MaxAddress)
	}
	for _, b := range a {
		if b <= ' ' || b == 0x7f || b == '<' || b == '>' {
			return "", misuse(fn, "address %q contains a space, control character or angle bracket", truncate(a, 80))
		}
	}
	at := bytes.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "", misuse(fn, "address %q is not local@domain", truncate(a, 80))
	}
	return string(a), nil
}

// SetMailFrom replaces the reverse path ("" for the null sender), in the
// mail and data phases.
func (c *Call) SetMailFrom(addr []byte) error {
	if m := c.needPhase(abi.FnMailSet, filter.Mail, filter.Data); m != nil {
		return m
	}
	from, m := address(abi.FnMailSet, addr, true)
	if m != nil {
		return m
	}
	c.touch()
	c.st.From = from
	c.envelopeChanged()
	return nil
}

// AddRcpt adds a recipient in the data phase; one already there, compared
// case-insensitively, is not added twice.
func (c *Call) AddRcpt(addr []byte) error {
	if m := c.needPhase(abi.FnRcptAdd, filter.Data); m != nil {
		return m
	}
	rcpt, m := address(abi.FnRcptAdd, addr, false)
	if m != nil {
		return m
	}
	for _, r := range c.st.Rcpts {
		if strings.EqualFold(r, rcpt) {
			return nil // already a recipient: each is forwarded once
		}
	}
	if len(c.st.Rcpts) >= abi.MaxRcpts {
		return misuse(abi.FnRcptAdd, "the transaction already has %d recipients", abi.MaxRcpts)
	}
	c.touch()
	c.st.Rcpts = append(c.st.Rcpts, rcpt)
	c.envelopeChanged()
	return nil
}

// RemoveRcpt removes every recipient equal to addr, compared
// case-insensitively, in the data phase; found is false when there is
// none. Removing them all is refused when the hook returns (Result).
func (c *Call) RemoveRcpt(addr []byte) (found bool, err error) {
	if m := c.needPhase(abi.FnRcptRemove, filter.Data); m != nil {
		return false, m
	}
	rcpt, m := address(abi.FnRcptRemove, addr, false)
	if m != nil {
		return false, m
	}
	kept := make([]string, 0, len(c.st.Rcpts))
	for _, r := range c.st.Rcpts {
		if !strings.EqualFold(r, rcpt) {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(c.st.Rcpts) {
		return false, nil
	}
	c.touch()
	c.st.Rcpts = kept
	c.envelopeChanged()
	return true, nil
}

// envelopeChanged marks an envelope change; in the data phase the proxy
// replays it downstream (filter.State.EnvelopeChanged).
func (c *Call) envelopeChanged() {
	c.envChanged = true
	if c.st.Phase == filter.Data {
		c.st.EnvelopeChanged = true
	}
}

// truncate shortens b for a message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
