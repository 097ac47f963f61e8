package wasmhost

// The envelope functions of sdk/ABI.md §4.6 (grant "envelope"): thin
// adapters of contract.Call.

// hostMailSet implements mail_set(ptr, len) -> 0 (phases mail and data).
func hostMailSet(cs *callState, s []uint64) {
	s[0] = cs.done(cs.c.SetMailFrom(cs.read(s[0], s[1], "address")))
}

// hostRcptAdd implements rcpt_add(ptr, len) -> 0 (phase data).
func hostRcptAdd(cs *callState, s []uint64) {
	s[0] = cs.done(cs.c.AddRcpt(cs.read(s[0], s[1], "address")))
}

// hostRcptRemove implements rcpt_remove(ptr, len) -> 0 | NOT_FOUND (phase
// data).
func hostRcptRemove(cs *callState, s []uint64) {
	s[0] = cs.status(cs.c.RemoveRcpt(cs.read(s[0], s[1], "address")))
}
