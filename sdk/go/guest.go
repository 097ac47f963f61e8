package sluice

import (
	"io"
	"math"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// rawABI is the host function table of sdk/ABI.md §4 with Go slices and
// strings in place of (ptr, len) pairs. The wasip1 build implements it over
// the real imports (imports_wasip1.go); tests implement it in Go to check the
// buffer protocol of guestHost natively.
type rawABI interface {
	log(level int32, msg string)
	config(buf []byte) int32
	info(key string, buf []byte) int32
	tagGet(key string, buf []byte) int32
	tagSet(key, val string) int32
	rcptCount() int32
	rcptGet(i int32, buf []byte) int32
	mailSet(addr string) int32
	rcptAdd(addr string) int32
	rcptRemove(addr string) int32
	headerCount() int32
	headerName(i int32, buf []byte) int32
	headerValue(i int32, buf []byte) int32
	headerFind(name string, nth int32) int32
	headerAdd(name, val string) int32
	headerInsert(i int32, name, val string) int32
	headerChange(i int32, val string) int32
	headerDelete(i int32) int32
	bodySize() int32
	bodyRead(off int32, buf []byte) int32
	bodyReplace(b []byte) int32
	bodyAppend(b []byte) int32
	setReply(code int32, enh, text string) int32
	kvGet(key string, buf []byte) int32
	kvSet(key string, val []byte, ttlMs int32) int32
	kvIncr(key string, delta, ttlMs int32) int32
	kvDelete(key string) int32
	dnsLookup(qtype, name string, buf []byte) int32
	dkimSign(name string, opts []byte, buf []byte) int32
	authCheck(checks int32, buf []byte) int32
	authValue(key string, buf []byte) int32
	scan(name string, buf []byte) int32
	scanValue(key string, buf []byte) int32
}

// scratchSize is the initial size of the per-instance scratch buffer: large
// enough for addresses, most header values and tags in one call.
const scratchSize = 1024

// guestHost implements Host over a rawABI. One lives per instance; its
// scratch buffer is reused by every host-to-guest call (ABI §3: the host
// returns the full length n and copies nothing when n exceeds the capacity,
// so the buffer grows once to n and the call is repeated).
type guestHost struct {
	raw     rawABI
	scratch []byte
}

func newGuestHost(raw rawABI) *guestHost {
	return &guestHost{raw: raw, scratch: make([]byte, scratchSize)}
}

// fetch runs a (buf, cap) call, growing the scratch buffer until the value
// fits. It returns the value (valid until the next fetch) or ok=false for
// NOT_FOUND.
func (g *guestHost) fetch(call func(buf []byte) int32) ([]byte, bool) {
	for {
		n := call(g.scratch)
		if n < 0 {
			return nil, false
		}
		if int(n) <= len(g.scratch) {
			return g.scratch[:n], true
		}
		g.scratch = make([]byte, n)
	}
}

func (g *guestHost) fetchString(call func(buf []byte) int32) (string, bool) {
	b, ok := g.fetch(call)
	if !ok {
		return "", false
	}
	return string(b), true
}

// index converts a Go index to the ABI's i32; ok=false when it cannot be a
// valid index, so the host is not asked.
func index(i int) (int32, bool) {
	if i < 0 || i > math.MaxInt32 {
		return 0, false
	}
	return int32(i), true
}

func (g *guestHost) Log(level LogLevel, msg string) { g.raw.log(int32(level), msg) }

func (g *guestHost) Config() []byte {
	b, ok := g.fetch(g.raw.config)
	if !ok {
		return []byte("{}")
	}
	return append([]byte(nil), b...)
}

func (g *guestHost) Info(key string) (string, bool) {
	return g.fetchString(func(buf []byte) int32 { return g.raw.info(key, buf) })
}

func (g *guestHost) Tag(key string) (string, bool) {
	return g.fetchString(func(buf []byte) int32 { return g.raw.tagGet(key, buf) })
}

func (g *guestHost) SetTag(key, value string) { g.raw.tagSet(key, value) }

func (g *guestHost) KVGet(key string) ([]byte, bool, error) {
	var n int32
	b, ok := g.fetch(func(buf []byte) int32 {
		n = g.raw.kvGet(key, buf)
		return n
	})
	switch {
	case ok:
		return append([]byte{}, b...), true, nil
	case n == abi.ErrTemporary:
		return nil, false, ErrTemporary
	}
	return nil, false, nil
}

// kvErr is the error of a kv_set or kv_delete result.
func kvErr(n int32) error {
	switch n {
	case abi.ErrQuota:
		return ErrQuota
	case abi.ErrTemporary:
		return ErrTemporary
	}
	return nil
}

func (g *guestHost) KVSet(key string, val []byte, ttl time.Duration) error {
	return kvErr(g.raw.kvSet(key, val, TTLMillis(ttl)))
}

func (g *guestHost) KVIncr(key string, delta int32, ttl time.Duration) (int32, error) {
	n := g.raw.kvIncr(key, delta, TTLMillis(ttl))
	if n != abi.ErrQuota && n != abi.ErrTemporary {
		return n, nil
	}
	// -4 and -2 are also a counter's values. QUOTA is returned only
	// instead of creating the key, so the key exists now if and only if
	// it counted; TEMPORARY means the store could not answer, and then
	// it cannot answer kv_get either, or has no such key (sdk/ABI.md
	// §4.8).
	_, ok, err := g.KVGet(key)
	switch {
	case ok:
		return n, nil
	case err != nil:
		return 0, err
	}
	return 0, kvErr(n)
}

func (g *guestHost) KVDelete(key string) (bool, error) {
	n := g.raw.kvDelete(key)
	if n == abi.ErrTemporary {
		return false, ErrTemporary
	}
	return n == 0, nil
}

func (g *guestHost) RcptCount() int { return max(int(g.raw.rcptCount()), 0) }

func (g *guestHost) Rcpt(i int) (string, bool) {
	j, ok := index(i)
	if !ok {
		return "", false
	}
	return g.fetchString(func(buf []byte) int32 { return g.raw.rcptGet(j, buf) })
}

func (g *guestHost) SetMailFrom(addr string) { g.raw.mailSet(addr) }
func (g *guestHost) AddRcpt(addr string)     { g.raw.rcptAdd(addr) }

func (g *guestHost) RemoveRcpt(addr string) bool { return g.raw.rcptRemove(addr) >= 0 }

func (g *guestHost) HeaderCount() int { return max(int(g.raw.headerCount()), 0) }

func (g *guestHost) HeaderName(i int) (string, bool) {
	j, ok := index(i)
	if !ok {
		return "", false
	}
	return g.fetchString(func(buf []byte) int32 { return g.raw.headerName(j, buf) })
}

func (g *guestHost) HeaderValue(i int) (string, bool) {
	j, ok := index(i)
	if !ok {
		return "", false
	}
	return g.fetchString(func(buf []byte) int32 { return g.raw.headerValue(j, buf) })
}

func (g *guestHost) FindHeader(name string, nth int) (int, bool) {
	n, ok := index(nth)
	if !ok {
		return 0, false
	}
	i := g.raw.headerFind(name, n)
	return int(i), i >= 0
}

func (g *guestHost) AddHeader(name, value string) { g.raw.headerAdd(name, value) }

func (g *guestHost) InsertHeader(i int, name, value string) bool {
	j, ok := index(i)
	return ok && g.raw.headerInsert(j, name, value) >= 0
}

func (g *guestHost) ChangeHeader(i int, value string) bool {
	j, ok := index(i)
	return ok && g.raw.headerChange(j, value) >= 0
}

func (g *guestHost) DeleteHeader(i int) bool {
	j, ok := index(i)
	return ok && g.raw.headerDelete(j) >= 0
}

func (g *guestHost) BodySize() int { return max(int(g.raw.bodySize()), 0) }

// BodyReadAt asks the host for the body size first so that it never passes
// an offset beyond the end (ABI §4.5 does not define that case), then reads
// in as many calls as the host needs to fill p.
func (g *guestHost) BodyReadAt(p []byte, off int64) (int, error) {
	size := int64(g.raw.bodySize())
	if off < 0 || size < 0 || off >= size {
		return 0, io.EOF
	}
	want := p
	if rest := size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	n := 0
	for n < len(want) {
		c := g.raw.bodyRead(int32(off)+int32(n), want[n:])
		if c <= 0 {
			break
		}
		n += int(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (g *guestHost) ReplaceBody(b []byte) { g.raw.bodyReplace(b) }
func (g *guestHost) AppendBody(b []byte)  { g.raw.bodyAppend(b) }

func (g *guestHost) SetReply(code int, enhanced, text string) {
	if code < 0 || code > math.MaxInt32 {
		code = 0 // out of the ABI's range either way: the host refuses it
	}
	g.raw.setReply(int32(code), enhanced, text)
}

var _ Host = (*guestHost)(nil)

// configure runs sluice_configure for the registered hooks.
func (g *guestHost) configure(hs *hooks) int32 {
	if hs == nil {
		g.Log(LevelError, "no plugin registered: call sluice.Register from an init function")
		return 1
	}
	if hs.configure == nil {
		return 0
	}
	if err := hs.configure.Configure(g); err != nil {
		g.Log(LevelError, err.Error()) // the host says it was refused
		return 1
	}
	return 0
}

func (g *guestHost) DNSLookup(qtype, name string) ([]string, error) {
	var n int32
	b, ok := g.fetch(func(buf []byte) int32 {
		n = g.raw.dnsLookup(qtype, name, buf)
		return n
	})
	switch {
	case ok:
		return strings.Split(string(b), "\n"), nil
	case n == abi.ErrTemporary:
		return nil, ErrTemporary
	default:
		return nil, ErrNotFound
	}
}
