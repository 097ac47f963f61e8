//go:build wasip1

package sluice

import "unsafe"

// The host functions of sdk/ABI.md §4, module "sluice" (abi.ImportModule).
// Every pointer is an offset into this module's memory; the host copies what
// it reads during the call and keeps no pointer (ABI §3), hence noescape.

//go:wasmimport sluice log
//go:noescape
func hostLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport sluice config
//go:noescape
func hostConfig(buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice info
//go:noescape
func hostInfo(key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice tag_get
//go:noescape
func hostTagGet(key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice tag_set
//go:noescape
func hostTagSet(key unsafe.Pointer, keyLen int32, val unsafe.Pointer, valLen int32) int32

//go:wasmimport sluice kv_get
//go:noescape
func hostKVGet(key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice kv_set
//go:noescape
func hostKVSet(key unsafe.Pointer, keyLen int32, val unsafe.Pointer, valLen int32, ttlMs int32) int32

//go:wasmimport sluice kv_incr
//go:noescape
func hostKVIncr(key unsafe.Pointer, keyLen int32, delta int32, ttlMs int32) int32

//go:wasmimport sluice kv_delete
//go:noescape
func hostKVDelete(key unsafe.Pointer, keyLen int32) int32

//go:wasmimport sluice dns_lookup
//go:noescape
func hostDNSLookup(qtype unsafe.Pointer, qtypeLen int32, name unsafe.Pointer, nameLen int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice rcpt_count
func hostRcptCount() int32

//go:wasmimport sluice rcpt_get
//go:noescape
func hostRcptGet(i int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice mail_set
//go:noescape
func hostMailSet(ptr unsafe.Pointer, n int32) int32

//go:wasmimport sluice rcpt_add
//go:noescape
func hostRcptAdd(ptr unsafe.Pointer, n int32) int32

//go:wasmimport sluice rcpt_remove
//go:noescape
func hostRcptRemove(ptr unsafe.Pointer, n int32) int32

//go:wasmimport sluice header_count
func hostHeaderCount() int32

//go:wasmimport sluice header_name
//go:noescape
func hostHeaderName(i int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice header_value
//go:noescape
func hostHeaderValue(i int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice header_find
//go:noescape
func hostHeaderFind(name unsafe.Pointer, nameLen int32, nth int32) int32

//go:wasmimport sluice header_add
//go:noescape
func hostHeaderAdd(name unsafe.Pointer, nameLen int32, val unsafe.Pointer, valLen int32) int32

//go:wasmimport sluice header_insert
//go:noescape
func hostHeaderInsert(i int32, name unsafe.Pointer, nameLen int32, val unsafe.Pointer, valLen int32) int32

//go:wasmimport sluice header_change
//go:noescape
func hostHeaderChange(i int32, val unsafe.Pointer, valLen int32) int32

//go:wasmimport sluice header_delete
func hostHeaderDelete(i int32) int32

//go:wasmimport sluice body_size
func hostBodySize() int32

//go:wasmimport sluice body_read
//go:noescape
func hostBodyRead(off int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice body_replace
//go:noescape
func hostBodyReplace(ptr unsafe.Pointer, n int32) int32

//go:wasmimport sluice body_append
//go:noescape
func hostBodyAppend(ptr unsafe.Pointer, n int32) int32

//go:wasmimport sluice set_reply
//go:noescape
func hostSetReply(code int32, enh unsafe.Pointer, enhLen int32, text unsafe.Pointer, textLen int32) int32

// str and buf lower Go values to (ptr, len). Lengths beyond 31 bits cannot be
// valid in any call, so they are passed as -1 and the host refuses them.
func str(s string) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.StringData(s)), length(len(s))
}
func buf(b []byte) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.SliceData(b)), length(len(b))
}

func length(n int) int32 {
	if n > 1<<31-1 {
		return -1
	}
	return int32(n)
}

// wasmABI implements rawABI over the imports.
type wasmABI struct{}

func (wasmABI) log(level int32, msg string) {
	p, n := str(msg)
	hostLog(level, p, n)
}

func (wasmABI) config(b []byte) int32 {
	p, n := buf(b)
	return hostConfig(p, n)
}

func (wasmABI) info(key string, b []byte) int32 {
	kp, kn := str(key)
	p, n := buf(b)
	return hostInfo(kp, kn, p, n)
}

func (wasmABI) tagGet(key string, b []byte) int32 {
	kp, kn := str(key)
	p, n := buf(b)
	return hostTagGet(kp, kn, p, n)
}

func (wasmABI) tagSet(key, val string) int32 {
	kp, kn := str(key)
	vp, vn := str(val)
	return hostTagSet(kp, kn, vp, vn)
}

func (wasmABI) kvGet(key string, b []byte) int32 {
	kp, kn := str(key)
	p, n := buf(b)
	return hostKVGet(kp, kn, p, n)
}

func (wasmABI) kvSet(key string, val []byte, ttlMs int32) int32 {
	kp, kn := str(key)
	vp, vn := buf(val)
	return hostKVSet(kp, kn, vp, vn, ttlMs)
}

func (wasmABI) kvIncr(key string, delta, ttlMs int32) int32 {
	kp, kn := str(key)
	return hostKVIncr(kp, kn, delta, ttlMs)
}

func (wasmABI) kvDelete(key string) int32 {
	kp, kn := str(key)
	return hostKVDelete(kp, kn)
}

func (wasmABI) dnsLookup(qtype, name string, b []byte) int32 {
	qp, qn := str(qtype)
	np, nn := str(name)
	p, n := buf(b)
	return hostDNSLookup(qp, qn, np, nn, p, n)
}

func (wasmABI) rcptCount() int32 { return hostRcptCount() }

func (wasmABI) rcptGet(i int32, b []byte) int32 {
	p, n := buf(b)
	return hostRcptGet(i, p, n)
}

func (wasmABI) mailSet(addr string) int32 {
	p, n := str(addr)
	return hostMailSet(p, n)
}

func (wasmABI) rcptAdd(addr string) int32 {
	p, n := str(addr)
	return hostRcptAdd(p, n)
}

func (wasmABI) rcptRemove(addr string) int32 {
	p, n := str(addr)
	return hostRcptRemove(p, n)
}

func (wasmABI) headerCount() int32 { return hostHeaderCount() }

func (wasmABI) headerName(i int32, b []byte) int32 {
	p, n := buf(b)
	return hostHeaderName(i, p, n)
}

func (wasmABI) headerValue(i int32, b []byte) int32 {
	p, n := buf(b)
	return hostHeaderValue(i, p, n)
}

func (wasmABI) headerFind(name string, nth int32) int32 {
	p, n := str(name)
	return hostHeaderFind(p, n, nth)
}

func (wasmABI) headerAdd(name, val string) int32 {
	np, nn := str(name)
	vp, vn := str(val)
	return hostHeaderAdd(np, nn, vp, vn)
}

func (wasmABI) headerInsert(i int32, name, val string) int32 {
	np, nn := str(name)
	vp, vn := str(val)
	return hostHeaderInsert(i, np, nn, vp, vn)
}

func (wasmABI) headerChange(i int32, val string) int32 {
	vp, vn := str(val)
	return hostHeaderChange(i, vp, vn)
}

func (wasmABI) headerDelete(i int32) int32 { return hostHeaderDelete(i) }

func (wasmABI) bodySize() int32 { return hostBodySize() }

func (wasmABI) bodyRead(off int32, b []byte) int32 {
	p, n := buf(b)
	return hostBodyRead(off, p, n)
}

func (wasmABI) bodyReplace(b []byte) int32 {
	p, n := buf(b)
	return hostBodyReplace(p, n)
}

func (wasmABI) bodyAppend(b []byte) int32 {
	p, n := buf(b)
	return hostBodyAppend(p, n)
}

func (wasmABI) setReply(code int32, enh, text string) int32 {
	ep, en := str(enh)
	tp, tn := str(text)
	return hostSetReply(code, ep, en, tp, tn)
}

//go:wasmimport sluice dkim_sign
//go:noescape
func hostDKIMSign(name unsafe.Pointer, nameLen int32, opts unsafe.Pointer, optsLen int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice auth_check
//go:noescape
func hostAuthCheck(checks int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice auth_value
//go:noescape
func hostAuthValue(key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, cap int32) int32

func (wasmABI) authValue(key string, b []byte) int32 {
	kp, kn := str(key)
	p, n := buf(b)
	return hostAuthValue(kp, kn, p, n)
}

func (wasmABI) dkimSign(name string, opts []byte, b []byte) int32 {
	np, nn := str(name)
	op, on := buf(opts)
	p, n := buf(b)
	return hostDKIMSign(np, nn, op, on, p, n)
}

func (wasmABI) authCheck(checks int32, b []byte) int32 {
	p, n := buf(b)
	return hostAuthCheck(checks, p, n)
}

//go:wasmimport sluice scan
//go:noescape
func hostScan(name unsafe.Pointer, nameLen int32, buf unsafe.Pointer, cap int32) int32

//go:wasmimport sluice scan_value
//go:noescape
func hostScanValue(key unsafe.Pointer, keyLen int32, buf unsafe.Pointer, cap int32) int32

func (wasmABI) scan(name string, b []byte) int32 {
	np, nn := str(name)
	p, n := buf(b)
	return hostScan(np, nn, p, n)
}

func (wasmABI) scanValue(key string, b []byte) int32 {
	kp, kn := str(key)
	p, n := buf(b)
	return hostScanValue(kp, kn, p, n)
}
