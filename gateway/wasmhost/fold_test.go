package wasmhost

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
)

// prefixWAT prefixes the Subject with "[EXT] " through header_change, as the
// tag plugin does, and adds a field whose value is one 2000-byte word.
const prefixWAT = `(module
  (import "sluice" "header_find" (func $find (param i32 i32 i32) (result i32)))
  (import "sluice" "header_value" (func $value (param i32 i32 i32) (result i32)))
  (import "sluice" "header_change" (func $change (param i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $add (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "Subject")
  (data (i32.const 16) "X-Word")
  (data (i32.const 1024) "[EXT] ")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (local $i i32) (local $n i32)
    (local.set $i (call $find (i32.const 0) (i32.const 7) (i32.const 0)))
    (local.set $n (call $value (local.get $i) (i32.const 1030) (i32.const 60000)))
    (drop (call $change (local.get $i) (i32.const 1024) (i32.add (local.get $n) (i32.const 6))))
    (memory.fill (i32.const 70000) (i32.const 119) (i32.const 2000))
    (drop (call $add (i32.const 16) (i32.const 6) (i32.const 70000) (i32.const 2000)))
    (i32.const 0)))`

// TestHeaderChangeOnLongLine is the attack of ISSUE 9 §4: a client sends a
// Subject with a line longer than 998 bytes (legal under max_line_length);
// a plugin that changes it used to trap, so the message got 451 on every
// retry. The host now folds what it writes: no plugin error, the lines fit
// where whitespace allows, and the unfolded value is the prefixed original.
func TestHeaderChangeOnLongLine(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "prefix", Wasm: watModule(t, prefixWAT)})
	words := strings.Repeat("word ", 299) + "word" // 1499 bytes
	for _, subject := range []string{
		"short\r\n " + words,      // a long continuation line
		words,                     // a long first line
		strings.Repeat("w", 1500), // one long word: no fold point
		"x\r\n " + strings.Repeat("w", 1500) + " " + words,
	} {
		st := stateAt(t, filter.Data)
		m, err := message.Parse([]byte("From: a@example.org\r\nSubject: "+subject+"\r\n\r\nbody\r\n"), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st.Msg = m
		v, err := p.Call(context.Background(), st)
		if err != nil || v != filter.Continue {
			t.Fatalf("subject %.40q: %v, %v", subject, v, err)
		}
		f := st.Msg.Fields[st.Msg.Find([]byte("Subject"), 0)]
		if got, want := unfolded(f.Value()), unfolded([]byte("[EXT] "+subject)); !bytes.Equal(got, want) {
			t.Fatalf("unfolded subject %.80q, want %.80q", got, want)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(f.Raw, []byte("\r\n")), []byte("\r\n")) {
			if len(line) > message.MaxLine && bytes.ContainsAny(bytes.TrimSpace(line[len("Subject:"):]), " \t") {
				t.Fatalf("a %d-byte line with a fold point: %.60q", len(line), line)
			}
		}
		// The 2000-byte word is written whole: no folding can shorten it,
		// and it is no plugin error.
		w := st.Msg.Fields[st.Msg.Find([]byte("X-Word"), 0)]
		if string(w.Value()) != strings.Repeat("w", 2000) {
			t.Fatalf("X-Word %.40q", w.Value())
		}
	}
}

func unfolded(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), nil) }
