package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/scan"
)

// scanWAT exercises sdk/ABI.md §4.12. Every hook adds X-Before: 1 in data
// (so the scan sees an earlier change), then calls scan("spam") into tag s
// (the JSON, or "e" and the negated code), scan_value("action") into tag a
// and scan_value("error") into tag x. The other phases call scan only.
const scanWAT = `(module
  (import "sluice" "scan" (func $scan (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "scan_value" (func $value (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $hadd (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "spam")
  (data (i32.const 16) "sax")
  (data (i32.const 32) "action")
  (data (i32.const 48) "error")
  (data (i32.const 64) "X-Before")
  (data (i32.const 80) "1")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $fetch (param $n i32) (param $key i32)
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then
        (i32.store8 (i32.const 1024) (i32.const 101))
        (i32.store8 (i32.const 1025) (i32.sub (i32.const 48) (local.get $n)))
        (drop (call $tag_set (local.get $key) (i32.const 1) (i32.const 1024) (i32.const 2))))
      (else (drop (call $tag_set (local.get $key) (i32.const 1) (i32.const 1024) (local.get $n))))))
  (func $run
    (call $fetch (call $scan (i32.const 0) (i32.const 4) (i32.const 1024) (i32.const 4096)) (i32.const 16))
    (call $fetch (call $value (i32.const 32) (i32.const 6) (i32.const 1024) (i32.const 256)) (i32.const 17))
    (call $fetch (call $value (i32.const 48) (i32.const 5) (i32.const 1024) (i32.const 256)) (i32.const 18)))
  (func (export "sluice_on_mail") (result i32) (call $run) (i32.const 0))
  (func (export "sluice_on_data") (result i32)
    (drop (call $hadd (i32.const 64) (i32.const 8) (i32.const 80) (i32.const 1)))
    (call $run)
    (i32.const 0)))`

// fakeScanner records what it was sent and answers res or err; with block
// set it waits for the context instead.
type fakeScanner struct {
	res   *scan.Result
	err   error
	block bool

	mu    sync.Mutex
	env   scan.Envelope
	msg   []byte
	calls int
}

func (f *fakeScanner) Scan(ctx context.Context, env scan.Envelope, msg scan.Message) (*scan.Result, error) {
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.env, f.msg, f.calls = env, b.Bytes(), f.calls+1
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return nil, &scan.Error{Scanner: "spam", Engine: scan.EngineRspamd, Kind: scan.ErrTimeout, Err: ctx.Err()}
	}
	return f.res, f.err
}

func (f *fakeScanner) Close() error { return nil }

func TestScan(t *testing.T) {
	e, _ := newEngine(t)
	f := &fakeScanner{res: &scan.Result{Engine: scan.EngineRspamd, Action: "add header", Score: 7.5, RequiredScore: 15}}
	p := load(t, e, Spec{Name: "scan", Wasm: watModule(t, scanWAT), Grants: []string{"scan:spam"},
		Scanners: map[string]scan.Scanner{"spam": f}})

	st := stateAt(t, filter.Data)
	st.Rcpts = []string{"bob@example.com", "carol@example.com"}
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("data: %v, %v", v, err)
	}
	if s, _ := st.Tag("s"); s != `{"engine":"rspamd","action":"add header","score":7.5,"required_score":15,"spam":false,"infected":false}` {
		t.Errorf("scan JSON = %s", s)
	}
	if a, _ := st.Tag("a"); a != "add header" {
		t.Errorf("scan_value action = %q", a)
	}
	if x, _ := st.Tag("x"); x != "e1" {
		t.Errorf("scan_value error after a good scan = %q, want NOT_FOUND", x)
	}
	want := scan.Envelope{ClientIP: "192.0.2.1", Helo: "client.example", Sender: "alice@example.org",
		Recipients: []string{"bob@example.com", "carol@example.com"}, QueueID: "S1"}
	if fmt.Sprint(f.env) != fmt.Sprint(want) {
		t.Errorf("envelope = %+v, want %+v", f.env, want)
	}
	if !bytes.HasPrefix(f.msg, []byte("X-Before: 1\r\n")) && !bytes.Contains(f.msg, []byte("\r\nX-Before: 1\r\n")) {
		t.Errorf("the scanner was not sent the message as changed before the call:\n%s", f.msg)
	}
	if !bytes.HasSuffix(f.msg, []byte("line one\r\nline two\r\n")) || f.calls != 1 {
		t.Errorf("scanner got %d calls, message %q", f.calls, f.msg)
	}

	// Not in the data phase: NOT_FOUND, and nothing sent.
	if s := callTag(t, p, filter.Mail, "s"); s != "e1" {
		t.Errorf("scan at mail = %q, want NOT_FOUND", s)
	}
	if f.calls != 1 {
		t.Errorf("scan at mail reached the scanner")
	}
}

// A failed scan is TEMPERROR with its reason in scan_value "error", never
// a trap (sdk/ABI.md §4.12).
func TestScanFailureIsTemperror(t *testing.T) {
	e, _ := newEngine(t)
	f := &fakeScanner{err: &scan.Error{Scanner: "spam", Engine: scan.EngineRspamd, Kind: scan.ErrUnreachable, Err: errors.New("connection refused")}}
	p := load(t, e, Spec{Name: "scan", Wasm: watModule(t, scanWAT), Grants: []string{"scan:spam"},
		Scanners: map[string]scan.Scanner{"spam": f}})
	st := stateAt(t, filter.Data)
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("data: %v, %v", v, err)
	}
	s, _ := st.Tag("s")
	a, _ := st.Tag("a")
	x, _ := st.Tag("x")
	if s != "e2" || a != "e1" || !strings.Contains(x, "scanner unreachable") {
		t.Errorf("tags s=%q a=%q x=%q; want TEMPERROR, NOT_FOUND, the reason", s, a, x)
	}
}

// A scanner that never answers is stopped before the hook's deadline and
// the plugin sees TEMPERROR (it still returns in time).
func TestScanStopsBeforeDeadline(t *testing.T) {
	e, _ := newEngine(t)
	f := &fakeScanner{block: true}
	p := load(t, e, Spec{Name: "scan", Wasm: watModule(t, scanWAT), Grants: []string{"scan:spam"},
		Scanners: map[string]scan.Scanner{"spam": f}, Timeout: 300 * time.Millisecond})
	st := stateAt(t, filter.Data)
	start := time.Now()
	v, err := p.Call(context.Background(), st)
	if err != nil || v != filter.Continue {
		t.Fatalf("data: %v, %v; want the plugin to answer after a TEMPERROR", v, err)
	}
	if d := time.Since(start); d > 2300*time.Millisecond {
		t.Errorf("call took %v with a 300ms timeout", d)
	}
	if s, _ := st.Tag("s"); s != "e2" {
		t.Errorf("scan of a silent scanner = %q, want TEMPERROR", s)
	}
}

func TestScanGrants(t *testing.T) {
	e, _ := newEngine(t)
	_, err := e.Load(context.Background(), Spec{Name: "scan", Wasm: watModule(t, scanWAT)})
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(le.Msg, `imports sluice.scan, which needs a scanner`) {
		t.Errorf("Load without a scan grant: %v", err)
	}
	// Granted another scanner: using "spam" traps.
	p := load(t, e, Spec{Name: "scan", Wasm: watModule(t, scanWAT), Grants: []string{"scan:virus"},
		Scanners: map[string]scan.Scanner{"virus": &fakeScanner{}}})
	_, err = p.Call(context.Background(), stateAt(t, filter.Data))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != "abi" || !strings.Contains(ce.Reason, `scanner "spam" is not granted`) {
		t.Errorf("scan with an ungranted scanner: %v; want ABI misuse", err)
	}
}
