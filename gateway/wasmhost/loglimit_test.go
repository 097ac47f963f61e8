package wasmhost

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// floodWAT logs 50,000 lines with log and 50,000 with WASI stdout in one
// data call, then returns continue.
const floodWAT = `(module
  (import "sluice" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "flood-log-line flood-log-line flood-log-line flood-log-line flood-log-line")
  (data (i32.const 200) "\2c\01\00\00\14\00\00\00") ;; iovec {ptr 300, len 20}
  (data (i32.const 300) "flood-stdout-line..\0a")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (local $i i32)
    (loop $again
      (call $log (i32.const 1) (i32.const 0) (i32.const 74))
      (drop (call $fd_write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 400)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 50000))))
    (i32.const 0)))`

// TestLogRateLimit: a plugin that logs in a loop for its whole call gets
// at most the burst plus the rate of lines into the gateway log, the rest
// is summarised in one line, and the call itself succeeds.
func TestLogRateLimit(t *testing.T) {
	e, logs := newEngine(t)
	p := load(t, e, Spec{Name: "flood", Wasm: watModule(t, floodWAT), Timeout: 20 * time.Second})
	start := time.Now()
	if v, err := p.Call(context.Background(), stateAt(t, filter.Data)); err != nil || v != filter.Continue {
		t.Fatalf("Call = %v, %v; want continue: the rate limit must not fail the call", v, err)
	}
	elapsed := time.Since(start)
	p.Close(context.Background()) // writes the pending summary now
	out := logs.String()
	written := floodLines(out)
	// One summary a second at most (the call may outlast one under -race).
	summaries := regexp.MustCompile(`plugin flood: dropped (\d+) lines \((\d+) bytes\) in the last`).FindAllStringSubmatch(out, -1)
	dropped := 0
	for _, m := range summaries {
		n, _ := strconv.Atoi(m[1])
		dropped += n
	}
	if len(summaries) == 0 || len(summaries) > int(elapsed/logDropReport)+1 {
		t.Errorf("%d summary lines in %v; want one per second of drops", len(summaries), elapsed)
	}
	if written+dropped != 100000 {
		t.Errorf("%d lines written + %d dropped; want the 100000 the plugin wrote", written, dropped)
	}
	if max := logLineBurst + int(elapsed.Seconds()*logLinesPerSecond) + 1; written > max {
		t.Errorf("%d lines written in %v; want at most %d", written, elapsed, max)
	}
	if n := len(out); n > 256<<10 {
		t.Errorf("the log grew by %d bytes for one call", n)
	}
	t.Logf("call %v: %d lines written, %d dropped, %d bytes of log", elapsed, written, dropped, len(out))
}

// TestLogLimiterRefills: tokens come back at the rate, and a summary is
// written once per burst of drops.
func TestLogLimiterRefills(t *testing.T) {
	e, logs := newEngine(t)
	now := time.Unix(0, 0)
	l := newLogLimiter(e.log, "p")
	l.now = func() time.Time { return now }
	l.report = time.Hour // flushed by hand below
	for i := range logLineBurst {
		if !l.allow(10) {
			t.Fatalf("line %d of the burst refused", i)
		}
	}
	if l.allow(10) {
		t.Fatal("line past the burst allowed")
	}
	now = now.Add(100 * time.Millisecond) // 10 lines' worth
	for i := range 10 {
		if !l.allow(10) {
			t.Fatalf("refilled line %d refused", i)
		}
	}
	if l.allow(10) {
		t.Fatal("line past the refill allowed")
	}
	if l.allow(logByteBurst + 1) {
		t.Fatal("a line larger than the byte burst allowed")
	}
	l.flush()
	if want := "plugin p: dropped 3 lines (131093 bytes) in the last 100ms"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// TestLogRateLimitWholeCall: a plugin that logs until its deadline (1 s)
// writes at most the burst plus one second of the rate to the log.
func TestLogRateLimitWholeCall(t *testing.T) {
	e, logs := newEngine(t)
	forever := strings.Replace(floodWAT, "(i32.const 50000)", "(i32.const 0x7fffffff)", 1)
	p := load(t, e, Spec{Name: "flood", Wasm: watModule(t, forever), Timeout: time.Second})
	start := time.Now()
	_, err := p.Call(context.Background(), stateAt(t, filter.Data))
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not return within") {
		t.Fatalf("Call error = %v; want the deadline", err)
	}
	p.Close(context.Background()) // writes the pending summary now
	out := logs.String()
	written := floodLines(out)
	if max := logLineBurst + int(elapsed.Seconds()*logLinesPerSecond) + 1; written > max {
		t.Errorf("%d lines written in %v; want at most %d", written, elapsed, max)
	}
	if !strings.Contains(out, "plugin flood: dropped ") {
		t.Error("no summary of the dropped lines")
	}
	if n := len(out); n > 256<<10 {
		t.Errorf("the log grew by %d bytes for one call", n)
	}
	t.Logf("call %v: %d lines written, %d bytes of log", elapsed, written, len(out))
}

// floodLines counts the flooding plugin's log and stdout lines in out.
func floodLines(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "flood-log-line") || strings.Contains(line, "flood-stdout-line") {
			n++
		}
	}
	return n
}
