package wasmhost

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// The fuzzed plugin is an interpreter: its hooks run up to fuzzMaxOps
// operations from a table in its memory, each an opcode and five i32
// arguments, calling the host function the opcode names with those
// arguments as they are, then return the verdict stored at address 0. The
// test writes the table and the bytes the arguments point at into an idle
// instance's memory just before the call, so a plugin can hand every host
// function any pointer, length, index or code, and any content.
const (
	fuzzVerdictAt = 0   // i32 verdict
	fuzzOpsAt     = 16  // fuzzMaxOps entries of fuzzOpSize bytes
	fuzzOpSize    = 24  // opcode, then five i32 arguments
	fuzzMaxOps    = 8   // operations per call
	fuzzPayloadAt = 256 // where the fuzz payload starts
	fuzzMemory    = pageSize
)

// fuzzFuncs are the host functions by opcode (opcode i+1 calls
// fuzzFuncs[i]), with their parameter count and whether they return.
var fuzzFuncs = []struct {
	name    string
	params  int
	results int
}{
	{"header_add", 4, 1}, {"header_insert", 5, 1}, {"header_change", 3, 1},
	{"header_delete", 1, 1}, {"header_find", 3, 1}, {"header_value", 3, 1},
	{"header_name", 3, 1}, {"header_count", 0, 1},
	{"tag_set", 4, 1}, {"tag_get", 4, 1}, {"set_reply", 5, 1},
	{"mail_set", 2, 1}, {"rcpt_add", 2, 1}, {"rcpt_remove", 2, 1},
	{"rcpt_count", 0, 1}, {"rcpt_get", 3, 1},
	{"body_replace", 2, 1}, {"body_append", 2, 1}, {"body_read", 3, 1},
	{"body_size", 0, 1}, {"info", 4, 1}, {"log", 3, 0}, {"config", 2, 1},
	{"dkim_sign", 6, 1}, {"auth_check", 3, 1}, {"auth_value", 4, 1},
	{"scan", 4, 1}, {"scan_value", 4, 1},
}

// fuzzWAT generates the interpreter module.
func fuzzWAT() string {
	var b strings.Builder
	b.WriteString("(module\n")
	for _, f := range fuzzFuncs {
		fmt.Fprintf(&b, "  (import \"sluice\" %q (func $%s (param%s)%s))\n", f.name, f.name,
			strings.Repeat(" i32", f.params), strings.Repeat(" (result i32)", f.results))
	}
	b.WriteString(`  (memory (export "memory") 1 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $run (result i32)
    (local $p i32) (local $op i32) (local $end i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32)
`)
	fmt.Fprintf(&b, "    (local.set $p (i32.const %d))\n", fuzzOpsAt)
	fmt.Fprintf(&b, "    (local.set $end (i32.const %d))\n", fuzzOpsAt+fuzzMaxOps*fuzzOpSize)
	b.WriteString(`    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $op (i32.load (local.get $p)))
        (br_if $done (i32.eqz (local.get $op)))
        (local.set $a0 (i32.load offset=4 (local.get $p)))
        (local.set $a1 (i32.load offset=8 (local.get $p)))
        (local.set $a2 (i32.load offset=12 (local.get $p)))
        (local.set $a3 (i32.load offset=16 (local.get $p)))
        (local.set $a4 (i32.load offset=20 (local.get $p)))
`)
	for i, f := range fuzzFuncs {
		call := "(call $" + f.name
		for a := 0; a < f.params; a++ {
			if a >= 5 {
				// An operation has five arguments; dkim_sign's sixth (the
				// refusal buffer's capacity) is fixed.
				call += " (i32.const 200)"
				continue
			}
			call += fmt.Sprintf(" (local.get $a%d)", a)
		}
		call += ")"
		if f.results > 0 {
			call = "(drop " + call + ")"
		}
		fmt.Fprintf(&b, "        (if (i32.eq (local.get $op) (i32.const %d)) (then %s))\n", i+1, call)
	}
	fmt.Fprintf(&b, `        (local.set $p (i32.add (local.get $p) (i32.const %d)))
        (br $next)))
    (i32.load (i32.const %d)))
`, fuzzOpSize, fuzzVerdictAt)
	for _, h := range []string{"connect", "helo", "mail", "rcpt", "data"} {
		fmt.Fprintf(&b, "  (func (export \"sluice_on_%s\") (result i32) (call $run))\n", h)
	}
	b.WriteString(")\n")
	return b.String()
}

// fuzzOp is one operation of a seed: fn is the opcode (1-based index in
// fuzzFuncs, 0 ends the program); wide scales every argument by 65536.
type fuzzOp struct {
	fn   int
	wide bool
	args [5]int16
}

// fuzzInput encodes a seed: phase (plus 5 times the message choice),
// verdict, operations, then payload.
func fuzzInput(ph filter.Phase, verdict int8, ops []fuzzOp, payload string) []byte {
	b := []byte{byte(ph), byte(verdict), byte(len(ops))}
	for _, op := range ops {
		c := byte(op.fn)
		if op.wide {
			c |= 0x80
		}
		b = append(b, c)
		for _, a := range op.args {
			b = binary.LittleEndian.AppendUint16(b, uint16(a))
		}
	}
	return append(b, payload...)
}

// decodeFuzz turns fuzz bytes into a phase, the choice of the data phase's
// message (fuzzMessages) and the plugin's memory image.
func decodeFuzz(in []byte) (filter.Phase, int, []byte) {
	mem := make([]byte, fuzzMemory)
	next := func() byte {
		if len(in) == 0 {
			return 0
		}
		c := in[0]
		in = in[1:]
		return c
	}
	c := int(next())
	ph := filter.Phases[c%len(filter.Phases)]
	msg := c / len(filter.Phases) % len(fuzzMessages)
	binary.LittleEndian.PutUint32(mem[fuzzVerdictAt:], uint32(int32(int8(next()))))
	n := int(next()) % (fuzzMaxOps + 1)
	for k := 0; k < n; k++ {
		at := fuzzOpsAt + k*fuzzOpSize
		c := next()
		binary.LittleEndian.PutUint32(mem[at:], uint32(int(c&0x7f)%(len(fuzzFuncs)+1)))
		for a := 0; a < 5; a++ {
			v := int32(int16(uint16(next()) | uint16(next())<<8))
			if c&0x80 != 0 {
				v <<= 16
			}
			binary.LittleEndian.PutUint32(mem[at+4+4*a:], uint32(v))
		}
	}
	copy(mem[fuzzPayloadAt:], in)
	return ph, msg, mem
}

// panicWatch records whether a host function or a call panicked: Plugin
// logs those at error level and contains them.
type panicWatch struct{ panicked *atomic.Bool }

func (h panicWatch) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		h.panicked.Store(true)
	}
	return nil
}
func (h panicWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicWatch) WithGroup(string) slog.Handler      { return h }

// fuzzMessages are the messages a data-phase call may start from: the usual
// one, folded and empty fields with an empty body, no header at all, and a
// last field without its CRLF (as "sluice test" may read from a file).
var fuzzMessages = []string{
	testMessage,
	"A: 1\r\n\tfolded\r\nB:\r\nC:  two spaces\r\n\r\n",
	"no header line\r\nbody\r\n",
	"Subject: unterminated",
}

// fuzzState is the state a fuzzed call starts from.
func fuzzState(t testing.TB, ph filter.Phase, msg int) *filter.State {
	st := stateAt(t, ph)
	if st.Msg != nil && msg != 0 {
		m, err := message.Parse([]byte(fuzzMessages[msg]), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st.Msg = m
	}
	st.Session.Tags = filter.Tags{"sess.key": "session value"}
	st.Tags["tx-key"] = "transaction value"
	if ph == filter.Rcpt {
		st.Rcpt = "carol@example.com"
		st.RcptParams = "NOTIFY=NEVER"
	}
	if ph >= filter.Mail {
		st.MailParams = "SIZE=100"
	}
	return st
}

// stateImage renders, exactly, everything a plugin call may change.
func stateImage(st *filter.State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "from=%q rcpts=%q envchanged=%v\n", st.From, st.Rcpts, st.EnvelopeChanged)
	for _, tags := range []filter.Tags{st.Tags, st.Session.Tags} {
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "tag %q=%q\n", k, tags[k])
		}
		b.WriteString("--\n")
	}
	if st.Msg != nil {
		for _, f := range st.Msg.Fields {
			fmt.Fprintf(&b, "field %q %q\n", f.Name, f.Raw)
		}
		fmt.Fprintf(&b, "body %q\nbytes %q\n", st.Msg.Body, st.Msg.Bytes())
	}
	return b.String()
}

// checkTags asserts the tag limits of sdk/ABI.md §4.3.
func checkTags(t *testing.T, tags filter.Tags) {
	t.Helper()
	for k, v := range tags {
		if !contract.ValidTagKey(k) || len(v) > abi.MaxTagValue || strings.ContainsAny(v, "\r\n\x00") {
			t.Fatalf("tag %q=%q breaks the ABI limits", k, v)
		}
	}
}

// checkAddress asserts an envelope address a plugin may set (sdk/ABI.md
// §4.6).
func checkAddress(t *testing.T, a string) {
	t.Helper()
	at := strings.LastIndexByte(a, '@')
	if len(a) > abi.MaxAddress || at <= 0 || at == len(a)-1 || strings.ContainsFunc(a, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '<' || r == '>'
	}) {
		t.Fatalf("address %q", a)
	}
}

// checkSuccess asserts what a call that succeeded leaves behind.
func checkSuccess(t *testing.T, ph filter.Phase, v filter.Verdict, st *filter.State) {
	t.Helper()
	if !v.Valid() {
		t.Fatalf("verdict %d accepted", v)
	}
	checkTags(t, st.Tags)
	checkTags(t, st.Session.Tags)
	if r := st.Reply; r != nil {
		if r.Code < 400 || r.Code > 599 || len(r.Lines) != 1 || !smtp.ValidEnhanced(r.Enhanced, r.Code) ||
			len(r.Lines[0]) == 0 || len(r.Lines[0]) > abi.MaxReplyText ||
			strings.ContainsFunc(r.Lines[0], func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			t.Fatalf("reply %#v", r)
		}
		if v == filter.Reject && r.Class() != 5 || v == filter.Tempfail && r.Class() != 4 {
			t.Fatalf("verdict %v with reply %d", v, r.Code)
		}
	}
	if st.From != "" {
		checkAddress(t, st.From)
	}
	for i, r := range st.Rcpts {
		checkAddress(t, r)
		for _, o := range st.Rcpts[:i] {
			if strings.EqualFold(o, r) {
				t.Fatalf("recipient %q twice in %q", r, st.Rcpts)
			}
		}
	}
	if ph >= filter.Rcpt && len(st.Rcpts) == 0 {
		t.Fatal("every recipient removed")
	}
	m := st.Msg
	if m == nil {
		return
	}
	for _, f := range m.Fields {
		if message.ValidName([]byte(f.Name)) != nil || message.ValidValue([]byte(f.Name), f.Value()) != nil {
			t.Fatalf("invalid field %q", f.Raw)
		}
	}
	if err := message.ValidBody(m.Body); err != nil {
		t.Fatalf("body %q: %v", m.Body, err)
	}
	out := m.Bytes()
	if len(out) != m.Size() {
		t.Fatalf("Size %d, Bytes %d", m.Size(), len(out))
	}
	back, err := message.Parse(out, message.Limits{})
	if err != nil || len(back.Fields) != len(m.Fields) {
		t.Fatalf("re-parse of %q: %v", out, err)
	}
	for i, f := range m.Fields {
		if back.Fields[i].Name != f.Name || !bytes.Equal(back.Fields[i].Value(), f.Value()) {
			t.Fatalf("field %d re-parsed as %q, want %q", i, back.Fields[i].Raw, f.Raw)
		}
	}
	body := m.Body
	if len(body) > 0 && !bytes.HasSuffix(body, []byte("\r\n")) {
		body = append(slices.Clip(body), '\r', '\n')
	}
	if !bytes.Equal(back.Body, body) {
		t.Fatalf("body re-parsed as %q, want %q", back.Body, body)
	}
}

// fuzzHostTimeout is the fuzzed plugin's deadline; its calls never loop.
const fuzzHostTimeout = 2 * time.Second

// fuzzHostPlugin loads the interpreter plugin in an engine whose log only
// watches for contained panics.
func fuzzHostPlugin(tb testing.TB) (*Plugin, *atomic.Bool) {
	tb.Helper()
	return fuzzHostPluginWith(tb, func(*Engine) {})
}

// fuzzHostPluginWith is fuzzHostPlugin on an engine that setup adjusts.
func fuzzHostPluginWith(tb testing.TB, setup func(*Engine)) (*Plugin, *atomic.Bool) {
	tb.Helper()
	panicked := &atomic.Bool{}
	e, err := NewEngine(context.Background(), EngineOptions{Logger: slog.New(panicWatch{panicked})})
	if err != nil {
		tb.Fatal(err)
	}
	setup(e)
	tb.Cleanup(func() { e.Close(context.Background()) })
	p := load(tb, e, Spec{Name: "fuzz", Wasm: watModule(tb, fuzzWAT()), Timeout: fuzzHostTimeout, MaxIdle: 1,
		MaxMessageSize: 8192, Config: []byte(`{"k":"v"}`),
		Grants: []string{"dns", "envelope", "dkim:k", "scan:k"}, DKIMKeys: []*dkimsign.Key{fuzzKey(tb)}, // a 1-byte key name the fuzzer finds
		Scanners: map[string]scan.Scanner{"k": &fakeScanner{res: &scan.Result{Engine: scan.EngineRspamd, Action: "reject",
			Symbols: []scan.Symbol{{Name: "GTUBE"}}}}},
		BreakerThreshold: -1}) // every call must reach the guest
	return p, panicked
}

// fuzzSeed is a seed of FuzzHostFunctions and what its call gives: want is
// a substring of the error, "" for success.
type fuzzSeed struct {
	ph      filter.Phase
	verdict int8
	ops     []fuzzOp
	want    string
}

// fuzzPayload is the payload of every seed; offsets:
// P "X-Fuzz" (6), P+6 "hello" (5), P+11 "a\r\n b" (5), P+16 "4.7.1" (5),
// P+21 "go away" (7), P+28 "x@y.example" (11), P+39 "key.1" (5),
// P+44 "bad\nvalue" (9), P+53 "new body\r\n" (10).
const fuzzPayload = "X-Fuzzhelloa\r\n b4.7.1go awayx@y.examplekey.1bad\nvaluenew body\r\n"

func fuzzSeeds() []fuzzSeed {
	const P = fuzzPayloadAt
	op := func(name string, args ...int16) fuzzOp {
		o := fuzzOp{}
		for i, fn := range fuzzFuncs {
			if fn.name == name {
				o.fn = i + 1
			}
		}
		copy(o.args[:], args)
		return o
	}
	return []fuzzSeed{
		{filter.Data, 0, []fuzzOp{op("header_add", P, 6, P+6, 5), op("header_insert", 0, P, 6, P+11, 5)}, ""},
		{filter.Data, 0, []fuzzOp{op("header_change", 1, P+11, 5), op("header_delete", 0), op("body_replace", P+53, 10), op("body_append", P+6, 5)}, ""},
		{filter.Data, 3, []fuzzOp{op("set_reply", 451, P+16, 5, P+21, 7), op("tag_set", P+39, 5, P+6, 5), op("tag_get", P+39, 5, 1024, 64)}, ""},
		{filter.Data, 2, []fuzzOp{op("set_reply", 451, P+16, 5, P+21, 7)}, "a reject needs a 5xx reply"},
		{filter.Data, 0, []fuzzOp{op("rcpt_add", P+28, 11), op("rcpt_remove", P+28, 11), op("mail_set", P+28, 11), op("rcpt_get", 0, 1024, 64)}, ""},
		{filter.Data, 0, []fuzzOp{op("header_add", P, 6, P+6, 5), op("tag_set", P+39, 5, P+44, 9)}, "tag_set: tag value contains CR, LF or NUL"},
		{filter.Data, 9, []fuzzOp{op("header_add", P, 6, P+6, 5), op("body_append", P+44, 9)}, "returned 9, which is not a verdict"},
		{filter.Data, 0, []fuzzOp{op("header_find", P, 6, 0), op("header_value", 0, 1024, 64), op("header_name", 1, 1024, 2)}, ""},
		{filter.Data, 0, []fuzzOp{op("body_read", 3, 1024, 100), op("body_size"), op("header_count"), op("info", P+39, 5, 1024, 64)}, ""},
		{filter.Data, 0, []fuzzOp{{fn: 1, wide: true, args: [5]int16{-1, 5, 0, 5}}}, "header_add: header name (ptr 4294901760, len 327680) is outside the plugin's memory"},
		{filter.Data, 0, []fuzzOp{op("header_add", P, 6, P+6, -5)}, "header_add: negative header value length -5"},
		{filter.Data, 0, []fuzzOp{op("log", 1, P+44, 9), op("config", 1024, 64), op("body_replace", 0, 4096)}, "the new body is invalid: body contains NUL"},
		{filter.Mail, 0, []fuzzOp{op("mail_set", P+28, 11), op("tag_set", P+39, 5, P+6, 5), op("header_add", P, 6, P+6, 5)}, "header_add: not allowed in mail phase"},
		{filter.Rcpt, 2, []fuzzOp{op("set_reply", 550, 0, 0, P+21, 7), op("rcpt_add", P+28, 11)}, "rcpt_add: not allowed in rcpt phase"},
		{filter.Connect, 0, []fuzzOp{op("tag_set", P+39, 5, P+6, 5), op("info", P+39, 5, 1024, 64), op("mail_set", 0, 0)}, "mail_set: not allowed in connect phase"},
		{filter.Helo, 1, []fuzzOp{op("tag_set", P+39, 5, P+6, 5), op("set_reply", 250, 0, 0, P+21, 7)}, "set_reply: reply code 250 is not between 400 and 599"},
		// The same data-phase program on each other message.
		{filter.Data + 5, 0, []fuzzOp{op("header_change", 2, P+11, 5), op("header_add", P, 6, P+6, 5), op("body_append", P+6, 5)}, ""},
		{filter.Data + 10, 0, []fuzzOp{op("header_change", 2, P+11, 5), op("header_add", P, 6, P+6, 5), op("body_append", P+6, 5)}, ""},
		{filter.Data + 15, 0, []fuzzOp{op("header_change", 2, P+11, 5), op("header_add", P, 6, P+6, 5), op("body_append", P+6, 5)}, ""},
	}
}

// fuzzHostCall runs one fuzzed call and checks its properties; it returns
// the state after the call and the call's error.
func fuzzHostCall(t *testing.T, p *Plugin, panicked *atomic.Bool, in []byte) (*filter.State, error) {
	t.Helper()
	ph, msg, mem := decodeFuzz(in)
	ctx := context.Background()

	// Give the idle instance the memory image the call will run on.
	inst, err := p.take(ctx, ph, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !inst.mod.Memory().Write(0, mem) {
		t.Fatal("cannot write the instance's memory")
	}
	p.put(ctx, inst)
	if idle := p.idleInstances(); len(idle) != 1 || idle[0] != inst {
		t.Fatal("the prepared instance is not the idle one")
	}

	st := fuzzState(t, ph, msg)
	before := stateImage(st)
	start := time.Now()
	v, err := p.Call(ctx, st)
	if d := time.Since(start); d > fuzzHostTimeout+time.Second {
		t.Fatalf("Call returned after %v", d)
	}
	if panicked.Load() {
		t.Fatal("a host function or the call panicked")
	}
	if err != nil {
		var ce *CallError
		if v != filter.Tempfail || !errors.As(err, &ce) || strings.Contains(err.Error(), "internal error") {
			t.Fatalf("Call = %v, %v", v, err)
		}
		st.Rollback()
		if after := stateImage(st); after != before {
			t.Fatalf("state after rollback:\n%s\nwant:\n%s\nerror: %v", after, before, err)
		}
		return st, err
	}
	checkSuccess(t, ph, v, st)
	st.Commit()
	return st, nil
}

// TestFuzzHostSeeds checks that the interpreter plugin really calls the host
// functions: each seed of FuzzHostFunctions gives its expected outcome.
func TestFuzzHostSeeds(t *testing.T) {
	p, panicked := fuzzHostPlugin(t)
	for i, s := range fuzzSeeds() {
		st, err := fuzzHostCall(t, p, panicked, fuzzInput(s.ph, s.verdict, s.ops, fuzzPayload))
		if s.want == "" && err != nil || s.want != "" && (err == nil || !strings.Contains(err.Error(), s.want)) {
			t.Errorf("seed %d: error %v, want %q", i, err, s.want)
		}
		if i == 0 && err == nil {
			if n := len(st.Msg.Fields); n != 4 || st.Msg.Fields[0].Name != "X-Fuzz" || string(st.Msg.Fields[3].Raw) != "X-Fuzz: hello\r\n" {
				t.Errorf("seed 0: fields %q", st.Msg.Fields)
			}
		}
		if i == 19 && err == nil {
			if got := string(st.Msg.Bytes()); got != "Subject: unterminated\r\nX-Fuzz: hello\r\n\r\nhello\r\n" {
				t.Errorf("seed 19: message %q", got)
			}
		}
		if i == 2 && err == nil {
			if r := st.Reply; r == nil || r.Format() != "451 4.7.1 go away\r\n" {
				t.Errorf("seed 2: reply %v", r)
			}
			if v, _ := st.Tag("key.1"); v != "hello" {
				t.Errorf("seed 2: tag key.1 = %q", v)
			}
		}
	}
}

// FuzzHostFunctions covers docs/TESTPLAN.md rows 41-48 with arbitrary plugins: a
// plugin calls host functions with any arguments and content and returns any
// value. Call never panics and returns in time; a failed call is rolled
// back exactly; a successful one leaves valid header fields, body, tags,
// envelope and reply, and a message that serializes and parses back.
func FuzzHostFunctions(f *testing.F) {
	p, panicked := fuzzHostPlugin(f)
	for _, s := range fuzzSeeds() {
		f.Add(fuzzInput(s.ph, s.verdict, s.ops, fuzzPayload))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzHostCall(t, p, panicked, in)
	})
}

// fuzzKey is the DKIM key "k" of the fuzzed plugin, from a fixed seed.
func fuzzKey(tb testing.TB) *dkimsign.Key {
	tb.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return &dkimsign.Key{Name: "k", Domain: "example.org", Selector: "s", Signer: priv, Algorithm: dkimsign.AlgorithmEd25519}
}
