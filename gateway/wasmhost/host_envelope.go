package wasmhost

import (
	"bytes"
	"strings"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// maxAddress is the longest address a plugin may set: a reverse or forward
// path is at most 256 octets with its angle brackets (RFC 5321 §4.5.3.1.3).
const maxAddress = 254

// address reads and validates an address argument: local@domain, no angle
// brackets, whitespace or control characters (sdk/ABI.md §4.6). With
// allowEmpty the null reverse path "" is accepted.
func (cs *callState) address(ptr, n uint64, allowEmpty bool) string {
	a := cs.read(ptr, n, "address")
	if len(a) == 0 && allowEmpty {
		return ""
	}
	if len(a) > maxAddress {
		cs.fail("address is %d bytes; at most %d are allowed", len(a), maxAddress)
	}
	for _, c := range a {
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			cs.fail("address %q contains a space, control character or angle bracket", truncate(a, 80))
		}
	}
	at := bytes.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		cs.fail("address %q is not local@domain", truncate(a, 80))
	}
	return string(a)
}

// hostMailSet implements mail_set(ptr, len) -> 0 (phases mail and data).
func hostMailSet(cs *callState, s []uint64) {
	cs.needPhase(filter.Mail, filter.Data)
	from := cs.address(s[0], s[1], true)
	cs.st.Touch()
	cs.st.From = from
	cs.envelopeChanged()
	s[0] = 0
}

// hostRcptAdd implements rcpt_add(ptr, len) -> 0 (phase data).
func hostRcptAdd(cs *callState, s []uint64) {
	cs.needPhase(filter.Data)
	rcpt := cs.address(s[0], s[1], false)
	for _, r := range cs.st.Rcpts {
		if strings.EqualFold(r, rcpt) {
			s[0] = 0 // already a recipient: each is forwarded once
			return
		}
	}
	if len(cs.st.Rcpts) >= maxRcpts {
		cs.fail("the transaction already has %d recipients", maxRcpts)
	}
	cs.st.Touch()
	cs.st.Rcpts = append(cs.st.Rcpts, rcpt)
	cs.envelopeChanged()
	s[0] = 0
}

// maxRcpts bounds rcpt_add: RFC 5321 §4.5.3.1.8 requires 100; Postfix's
// smtpd_recipient_limit is 1000.
const maxRcpts = 1000

// hostRcptRemove implements rcpt_remove(ptr, len) -> 0 | NOT_FOUND (phase
// data). Every recipient equal to the address, compared case-insensitively,
// is removed. Removing them all is checked when the hook returns.
func hostRcptRemove(cs *callState, s []uint64) {
	cs.needPhase(filter.Data)
	rcpt := cs.address(s[0], s[1], false)
	found := false
	for _, r := range cs.st.Rcpts {
		if strings.EqualFold(r, rcpt) {
			found = true
			break
		}
	}
	if !found {
		s[0] = notFound
		return
	}
	cs.st.Touch()
	kept := make([]string, 0, len(cs.st.Rcpts)-1)
	for _, r := range cs.st.Rcpts {
		if !strings.EqualFold(r, rcpt) {
			kept = append(kept, r)
		}
	}
	cs.st.Rcpts = kept
	cs.envelopeChanged()
	s[0] = 0
}

// envelopeChanged marks a data-phase envelope change, which the proxy
// replays downstream (filter.State.EnvelopeChanged).
func (cs *callState) envelopeChanged() {
	cs.envChanged = true
	if cs.st.Phase == filter.Data {
		cs.st.EnvelopeChanged = true
	}
}
