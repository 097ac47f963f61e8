package wasmhost

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// TestMessageGrowthLimit: a plugin cannot leave the message larger than the
// listener's max_message_size (Spec.MaxMessageSize, sdk/ABI.md §7). A
// message of exactly the limit passes; one 100-byte field or line more is
// a plugin error, rolled back, and on_error applies; a loop that never
// stops is stopped long before its deadline.
func TestMessageGrowthLimit(t *testing.T) {
	e, _ := newEngine(t)
	const lines = 1000 // 100 bytes each: the limit stays above received + MessageGrowthAllowance
	limit := int64(len(testMessage) + 100*lines)
	p := load(t, e, Spec{Name: "grow", Wasm: module(t, "grow"), MaxMessageSize: limit, Timeout: 10 * time.Second})
	run := func(t *testing.T, mode, n string) (*filter.State, filter.Outcome, []error) {
		t.Helper()
		st := stateAt(t, filter.Data)
		st.Tags["mode"] = mode
		if n != "" {
			st.Tags["n"] = n
		}
		chain := &filter.Chain{Entries: []filter.Entry{{Name: "grow", Plugin: p, OnError: filter.OnErrorContinue}}}
		out := chain.Run(context.Background(), st)
		return st, out, stepErrors(out)
	}
	for _, mode := range []string{"h", "b"} {
		t.Run(mode+" at the limit", func(t *testing.T) {
			st, out, faults := run(t, mode, strconv.Itoa(lines))
			if out.Verdict != filter.Continue || len(faults) != 0 {
				t.Fatalf("outcome %v, faults %v; want continue without fault", out.Verdict, faults)
			}
			if got := int64(st.Msg.Size()); got != limit {
				t.Fatalf("message is %d bytes, want exactly the limit %d", got, limit)
			}
		})
		for _, n := range []string{strconv.Itoa(lines + 1), ""} { // "": loop until stopped
			t.Run(mode+" past the limit "+n, func(t *testing.T) {
				start := time.Now()
				st, out, faults := run(t, mode, n)
				if len(faults) != 1 || !containsAny(faults[0].Error(), "may be at most|more than 262144 bytes of header fields") {
					t.Fatalf("faults = %v; want one size error", faults)
				}
				if out.Verdict != filter.Continue {
					t.Errorf("verdict %v; want on_error continue", out.Verdict)
				}
				if got := string(st.Msg.Bytes()); got != testMessage {
					t.Errorf("message after the fault is %d bytes; want it unchanged", len(got))
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("the call took %v; it should stop at the limit, not the 10s deadline", d)
				}
			})
		}
	}
}

// TestMessageGrowthAllowance: a message received near the limit may still
// grow by MessageGrowthAllowance (trace and signature fields), no more.
func TestMessageGrowthAllowance(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "grow", Wasm: module(t, "grow"), MaxMessageSize: int64(len(testMessage))})
	for n, ok := range map[int]bool{MessageGrowthAllowance / 100: true, MessageGrowthAllowance/100 + 1: false} {
		st := stateAt(t, filter.Data)
		st.Tags["mode"], st.Tags["n"] = "h", strconv.Itoa(n)
		_, err := p.Call(context.Background(), st)
		if (err == nil) != ok {
			t.Errorf("%d fields of 100 bytes on a message at the limit: error %v; want ok=%v", n, err, ok)
		}
	}
}
