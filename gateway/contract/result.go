package contract

import (
	"fmt"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
)

// Result checks what a hook returned and left behind (sdk/ABI.md §2.1,
// §4.5-§4.7, §7): a defined verdict; a reply set by the call matching a
// reject (5xx) or tempfail (4xx); a valid body if the call changed it; a
// message within the size limit; at least one recipient if the call
// changed the envelope in the data phase. This is the only place the
// verdict and the reply's class are checked: filter.Chain trusts a Plugin
// to have called it. A *ResultError makes the call a plugin error.
func (c *Call) Result(v filter.Verdict) error {
	fail := func(format string, args ...any) error {
		return &ResultError{Reason: fmt.Sprintf(format, args...)}
	}
	if !v.Valid() {
		return fail("returned %d, which is not a verdict (0 continue, 1 accept, 2 reject, 3 tempfail, 4 discard, 5 quarantine)", int32(v))
	}
	st := c.st
	if st == nil {
		return nil
	}
	if r := st.Reply; r != nil {
		switch {
		case v == filter.Reject && r.Class() != 5:
			return fail("returned reject with a %d reply; a reject needs a 5xx reply", r.Code)
		case v == filter.Tempfail && r.Class() != 4:
			return fail("returned tempfail with a %d reply; a tempfail needs a 4xx reply", r.Code)
		}
	}
	if c.bodyChanged {
		if err := message.ValidBody(st.Msg.Body); err != nil {
			return fail("the new body is invalid: %v", err)
		}
	}
	if m := st.Msg; st.Phase == filter.Data && m != nil && m.Changed() {
		if n, limit := m.Size(), c.sizeLimit(); n > limit {
			return fail("left a message of %d bytes; it may be at most %d (max_message_size, sdk/ABI.md §7)", n, limit)
		}
	}
	if c.envChanged && st.Phase == filter.Data && len(st.Rcpts) == 0 {
		return fail("removed every recipient; return the discard verdict instead")
	}
	return nil
}
