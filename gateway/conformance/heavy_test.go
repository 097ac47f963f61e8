package conformance

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// The two vectors of sdk/CONFORMANCE.md §3 about guest memory. Both load
// the probe with a pool of one instance, so every call runs in the same
// instance and Stats().IdleMemory is that instance's linear memory.

func heavyVectors() []vector {
	return []vector{
		{"probe/body-10MiB", probeBigBody},
		{"probe/memory-flat", probeMemoryFlat},
	}
}

const (
	bigBody      = 10 << 20 // bytes
	bigBodyGrow  = 4 << 20  // the guest's memory must grow by less
	flatMessages = 10000
	flatWarmUp   = 100
	pageSize     = 64 << 10
)

// heavySize is n, or n/divisor under the race detector (see race_test.go).
// Only the 10,000-message vector is reduced: the 10 MiB body costs little
// under -race, because the guest's code is not instrumented.
func heavySize(n, divisor int) int {
	if raceEnabled {
		return n / divisor
	}
	return n
}

// probeBigBody: a 10 MiB body is read in chunks, never whole: it is hashed
// correctly while the guest's memory grows by less than 4 MiB.
func probeBigBody(t *testing.T, r rig) {
	size := bigBody
	p := loadProbe(t, r, wasmhost.Spec{MaxIdle: 1})
	before := p.Stats()
	if before.Idle != 1 {
		t.Fatalf("pool after Load: %+v", before)
	}
	body := bodyOfSize(size)
	raw := messageOf(simpleFields, string(body))
	st, out := dataOnly(t, chainOf(entry(p, filter.OnErrorTempfail)), raw)
	expect(t, "data", out, filter.Continue, "")
	expectTags(t, "data", st.Tags, probeDataTags(simpleFields, body, nil))
	if got, want := st.Msg.Bytes(), probeAdded(r.name, simpleFields, string(body)); !bytes.Equal(got, want) {
		t.Errorf("message differs (%d bytes, want %d)", len(got), len(want))
	}
	after := p.Stats()
	if after.Idle != 1 {
		t.Fatalf("pool after the call: %+v", after)
	}
	grew := int64(after.IdleMemory) - int64(before.IdleMemory)
	t.Logf("%s: guest memory %d KiB before, %d KiB after a %d-byte body", r.name, before.IdleMemory>>10, after.IdleMemory>>10, size)
	if grew >= bigBodyGrow {
		t.Errorf("guest memory grew by %d bytes reading a %d-byte body; want less than %d", grew, size, bigBodyGrow)
	}
}

// probeMemoryFlat: 10,000 messages (mail, rcpt, data) through one pooled
// instance. After a warm-up of 100 the guest's memory must not grow by more
// than one 64 KiB page over the rest: no leak per message.
//
// The warm-up messages carry 128 extra fields of 900 bytes, so that each
// runtime reaches its steady state within 100 messages: every language's
// buffers reach their largest size, and a garbage collector has run. Go's
// first collection waits until its heap reaches 4 MB; with small messages
// alone that takes about 12,000 of them, and the heap's growth until then
// would look like a leak.
func probeMemoryFlat(t *testing.T, r rig) {
	n := heavySize(flatMessages, 5)
	p := loadProbe(t, r, wasmhost.Spec{MaxIdle: 1})
	c := chainOf(entry(p, filter.OnErrorTempfail))
	body := string(bodyOfSize(1024))
	raw := messageOf(headerFields, body)
	warm := messageOf(append(padFields(128, 900), headerFields...), body)
	var base, peak uint64
	ok := func(i int, phase string, out filter.Outcome) {
		if out.Verdict != filter.Continue || len(out.Steps) != 1 || out.Steps[0].Err != nil {
			t.Fatalf("message %d, %s: verdict %v%s", i, phase, out.Verdict, stepErrors(out))
		}
	}
	var last *session
	for i := 0; i < n; i++ {
		msg := raw
		if i < flatWarmUp {
			msg = warm
		} else if i == flatWarmUp {
			base = p.Stats().IdleMemory
		}
		s := newSessionRun(t, c)
		ok(i, "mail", s.mail("alice@example.org"))
		ok(i, "rcpt", s.rcpt("bob@example.net"))
		ok(i, "data", s.data(msg))
		if i >= flatWarmUp {
			peak = max(peak, p.Stats().IdleMemory)
		}
		last = s
	}
	want := probeDataTags(headerFields, []byte(body), nil)
	want["probe.mail"], want["probe.rcpt.count"] = "alice@example.org", "0"
	expectTags(t, "last message", last.st.Tags, want)
	st := p.Stats()
	if st.Idle != 1 {
		t.Fatalf("pool after %d messages: %+v (an instance was replaced)", n, st)
	}
	t.Logf("%s: guest memory %d KiB after a warm-up of %d messages, %d KiB peak over the next %d",
		r.name, base>>10, flatWarmUp, peak>>10, n-flatWarmUp)
	if peak > base+pageSize {
		t.Errorf("guest memory grew from %d to %d bytes over %d messages after the warm-up; want at most one 64 KiB page",
			base, peak, n-flatWarmUp)
	}
}

// padFields returns n fields "X-Pad: " with values of size bytes.
func padFields(n, size int) []field {
	out := make([]field, n)
	for i := range out {
		v := strings.Repeat(string(rune('A'+i%26)), size)
		out[i] = field{"X-Pad: " + v + "\r\n", "X-Pad", v}
	}
	return out
}
