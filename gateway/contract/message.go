package contract

import (
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// msg returns the message in the data phase, or nil: header and body reads
// find nothing in other phases (sdk/ABI.md §4.4).
func (c *Call) msg() *message.Message {
	if c.st == nil || c.st.Phase != filter.Data {
		return nil
	}
	return c.st.Msg
}

// mutableMsg returns the message for a change, refused outside the data
// phase.
func (c *Call) mutableMsg(fn string) (*message.Message, *Misuse) {
	if m := c.needPhase(fn, filter.Data); m != nil {
		return nil, m
	}
	if c.st.Msg == nil {
		return nil, misuse(fn, "there is no message in this transaction")
	}
	return c.st.Msg, nil
}

// HeaderCount returns the number of header fields; ok is false outside the
// data phase.
func (c *Call) HeaderCount() (int, bool) {
	m := c.msg()
	if m == nil {
		return 0, false
	}
	return len(m.Fields), true
}

// HeaderName returns the name of field i.
func (c *Call) HeaderName(i int) (string, bool) {
	m := c.msg()
	if m == nil || i < 0 || i >= len(m.Fields) {
		return "", false
	}
	return m.Fields[i].Name, true
}

// HeaderValue returns the value of field i; folded values keep their CRLF
// WSP sequences. The slice must not be changed.
func (c *Call) HeaderValue(i int) ([]byte, bool) {
	m := c.msg()
	if m == nil || i < 0 || i >= len(m.Fields) {
		return nil, false
	}
	return m.Fields[i].Value(), true
}

// FindHeader returns the index of the nth (0-based) field named name,
// compared case-insensitively.
func (c *Call) FindHeader(name []byte, nth int) (int, bool) {
	m := c.msg()
	if m == nil || nth < 0 {
		return 0, false
	}
	i := m.Find(name, nth)
	return i, i >= 0
}

// grow counts n more header bytes added by the call against
// abi.MaxHeaderGrowth.
func (c *Call) grow(fn string, n int) *Misuse {
	c.headerGrow += n
	if c.headerGrow > abi.MaxHeaderGrowth {
		return misuse(fn, "the call added more than %d bytes of header fields", abi.MaxHeaderGrowth)
	}
	return nil
}

// field renders a new header field (folded, sdk/ABI.md §4.4, RFC 5322
// §2.2) and counts it against the call's header growth.
func (c *Call) field(fn string, name, value []byte) (message.Field, *Misuse) {
	f, err := message.Render(name, value) // copies name and value
	if err != nil {
		return f, misuse(fn, "%v", err)
	}
	return f, c.grow(fn, len(f.Raw))
}

// AddHeader appends a field at the end of the header.
func (c *Call) AddHeader(name, value []byte) error {
	m, e := c.mutableMsg(abi.FnHeaderAdd)
	if e != nil {
		return e
	}
	f, e := c.field(abi.FnHeaderAdd, name, value)
	if e != nil {
		return e
	}
	c.touch()
	m = c.st.Msg
	m.Insert(len(m.Fields), f)
	return nil
}

// InsertHeader inserts a field before index i; i may equal the field
// count. found is false for an index out of range.
func (c *Call) InsertHeader(i int, name, value []byte) (found bool, err error) {
	m, e := c.mutableMsg(abi.FnHeaderInsert)
	if e != nil {
		return false, e
	}
	f, e := c.field(abi.FnHeaderInsert, name, value)
	if e != nil {
		return false, e
	}
	if i < 0 || i > len(m.Fields) {
		return false, nil
	}
	c.touch()
	c.st.Msg.Insert(i, f)
	return true, nil
}

// ChangeHeader replaces the value of field i, keeping its name.
func (c *Call) ChangeHeader(i int, value []byte) (found bool, err error) {
	const fn = abi.FnHeaderChange
	m, e := c.mutableMsg(fn)
	if e != nil {
		return false, e
	}
	if i < 0 || i >= len(m.Fields) {
		return false, nil
	}
	name := []byte(m.Fields[i].Name)
	if err := message.ValidValue(name, value); err != nil {
		return false, misuse(fn, "%v", err)
	}
	if e := c.grow(fn, len(name)+len(value)+4); e != nil {
		return false, e
	}
	c.touch()
	if _, err := c.st.Msg.Change(i, value); err != nil {
		return false, misuse(fn, "%v", err)
	}
	return true, nil
}

// DeleteHeader removes field i.
func (c *Call) DeleteHeader(i int) (found bool, err error) {
	m, e := c.mutableMsg(abi.FnHeaderDelete)
	if e != nil {
		return false, e
	}
	if i < 0 || i >= len(m.Fields) {
		return false, nil
	}
	c.touch()
	c.st.Msg.Delete(i)
	return true, nil
}

// PrependField puts an already rendered field on top of the header, as
// dkim_sign does with its signature (sdk/ABI.md §4.10).
func (c *Call) PrependField(fn string, f message.Field) error {
	if _, e := c.mutableMsg(fn); e != nil {
		return e
	}
	c.touch()
	c.st.Msg.Insert(0, f)
	return nil
}

// Body returns the message in the data phase, for reads; nil elsewhere.
// Nothing may change it.
func (c *Call) Body() ([]byte, bool) {
	m := c.msg()
	if m == nil {
		return nil, false
	}
	return m.Body, true
}

// BodyAt returns the body from offset off on; ok is false outside the data
// phase and for an offset past the end (the end itself gives an empty
// slice).
func (c *Call) BodyAt(off int) ([]byte, bool) {
	m := c.msg()
	if m == nil || off < 0 || off > len(m.Body) {
		return nil, false
	}
	return m.Body[off:], true
}

// ReplaceBody replaces the body with a copy of b. The body is validated
// when the hook returns (Result).
func (c *Call) ReplaceBody(b []byte) error {
	if _, e := c.mutableMsg(abi.FnBodyReplace); e != nil {
		return e
	}
	return c.setBody(abi.FnBodyReplace, append(make([]byte, 0, len(b)), b...))
}

// AppendBody appends a copy of b to the body.
func (c *Call) AppendBody(b []byte) error {
	const fn = abi.FnBodyAppend
	m, e := c.mutableMsg(fn)
	if e != nil {
		return e
	}
	if limit := c.sizeLimit(); len(m.Body)+len(b) > limit {
		return misuse(fn, "the body would be %d bytes; the message may be at most %d (max_message_size)", len(m.Body)+len(b), limit)
	}
	if c.body == nil {
		// The current body may be shared with the received message or a
		// snapshot: never append to it in place.
		c.body = append(make([]byte, 0, len(m.Body)+len(b)), m.Body...)
	}
	return c.setBody(fn, append(c.body, b...))
}

// setBody installs a body buffer this call owns.
func (c *Call) setBody(fn string, b []byte) error {
	if limit := c.sizeLimit(); len(b) > limit {
		return misuse(fn, "the body would be %d bytes; the message may be at most %d (max_message_size)", len(b), limit)
	}
	c.touch()
	c.body = b
	c.bodyChanged = true
	c.st.Msg.SetBody(b)
	return nil
}

// sizeLimit is the largest message a data-phase call may leave: the
// plugin's MaxMessageSize, or the message as received plus
// abi.MessageGrowthAllowance if that is more.
func (c *Call) sizeLimit() int {
	limit := c.p.MaxMessageSize
	if limit <= 0 {
		limit = abi.DefaultMaxMessageSize
	}
	if c.st != nil && c.st.Msg != nil {
		limit = max(limit, c.st.Msg.ReceivedSize()+abi.MessageGrowthAllowance)
	}
	return limit
}

// Message returns the message for fn to change (dkim_sign signs it before
// PrependField), refused outside the data phase. Changes go through the
// Call's methods only.
func (c *Call) Message(fn string) (*message.Message, error) {
	m, e := c.mutableMsg(fn)
	if e != nil {
		return nil, e
	}
	return m, nil
}

// BodyChanged reports whether the call replaced or appended to the body.
func (c *Call) BodyChanged() bool { return c.bodyChanged }
