package sluice

import (
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// fakeRaw is a host function table in Go that follows ABI §3 to the letter:
// it returns the full length and copies nothing when the buffer is too
// small, and body_read copies at most chunk bytes per call.
type fakeRaw struct {
	cfg     string
	infos   map[string]string
	headers [][2]string
	body    []byte
	chunk   int
	logs    []string
	reply   string
	calls   map[string]int
	kv      string            // the value of key "k"
	quota   bool              // kv_set and kv_incr return QUOTA
	down    bool              // every kv function returns TEMPORARY
	dns     map[string]string // "QTYPE name" -> joined records
	signed  []string          // dkim_sign calls: "name opts"
	checked bool              // auth_check was called
	auth    string            // the JSON auth_check returns
	scanned string            // the scanner of the last scan
}

func (f *fakeRaw) put(fn string, buf []byte, v string) int32 {
	f.calls[fn]++
	if len(v) <= len(buf) {
		copy(buf, v)
	} else {
		// Poison the buffer so that a caller using it anyway is caught.
		for i := range buf {
			buf[i] = '!'
		}
	}
	return int32(len(v))
}

func (f *fakeRaw) log(level int32, msg string) { f.logs = append(f.logs, msg) }
func (f *fakeRaw) config(buf []byte) int32     { return f.put("config", buf, f.cfg) }
func (f *fakeRaw) info(key string, buf []byte) int32 {
	v, ok := f.infos[key]
	if !ok {
		return -1
	}
	return f.put("info", buf, v)
}
func (f *fakeRaw) tagGet(key string, buf []byte) int32 { return -1 }
func (f *fakeRaw) tagSet(key, val string) int32        { return 0 }
func (f *fakeRaw) kvGet(key string, buf []byte) int32 {
	if f.down {
		return abi.ErrTemporary
	}
	if key != "k" {
		return -1
	}
	return f.put("kv_get", buf, f.kv)
}
func (f *fakeRaw) kvSet(key string, val []byte, ttlMs int32) int32 {
	if f.down {
		return abi.ErrTemporary
	}
	if f.quota {
		return abi.ErrQuota
	}
	f.kv = string(val)
	return 0
}
func (f *fakeRaw) kvIncr(key string, delta, ttlMs int32) int32 {
	if f.down {
		return abi.ErrTemporary
	}
	if f.quota {
		return abi.ErrQuota
	}
	return delta
}
func (f *fakeRaw) kvDelete(key string) int32 {
	if f.down {
		return abi.ErrTemporary
	}
	return -1
}
func (f *fakeRaw) dkimSign(name string, opts []byte, buf []byte) int32 {
	if name == "refuse" {
		copy(buf, "no From field")
		return abi.ErrRefused
	}
	f.signed = append(f.signed, name+" "+string(opts))
	return 0
}
func (f *fakeRaw) authCheck(checks int32, buf []byte) int32 {
	if checks&^abi.AuthSPF != 0 && f.headers == nil {
		return abi.ErrNotFound
	}
	f.checked = true
	return f.put("auth_check", buf, f.auth)
}

// fakeAuthJSON is fakeAuth as auth_check's JSON, longer than the SDK's
// first buffer, with members this SDK does not know.
var fakeAuthJSON = `{"spf":{"result":"pass","identity":"mailfrom","domain":"example.org","sender":"a@example.org"},` +
	`"dkim":[{"result":"none"},{"result":"pass","domain":"example.org","b":"abc","future":{"a":[1,2.5e3,true,null]}}],` +
	`"dmarc":{"result":"pass","from_domain":"example.org","policy":"reject","pct":100,"spf_aligned":true,"dkim_aligned":false},` +
	`"arc":"` + strings.Repeat("x", 1200) + `",` +
	`"resinfo":"dkim=none;\r\n\tspf=pass"}`

// fakeAuth is the result auth_value serves after auth_check.
var fakeAuth = map[string]string{
	"spf.result": "pass", "spf.identity": "mailfrom", "spf.domain": "example.org", "spf.sender": "a@example.org",
	"dkim.count": "2", "dkim.0.result": "none", "dkim.1.result": "pass", "dkim.1.domain": "example.org", "dkim.1.b": "abc",
	"dmarc.result": "pass", "dmarc.from_domain": "example.org", "dmarc.policy": "reject", "dmarc.pct": "100",
	"dmarc.spf_aligned": "true", "dmarc.dkim_aligned": "false", "resinfo": "dkim=none;\r\n\tspf=pass",
}

func (f *fakeRaw) authValue(key string, buf []byte) int32 {
	v, ok := fakeAuth[key]
	if !f.checked || !ok {
		return abi.ErrNotFound
	}
	return f.put("auth_value", buf, v)
}
func (f *fakeRaw) dnsLookup(qtype, name string, buf []byte) int32 {
	if r, ok := f.dns[qtype+" "+name]; ok {
		return f.put("dns_lookup", buf, r)
	}
	if name == "temp.example" {
		return abi.ErrTemporary
	}
	return abi.ErrNotFound
}
func (f *fakeRaw) rcptCount() int32                  { return -1 }
func (f *fakeRaw) rcptGet(i int32, buf []byte) int32 { return -1 }
func (f *fakeRaw) mailSet(addr string) int32         { return 0 }
func (f *fakeRaw) rcptAdd(addr string) int32         { return 0 }
func (f *fakeRaw) rcptRemove(addr string) int32      { return -1 }
func (f *fakeRaw) headerCount() int32                { return int32(len(f.headers)) }
func (f *fakeRaw) headerName(i int32, buf []byte) int32 {
	if int(i) >= len(f.headers) {
		return -1
	}
	return f.put("header_name", buf, f.headers[i][0])
}
func (f *fakeRaw) headerValue(i int32, buf []byte) int32 {
	if int(i) >= len(f.headers) {
		return -1
	}
	return f.put("header_value", buf, f.headers[i][1])
}
func (f *fakeRaw) headerFind(name string, nth int32) int32 {
	for i, h := range f.headers {
		if strings.EqualFold(h[0], name) {
			if nth == 0 {
				return int32(i)
			}
			nth--
		}
	}
	return -1
}
func (f *fakeRaw) headerAdd(name, val string) int32             { return 0 }
func (f *fakeRaw) headerInsert(i int32, name, val string) int32 { return -1 }
func (f *fakeRaw) headerChange(i int32, val string) int32       { return -1 }
func (f *fakeRaw) headerDelete(i int32) int32                   { return -1 }
func (f *fakeRaw) bodySize() int32                              { return int32(len(f.body)) }
func (f *fakeRaw) bodyRead(off int32, buf []byte) int32 {
	f.calls["body_read"]++
	if int(off) > len(f.body) {
		panic("body_read beyond the end")
	}
	n := min(len(buf), len(f.body)-int(off), f.chunk)
	return int32(copy(buf, f.body[off:int(off)+n]))
}
func (f *fakeRaw) bodyReplace(b []byte) int32 { return 0 }
func (f *fakeRaw) bodyAppend(b []byte) int32  { return 0 }
func (f *fakeRaw) setReply(code int32, enh, text string) int32 {
	f.reply = enh + " " + text
	return 0
}

func newFake() *fakeRaw {
	return &fakeRaw{cfg: "{}", infos: map[string]string{}, chunk: 1 << 30, calls: map[string]int{}}
}

func TestFetchGrowsScratchOnceAndRetries(t *testing.T) {
	f := newFake()
	long := strings.Repeat("v", 3*scratchSize+7)
	f.headers = [][2]string{{"X-Short", "short"}, {"X-Long", long}}
	g := newGuestHost(f)

	if v, ok := g.HeaderValue(0); !ok || v != "short" {
		t.Fatalf("HeaderValue(0) = %q, %v", v, ok)
	}
	if v, ok := g.HeaderValue(1); !ok || v != long {
		t.Fatalf("HeaderValue(1) = %d bytes, %v; want %d bytes", len(v), ok, len(long))
	}
	if got := f.calls["header_value"]; got != 3 {
		t.Errorf("header_value calls = %d, want 3 (one, then two for the long value)", got)
	}
	// The grown buffer is kept: the long value now fits first time.
	if v, _ := g.HeaderValue(1); v != long {
		t.Fatal("second read of the long value differs")
	}
	if got := f.calls["header_value"]; got != 4 {
		t.Errorf("header_value calls = %d, want 4", got)
	}
	// Returned strings do not alias the scratch buffer.
	a, _ := g.HeaderValue(0)
	g.HeaderName(1)
	if a != "short" {
		t.Errorf("value changed after a later call: %q", a)
	}
}

func TestNotFoundAndBadIndexes(t *testing.T) {
	f := newFake()
	f.headers = [][2]string{{"Subject", "hi"}}
	g := newGuestHost(f)
	if _, ok := g.Info("nope"); ok {
		t.Error("Info(nope) found")
	}
	if _, ok := g.HeaderValue(5); ok {
		t.Error("HeaderValue(5) found")
	}
	if _, ok := g.HeaderName(-1); ok {
		t.Error("HeaderName(-1) found")
	}
	if _, ok := g.FindHeader("subject", 1); ok {
		t.Error("FindHeader(subject, 1) found")
	}
	if i, ok := g.FindHeader("SUBJECT", 0); !ok || i != 0 {
		t.Errorf("FindHeader(SUBJECT, 0) = %d, %v", i, ok)
	}
	if g.RcptCount() != 0 {
		t.Error("a NOT_FOUND count must read as 0")
	}
	if g.InsertHeader(-1, "A", "b") || g.ChangeHeader(3, "x") || g.DeleteHeader(0) || g.RemoveRcpt("a@b") {
		t.Error("a NOT_FOUND mutation reported success")
	}
}

func TestConfigCopiedOut(t *testing.T) {
	f := newFake()
	f.cfg = `{"a":"` + strings.Repeat("x", 2*scratchSize) + `"}`
	g := newGuestHost(f)
	c := g.Config()
	g.Info("x")
	if string(c) != f.cfg {
		t.Fatal("Config returned the wrong bytes")
	}
	f.infos["k"] = "zzzz"
	g.Info("k")
	if string(c) != f.cfg {
		t.Fatal("Config aliases the scratch buffer")
	}
}

func TestBodyReadAtChunks(t *testing.T) {
	f := newFake()
	f.body = []byte(strings.Repeat("0123456789", 100))
	f.chunk = 64 // the host may copy less than asked
	g := newGuestHost(f)

	p := make([]byte, 300)
	n, err := g.BodyReadAt(p, 10)
	if n != 300 || err != nil || string(p) != string(f.body[10:310]) {
		t.Fatalf("BodyReadAt(300 @10) = %d, %v", n, err)
	}
	n, err = g.BodyReadAt(p, 900)
	if n != 100 || !errors.Is(err, io.EOF) || string(p[:n]) != string(f.body[900:]) {
		t.Fatalf("BodyReadAt(300 @900) = %d, %v; want 100, EOF", n, err)
	}
	if n, err = g.BodyReadAt(p, 1000); n != 0 || err != io.EOF {
		t.Fatalf("BodyReadAt at the end = %d, %v", n, err)
	}
	if n, err = g.BodyReadAt(p, 5000); n != 0 || err != io.EOF {
		t.Fatalf("BodyReadAt beyond the end = %d, %v (and must not ask the host)", n, err)
	}

	all, err := io.ReadAll(Body(g))
	if err != nil || string(all) != string(f.body) {
		t.Fatalf("Body(g) read %d bytes, %v", len(all), err)
	}
}

type onlyData struct{ err error }

func (p *onlyData) Configure(h Host) error       { return p.err }
func (p *onlyData) OnData(h Host) Verdict        { return VerdictContinue }
func (p *onlyData) OnMail(h Host, x int) Verdict { return VerdictAccept } // wrong signature: not a hook

func TestConfigureExport(t *testing.T) {
	f := newFake()
	g := newGuestHost(f)
	if got := g.configure(nil); got != 1 || len(f.logs) != 1 || !strings.Contains(f.logs[0], "sluice.Register") {
		t.Fatalf("configure without a plugin = %d, logs %q", got, f.logs)
	}
	hs := hooksOf(&onlyData{})
	if hs.data == nil || hs.mail != nil || hs.connect != nil {
		t.Fatalf("hooksOf found the wrong hooks: %+v", hs)
	}
	if got := g.configure(&hs); got != 0 {
		t.Fatalf("configure = %d, want 0", got)
	}
	hs = hooksOf(&onlyData{err: errors.New("bad key")})
	f.logs = nil
	if got := g.configure(&hs); got != 1 || len(f.logs) != 1 || !strings.Contains(f.logs[0], "bad key") {
		t.Fatalf("refused configure = %d, logs %q", got, f.logs)
	}
}

func TestRegisterNeedsAHook(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "implements no hook") {
			t.Fatalf("Register of a hookless plugin: recover() = %v", r)
		}
	}()
	Register(struct{}{})
}

type pointerHooks struct{}

func (*pointerHooks) OnData(Host) Verdict { return VerdictContinue }

// TestRegisterValueWithPointerHooks: the message says to register a pointer.
func TestRegisterValueWithPointerHooks(t *testing.T) {
	want := "sluice.Register: sluice.pointerHooks implements no hook, but *sluice.pointerHooks does: " +
		"its methods have pointer receivers, so register a pointer: sluice.Register(&pointerHooks{})"
	defer func() {
		if r := recover(); r != want {
			t.Fatalf("recover() = %v\nwant %s", r, want)
		}
	}()
	Register(pointerHooks{})
}

// TestHotPathAllocations checks that the typed layer adds no allocation
// beyond the returned string (docs/TOOLCHAINS.md: an allocating Go hook costs
// about 2.5 times a non-allocating one).
func TestHotPathAllocations(t *testing.T) {
	f := newFake()
	f.headers = [][2]string{{"Subject", "hello"}}
	f.body = []byte("body\r\n")
	g := newGuestHost(f)
	var h Host = g
	p := make([]byte, 4)
	tests := map[string]struct {
		fn   func()
		want float64
	}{
		"FindHeader":  {func() { h.FindHeader("subject", 0) }, 0},
		"AddHeader":   {func() { h.AddHeader("X-A", "b") }, 0},
		"HeaderValue": {func() { h.HeaderValue(0) }, 1},
		"BodyReadAt":  {func() { h.BodyReadAt(p, 1) }, 0},
		"Log":         {func() { h.Log(LevelInfo, "x") }, 0},
	}
	f.logs = make([]string, 0, 1000)
	for name, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != tt.want {
			t.Errorf("%s: %v allocations, want %v", name, n, tt.want)
		}
	}
}

func TestGuestKV(t *testing.T) {
	f := &fakeRaw{calls: map[string]int{}}
	g := newGuestHost(f)
	if _, ok, err := g.KVGet("absent"); ok || err != nil {
		t.Fatal("KVGet of an absent key = ok")
	}
	big := strings.Repeat("v", 3*scratchSize)
	g.KVSet("k", []byte(big), 0)
	v, ok, _ := g.KVGet("k")
	if !ok || string(v) != big {
		t.Fatalf("KVGet = %d bytes, %v; want %d bytes", len(v), ok, len(big))
	}
	if f.calls["kv_get"] != 2 {
		t.Errorf("kv_get calls = %d, want 2 (grow once, then fetch)", f.calls["kv_get"])
	}
	g.KVGet("k")
	v[0] = 'X' // the result must not alias the scratch buffer
	if w, _, _ := g.KVGet("k"); w[0] != 'v' {
		t.Error("KVGet result aliases the scratch buffer")
	}
	if n, err := g.KVIncr("k", 7, time.Second); n != 7 || err != nil {
		t.Errorf("KVIncr = %d, %v; want 7", n, err)
	}
	// QUOTA (-4) is the ABI's refusal (sdk/ABI.md §4.8).
	f.quota = true
	if err := g.KVSet("q", []byte("v"), 0); err != ErrQuota {
		t.Errorf("KVSet on QUOTA = %v, want ErrQuota", err)
	}
	if n, err := g.KVIncr("q", 1, 0); err != ErrQuota {
		t.Errorf("KVIncr on QUOTA = %d, %v; want ErrQuota", n, err)
	}
	f.quota = false
	// A counter at -4 is a value, not a refusal: the key exists.
	if n, err := g.KVIncr("k", -4, 0); n != -4 || err != nil {
		t.Errorf("KVIncr to -4 of a key that exists = %d, %v; want -4", n, err)
	}
	if ok, err := g.KVDelete("k"); ok || err != nil {
		t.Error("KVDelete = true for NOT_FOUND")
	}
	// TEMPORARY (-2): a shared store that is down (sdk/ABI.md §4.8).
	f.down = true
	if _, ok, err := g.KVGet("k"); ok || err != ErrTemporary {
		t.Errorf("KVGet on TEMPORARY = %v, %v", ok, err)
	}
	if err := g.KVSet("k", []byte("v"), 0); err != ErrTemporary {
		t.Errorf("KVSet on TEMPORARY = %v", err)
	}
	if n, err := g.KVIncr("k", 1, 0); err != ErrTemporary {
		t.Errorf("KVIncr on TEMPORARY = %d, %v", n, err)
	}
	if _, err := g.KVDelete("k"); err != ErrTemporary {
		t.Errorf("KVDelete on TEMPORARY = %v", err)
	}
	f.down = false
	// A counter at -2 is a value: the store answers kv_get.
	if n, err := g.KVIncr("k", -2, 0); n != -2 || err != nil {
		t.Errorf("KVIncr to -2 of a key that exists = %d, %v; want -2", n, err)
	}
}

func TestTTLMillis(t *testing.T) {
	for _, c := range []struct {
		ttl  time.Duration
		want int32
	}{
		{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1},
		{1500 * time.Microsecond, 2}, {time.Minute, 60000}, {1000 * time.Hour, math.MaxInt32},
	} {
		if got := TTLMillis(c.ttl); got != c.want {
			t.Errorf("TTLMillis(%v) = %d, want %d", c.ttl, got, c.want)
		}
	}
}

func TestGuestDNS(t *testing.T) {
	big := strings.Repeat("a", 2*scratchSize)
	f := &fakeRaw{calls: map[string]int{}, dns: map[string]string{
		"A x.example":   "127.0.0.2\n127.0.0.4",
		"TXT x.example": big,
	}}
	g := newGuestHost(f)
	recs, err := g.DNSLookup("A", "x.example")
	if err != nil || len(recs) != 2 || recs[0] != "127.0.0.2" || recs[1] != "127.0.0.4" {
		t.Errorf("DNSLookup A = %q, %v", recs, err)
	}
	recs, err = g.DNSLookup("TXT", "x.example")
	if err != nil || len(recs) != 1 || recs[0] != big {
		t.Errorf("DNSLookup TXT = %d records, %v; want one of %d bytes", len(recs), err, len(big))
	}
	if f.calls["dns_lookup"] != 3 {
		t.Errorf("dns_lookup calls = %d, want 3 (A once, TXT grow then fetch)", f.calls["dns_lookup"])
	}
	if _, err := g.DNSLookup("A", "absent.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DNSLookup of an absent name: err = %v, want ErrNotFound", err)
	}
	if _, err := g.DNSLookup("A", "temp.example"); !errors.Is(err, ErrTemporary) {
		t.Errorf("DNSLookup on TEMPERROR: err = %v, want ErrTemporary", err)
	}
}

func TestGuestAuthAndDKIM(t *testing.T) {
	f := &fakeRaw{calls: map[string]int{}, infos: map[string]string{
		"dkim.keys": "main example.org s1 ed25519-sha256\nold example.net s0 rsa-sha256\nbroken line",
	}}
	g := newGuestHost(f)
	keys := g.DKIMKeys()
	if len(keys) != 2 || keys[0] != (DKIMKey{"main", "example.org", "s1", "ed25519-sha256"}) || keys[1].Name != "old" {
		t.Errorf("DKIMKeys = %+v", keys)
	}
	if err := g.SignDKIM("main", DKIMOptions{Headers: []string{"From", "To"}, Canonicalization: "simple"}); err != nil {
		t.Errorf("SignDKIM: %v", err)
	}
	if len(f.signed) != 1 || f.signed[0] != `main {"headers":["From","To"],"canonicalization":"simple"}` {
		t.Errorf("dkim_sign got %q", f.signed)
	}
	// The defaults are no options at all (ABI §4.10: length 0 means {}).
	if err := g.SignDKIM("main", DKIMOptions{Headers: []string{}}); err != nil || f.signed[1] != "main " {
		t.Errorf("SignDKIM with the defaults: %v, options %q", err, f.signed[1:])
	}
	var ref *DKIMRefusal
	if err := g.SignDKIM("refuse", DKIMOptions{}); !errors.As(err, &ref) || ref.Reason != "no From field" {
		t.Errorf("SignDKIM refused: err = %v", err)
	}
	if _, ok := g.CheckAuth(CheckDMARC); ok {
		t.Error("CheckAuth(DMARC) outside data: ok = true, want NOT_FOUND")
	}
	f.headers = [][2]string{{"From", "a@example.org"}}
	want := &AuthResult{
		SPF:     &SPFResult{Result: "pass", Identity: "mailfrom", Domain: "example.org", Sender: "a@example.org"},
		DKIM:    []DKIMResult{{Result: "none"}, {Result: "pass", Domain: "example.org", Signature: "abc"}},
		DMARC:   &DMARCResult{Result: "pass", FromDomain: "example.org", Policy: "reject", Percent: 100, SPFAligned: true},
		ResInfo: "dkim=none;\r\n\tspf=pass",
	}
	// The JSON, read in one call after one retry with a bigger buffer;
	// then JSON this SDK cannot read, read member by member.
	for _, c := range []struct {
		json              string
		checks, authValue int
	}{{fakeAuthJSON, 2, 0}, {`{"spf":["pass"]}`, 1, len(fakeAuth)}} {
		f.auth, f.calls = c.json, map[string]int{}
		r, ok := g.CheckAuth(CheckDMARC)
		if !ok || !reflect.DeepEqual(r, want) {
			t.Errorf("CheckAuth of %.30q = %+v, %v\nwant %+v", c.json, r, ok, want)
		}
		if f.calls["auth_check"] != c.checks || f.calls["auth_value"] != c.authValue {
			t.Errorf("CheckAuth of %.30q: %d auth_check and %d auth_value calls, want %d and %d",
				c.json, f.calls["auth_check"], f.calls["auth_value"], c.checks, c.authValue)
		}
	}
}
