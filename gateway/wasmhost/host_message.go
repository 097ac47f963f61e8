package wasmhost

import "github.com/tetratelabs/wazero/api"

// The header and body functions of sdk/ABI.md §4.4 and §4.5: thin
// adapters of contract.Call. Reads outside the data phase are NOT_FOUND,
// changes there trap.

// index decodes an index argument.
func index(v uint64) int { return int(api.DecodeI32(v)) }

// hostHeaderCount implements header_count() -> n | NOT_FOUND.
func hostHeaderCount(cs *callState, s []uint64) { s[0] = count(cs.c.HeaderCount()) }

// hostHeaderName implements header_name(index, buf, cap) -> len | NOT_FOUND.
func hostHeaderName(cs *callState, s []uint64) {
	name, ok := cs.c.HeaderName(index(s[0]))
	s[0] = cs.outOr(s[1], s[2], name, ok)
}

// hostHeaderValue implements header_value(index, buf, cap) -> len |
// NOT_FOUND. Folded values keep their CRLF WSP sequences.
func hostHeaderValue(cs *callState, s []uint64) {
	v, ok := cs.c.HeaderValue(index(s[0]))
	s[0] = notFound
	if ok {
		s[0] = cs.outBytes(s[1], s[2], v)
	}
}

// hostHeaderFind implements header_find(name_ptr, name_len, nth) -> index |
// NOT_FOUND; names compare case-insensitively.
func hostHeaderFind(cs *callState, s []uint64) {
	s[0] = count(cs.c.FindHeader(cs.read(s[0], s[1], "header name"), index(s[2])))
}

// hostHeaderAdd implements header_add(name_ptr, name_len, val_ptr, val_len)
// -> 0: the field is appended at the end of the header.
func hostHeaderAdd(cs *callState, s []uint64) {
	s[0] = cs.done(cs.c.AddHeader(cs.read(s[0], s[1], "header name"), cs.read(s[2], s[3], "header value")))
}

// hostHeaderInsert implements header_insert(index, name_ptr, name_len,
// val_ptr, val_len) -> 0 | NOT_FOUND; index may equal header_count().
func hostHeaderInsert(cs *callState, s []uint64) {
	name, value := cs.read(s[1], s[2], "header name"), cs.read(s[3], s[4], "header value")
	s[0] = cs.status(cs.c.InsertHeader(index(s[0]), name, value))
}

// hostHeaderChange implements header_change(index, val_ptr, val_len) -> 0 |
// NOT_FOUND: the value is replaced, the name kept.
func hostHeaderChange(cs *callState, s []uint64) {
	s[0] = cs.status(cs.c.ChangeHeader(index(s[0]), cs.read(s[1], s[2], "header value")))
}

// hostHeaderDelete implements header_delete(index) -> 0 | NOT_FOUND.
func hostHeaderDelete(cs *callState, s []uint64) { s[0] = cs.status(cs.c.DeleteHeader(index(s[0]))) }

// hostBodySize implements body_size() -> n | NOT_FOUND (sdk/ABI.md §4.5).
func hostBodySize(cs *callState, s []uint64) {
	b, ok := cs.c.Body()
	s[0] = count(len(b), ok)
}

// hostBodyRead implements body_read(offset, buf, cap) -> n | NOT_FOUND: it
// copies min(cap, size-offset) bytes, 0 at the end; an offset past the end
// is NOT_FOUND.
func hostBodyRead(cs *callState, s []uint64) {
	chunk, ok := cs.c.BodyAt(index(s[0]))
	if !ok {
		s[0] = notFound
		return
	}
	c := cs.length(s[2], "buffer capacity")
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
// validated when the hook returns (contract.Call.Result).
func hostBodyReplace(cs *callState, s []uint64) {
	s[0] = cs.done(cs.c.ReplaceBody(cs.read(s[0], s[1], "body")))
}

// hostBodyAppend implements body_append(ptr, len) -> 0.
func hostBodyAppend(cs *callState, s []uint64) {
	s[0] = cs.done(cs.c.AppendBody(cs.read(s[0], s[1], "body")))
}
