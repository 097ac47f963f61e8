package wasmhost

import (
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/tetratelabs/wazero/api"
)

// maxHeaderGrowth bounds the header bytes one call may add, so a looping
// plugin cannot fill the gateway's memory before its deadline. Postfix's
// header_size_limit is 102400 bytes for the whole header.
const maxHeaderGrowth = 256 << 10

// msg returns the message in the data phase, or nil: header and body reads
// are NOT_FOUND in other phases (sdk/ABI.md §4.4).
func (cs *callState) msg() *message.Message {
	if cs.st == nil || cs.st.Phase != filter.Data {
		return nil
	}
	return cs.st.Msg
}

// mutableMsg returns the message for a change, trapping outside the data
// phase. The state is touched by the caller just before it changes.
func (cs *callState) mutableMsg() *message.Message {
	cs.needPhase(filter.Data)
	if cs.st.Msg == nil {
		cs.fail("there is no message in this transaction")
	}
	return cs.st.Msg
}

// index decodes a field index; ok is false when out of [0, n).
func index(v uint64, n int) (int, bool) {
	i := int(api.DecodeI32(v))
	return i, i >= 0 && i < n
}

// hostHeaderCount implements header_count() -> n | NOT_FOUND.
func hostHeaderCount(cs *callState, s []uint64) {
	m := cs.msg()
	if m == nil {
		s[0] = notFound
		return
	}
	s[0] = api.EncodeI32(int32(len(m.Fields)))
}

// hostHeaderName implements header_name(index, buf, cap) -> len | NOT_FOUND.
func hostHeaderName(cs *callState, s []uint64) {
	m := cs.msg()
	if m == nil {
		s[0] = notFound
		return
	}
	i, ok := index(s[0], len(m.Fields))
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = cs.out(s[1], s[2], m.Fields[i].Name)
}

// hostHeaderValue implements header_value(index, buf, cap) -> len |
// NOT_FOUND. Folded values keep their CRLF WSP sequences.
func hostHeaderValue(cs *callState, s []uint64) {
	m := cs.msg()
	if m == nil {
		s[0] = notFound
		return
	}
	i, ok := index(s[0], len(m.Fields))
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = cs.outBytes(s[1], s[2], m.Fields[i].Value())
}

// hostHeaderFind implements header_find(name_ptr, name_len, nth) -> index |
// NOT_FOUND; names compare case-insensitively.
func hostHeaderFind(cs *callState, s []uint64) {
	name := cs.read(s[0], s[1], "header name")
	nth := api.DecodeI32(s[2])
	m := cs.msg()
	if m == nil || nth < 0 {
		s[0] = notFound
		return
	}
	i := m.Find(name, int(nth))
	if i < 0 {
		s[0] = notFound
		return
	}
	s[0] = api.EncodeI32(int32(i))
}

// field reads and renders a new header field; an invalid name or value
// traps (sdk/ABI.md §4.4, RFC 5322 §2.2).
func (cs *callState) field(nptr, nlen, vptr, vlen uint64) message.Field {
	name := cs.read(nptr, nlen, "header name")
	value := cs.read(vptr, vlen, "header value")
	f, err := message.Render(name, value) // copies name and value
	if err != nil {
		cs.fail("%v", err)
	}
	cs.headerGrow += len(f.Raw)
	if cs.headerGrow > maxHeaderGrowth {
		cs.fail("the call added more than %d bytes of header fields", maxHeaderGrowth)
	}
	return f
}

// hostHeaderAdd implements header_add(name_ptr, name_len, val_ptr, val_len)
// -> 0: the field is appended at the end of the header.
func hostHeaderAdd(cs *callState, s []uint64) {
	m := cs.mutableMsg()
	f := cs.field(s[0], s[1], s[2], s[3])
	cs.st.Touch()
	m = cs.st.Msg
	m.Insert(len(m.Fields), f)
	s[0] = 0
}

// hostHeaderInsert implements header_insert(index, name_ptr, name_len,
// val_ptr, val_len) -> 0 | NOT_FOUND; index may equal header_count().
func hostHeaderInsert(cs *callState, s []uint64) {
	m := cs.mutableMsg()
	f := cs.field(s[1], s[2], s[3], s[4])
	i, ok := index(s[0], len(m.Fields)+1)
	if !ok {
		s[0] = notFound
		return
	}
	cs.st.Touch()
	cs.st.Msg.Insert(i, f)
	s[0] = 0
}

// hostHeaderChange implements header_change(index, val_ptr, val_len) -> 0 |
// NOT_FOUND: the value is replaced, the name kept.
func hostHeaderChange(cs *callState, s []uint64) {
	m := cs.mutableMsg()
	value := cs.read(s[1], s[2], "header value")
	i, ok := index(s[0], len(m.Fields))
	if !ok {
		s[0] = notFound
		return
	}
	name := []byte(m.Fields[i].Name)
	if err := message.ValidValue(name, value); err != nil {
		cs.fail("%v", err)
	}
	cs.headerGrow += len(name) + len(value) + 4
	if cs.headerGrow > maxHeaderGrowth {
		cs.fail("the call added more than %d bytes of header fields", maxHeaderGrowth)
	}
	cs.st.Touch()
	if _, err := cs.st.Msg.Change(i, value); err != nil {
		cs.fail("%v", err)
	}
	s[0] = 0
}

// hostHeaderDelete implements header_delete(index) -> 0 | NOT_FOUND.
func hostHeaderDelete(cs *callState, s []uint64) {
	m := cs.mutableMsg()
	i, ok := index(s[0], len(m.Fields))
	if !ok {
		s[0] = notFound
		return
	}
	cs.st.Touch()
	cs.st.Msg.Delete(i)
	s[0] = 0
}

// hostBodySize implements body_size() -> n | NOT_FOUND (sdk/ABI.md §4.5).
func hostBodySize(cs *callState, s []uint64) {
	m := cs.msg()
	if m == nil {
		s[0] = notFound
		return
	}
	s[0] = api.EncodeI32(int32(len(m.Body)))
}

// hostBodyRead implements body_read(offset, buf, cap) -> n | NOT_FOUND: it
// copies min(cap, size-offset) bytes, 0 at the end; an offset past the end
// is NOT_FOUND.
func hostBodyRead(cs *callState, s []uint64) {
	m := cs.msg()
	off := int(api.DecodeI32(s[0]))
	if m == nil || off < 0 || off > len(m.Body) {
		s[0] = notFound
		return
	}
	c := cs.length(s[2], "buffer capacity")
	chunk := m.Body[off:]
	if len(chunk) > c {
		chunk = chunk[:c]
	}
	if !cs.mem.Write(api.DecodeU32(s[1]), chunk) {
		cs.fail("buffer (ptr %d, cap %d) is outside the plugin's memory (%d bytes)",
			api.DecodeU32(s[1]), c, cs.mem.Size())
	}
	s[0] = api.EncodeI32(int32(len(chunk)))
}

// hostBodyReplace implements body_replace(ptr, len) -> 0. The body is
// validated when the hook returns (Plugin.Call).
func hostBodyReplace(cs *callState, s []uint64) {
	cs.mutableMsg()
	b := cs.read(s[0], s[1], "body")
	cs.setBody(append(make([]byte, 0, len(b)), b...))
	s[0] = 0
}

// hostBodyAppend implements body_append(ptr, len) -> 0.
func hostBodyAppend(cs *callState, s []uint64) {
	m := cs.mutableMsg()
	b := cs.read(s[0], s[1], "body")
	if limit := cs.sizeLimit(); len(m.Body)+len(b) > limit {
		cs.fail("the body would be %d bytes; the message may be at most %d (max_message_size)", len(m.Body)+len(b), limit)
	}
	if cs.body == nil {
		// The current body may be shared with the received message or a
		// snapshot: never append to it in place.
		cs.body = append(make([]byte, 0, len(m.Body)+len(b)), m.Body...)
	}
	cs.setBody(append(cs.body, b...))
	s[0] = 0
}

// sizeLimit is the largest message a data-phase call may leave
// (Spec.MaxMessageSize): the listener's limit, or the message as received
// plus MessageGrowthAllowance if that is more.
func (cs *callState) sizeLimit() int {
	limit := cs.p.maxMsg
	if m := cs.st.Msg; m != nil {
		limit = max(limit, m.ReceivedSize()+MessageGrowthAllowance)
	}
	return limit
}

// setBody installs a body buffer this call owns.
func (cs *callState) setBody(b []byte) {
	if limit := cs.sizeLimit(); len(b) > limit {
		cs.fail("the body would be %d bytes; the message may be at most %d (max_message_size)", len(b), limit)
	}
	cs.st.Touch()
	cs.body = b
	cs.bodyChanged = true
	cs.st.Msg.SetBody(b)
}
