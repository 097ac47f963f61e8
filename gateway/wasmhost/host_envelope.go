package wasmhost

// The envelope functions of sdk/ABI.md §4.6 (grant "envelope"): thin
// adapters of contract.Call.

// hostMailSet implements mail_set(ptr, len) -> 0 (phases mail and data).
func hostMailSet(cs *callState, s []uint64) {
	cs.check(cs.c.SetMailFrom(cs.read(s[0], s[1], "address")))
	s[0] = 0
}

// hostRcptAdd implements rcpt_add(ptr, len) -> 0 (phase data).
func hostRcptAdd(cs *callState, s []uint64) {
	cs.check(cs.c.AddRcpt(cs.read(s[0], s[1], "address")))
	s[0] = 0
}

// hostRcptRemove implements rcpt_remove(ptr, len) -> 0 | NOT_FOUND (phase
// data).
func hostRcptRemove(cs *callState, s []uint64) {
	ok, err := cs.c.RemoveRcpt(cs.read(s[0], s[1], "address"))
	cs.check(err)
	s[0] = found(ok, 0)
}
