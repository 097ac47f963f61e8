package wasmhost

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

func TestGoodPluginData(t *testing.T) {
	e, logs := newEngine(t)
	p := load(t, e, Spec{Name: "good", Wasm: module(t, "good"), Config: []byte(`{"greeting":"hi"}`)})
	if !strings.Contains(logs.String(), "configured") {
		t.Errorf("sluice_configure's log line is missing from the log:\n%s", logs)
	}
	for _, ph := range filter.Phases {
		want := ph == filter.Data || ph == filter.Rcpt
		if p.Has(ph) != want {
			t.Errorf("Has(%v) = %v, want %v", ph, p.Has(ph), want)
		}
	}

	st := stateAt(t, filter.Data)
	v, err := p.Call(context.Background(), st)
	if err != nil || v != filter.Continue {
		t.Fatalf("Call = %v, %v; want continue, nil", v, err)
	}
	wantTags := map[string]string{
		"cfg":     `{"greeting":"hi"}`,
		"sid":     "S1",
		"ph":      "data",
		"from":    "alice@example.org",
		"rcpt_nf": "1",
		"subj":    "Hello there",
	}
	for k, want := range wantTags {
		if got, ok := st.Tag(k); !ok || got != want {
			t.Errorf("tag %s = %q, %v; want %q", k, got, ok, want)
		}
	}
	last := st.Msg.Fields[len(st.Msg.Fields)-1]
	if string(last.Raw) != "X-Checked: yes\r\n" || len(st.Msg.Fields) != 3 {
		t.Errorf("header fields after call: %d, last %q", len(st.Msg.Fields), last.Raw)
	}
	if want := "line one\r\nline two\r\n-- footer\r\n"; string(st.Msg.Body) != want {
		t.Errorf("body = %q, want %q", st.Msg.Body, want)
	}
	if st.Reply != nil {
		t.Errorf("reply = %v, want none", st.Reply)
	}
}

func TestGoodPluginRcptThroughChain(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "good", Wasm: module(t, "good")})
	chain := &filter.Chain{Entries: []filter.Entry{{Name: "good", Plugin: p}}}

	st := stateAt(t, filter.Rcpt)
	st.Rcpt = "bad@example.com"
	out := chain.Run(context.Background(), st)
	if out.Verdict != filter.Reject {
		t.Fatalf("verdict = %v, want reject (steps %+v)", out.Verdict, out.Steps)
	}
	if got := out.Reply.Format(); got != "550 5.7.1 no such user\r\n" {
		t.Errorf("reply = %q", got)
	}

	st = stateAt(t, filter.Rcpt)
	st.Rcpt = "good@example.com"
	if out := chain.Run(context.Background(), st); out.Verdict != filter.Continue || out.Reply != nil {
		t.Errorf("good recipient: %v %v, want continue without reply", out.Verdict, out.Reply)
	}
}

func TestDefaultConfigIsEmptyObject(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "good", Wasm: module(t, "good")})
	st := stateAt(t, filter.Data)
	if _, err := p.Call(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Tag("cfg"); got != "{}" {
		t.Errorf("config = %q, want {}", got)
	}
}

// A config string with "<", ">" and "&" reaches the plugin as the operator
// wrote it, not as \u003c, \u003e, \u0026 (sdk/ABI.md §4.1.1): the policy's
// JSON goes byte for byte through config into the good module's cfg tag.
func TestPolicyConfigReachesPluginUnescaped(t *testing.T) {
	// What gateway/policy encodes for config = { s = "<a&b>", "k&" =
	// ["x>y", 1.5, true, null] } (its TestConfigJSON checks that side;
	// policy imports this package, so the two halves are tested apart).
	const want = `{"k&":["x>y",1.5,true,null],"s":"<a&b>"}`
	cfg := []byte(want)
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "good", Wasm: module(t, "good"), Config: cfg})
	st := stateAt(t, filter.Data)
	if _, err := p.Call(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Tag("cfg"); got != want {
		t.Errorf("the plugin read config %q, want %q", got, want)
	}
}

func TestTempfailWithOwnReply(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "h", Wasm: module(t, "hostile"), Grants: hostileGrants})
	st := stateAt(t, filter.Mail)
	st.Tags["mode"] = "t"
	out := (&filter.Chain{Entries: []filter.Entry{{Name: "h", Plugin: p}}}).Run(context.Background(), st)
	if out.Verdict != filter.Tempfail || out.Reply == nil || out.Reply.Format() != "451 4.7.1 later\r\n" {
		t.Errorf("outcome %v %v, want tempfail 451 4.7.1 later", out.Verdict, out.Reply)
	}
}

// Without sluice_hooks every exported hook is called; bits for hooks the
// module does not export, and bits above 4, change nothing; and a module
// with no hook at all loads, is configured, and is never called
// (sdk/ABI.md §2.2).
func TestWithoutHooksMask(t *testing.T) {
	e, logs := newEngine(t)
	const hooks = `
  (func (export "sluice_on_rcpt") (result i32) (i32.const 0))
  (func (export "sluice_on_data") (result i32) (i32.const 0))`
	for _, tc := range []struct {
		name, exports string
		want          []filter.Phase
	}{
		{"no mask", hooks, []filter.Phase{filter.Rcpt, filter.Data}},
		{"mask with extra bits", hooks + `
  (func (export "sluice_hooks") (result i32) (i32.const -1))`, []filter.Phase{filter.Rcpt, filter.Data}},
		{"no hook", `
  (import "sluice" "log" (func $log (param i32 i32 i32)))
  (data (i32.const 0) "configured-nohook")
  (func (export "sluice_configure") (result i32)
    (call $log (i32.const 1) (i32.const 0) (i32.const 17)) (i32.const 0))`, nil},
	} {
		b := watModule(t, `(module`+tc.exports+`
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1)))`)
		p := load(t, e, Spec{Name: "m", Wasm: b})
		for _, ph := range filter.Phases {
			if want := slices.Contains(tc.want, ph); p.Has(ph) != want {
				t.Errorf("%s: Has(%v) = %v, want %v", tc.name, ph, p.Has(ph), want)
			}
		}
	}
	if !strings.Contains(logs.String(), "configured-nohook") {
		t.Errorf("the module without hooks was not configured; log:\n%s", logs)
	}
}

// sluice_hooks masks exported hooks: the host never calls one whose bit is
// clear (sdk/ABI.md §2), which is how Go plugins skip the hooks they lack.
func TestHooksMask(t *testing.T) {
	e, _ := newEngine(t)
	b := watModule(t, `(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_hooks") (result i32) (i32.const 16)) ;; data only
  (func (export "sluice_on_rcpt") (result i32) (unreachable))
  (func (export "sluice_on_data") (result i32) (i32.const 0)))`)
	p := load(t, e, Spec{Wasm: b})
	if p.Has(filter.Rcpt) || !p.Has(filter.Data) || p.Has(filter.Mail) {
		t.Fatalf("Has: rcpt=%v data=%v mail=%v", p.Has(filter.Rcpt), p.Has(filter.Data), p.Has(filter.Mail))
	}
	c := &filter.Chain{Entries: []filter.Entry{{Name: "m", Plugin: p}}}
	if out := c.Run(context.Background(), stateAt(t, filter.Rcpt)); len(out.Steps) != 0 || out.Verdict != filter.Continue {
		t.Fatalf("masked hook was called: %+v", out)
	}
}
