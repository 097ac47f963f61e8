package wasmhost

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// The log rate limit of one plugin (sdk/ABI.md §4.1, §6): a token bucket of
// lines and one of bytes, shared by log and WASI stdout/stderr of all its
// instances. The burst lets a plugin explain a failure in a few dozen
// lines; the rate keeps a plugin that logs in a loop from filling the
// gateway's disk (one message once produced 80 MB of log).
const (
	logLinesPerSecond = 100
	logLineBurst      = 200
	logBytesPerSecond = 64 << 10
	logByteBurst      = 128 << 10 // above the longest escaped line (4 x 4096)
	// logDropReport is how long after the first dropped line the dropped
	// lines are summarised, in one line.
	logDropReport = time.Second
)

// logLimiter decides which plugin log lines are written. Safe for
// concurrent use.
type logLimiter struct {
	log    *slog.Logger
	plugin string
	now    func() time.Time
	report time.Duration

	mu           sync.Mutex
	lines, bytes float64 // tokens
	last         time.Time
	dropLines    int
	dropBytes    int
	dropSince    time.Time
	timer        *time.Timer // pending summary, nil if none
}

func newLogLimiter(log *slog.Logger, plugin string) *logLimiter {
	return &logLimiter{log: log, plugin: plugin, now: time.Now, report: logDropReport,
		lines: logLineBurst, bytes: logByteBurst}
}

// allow takes one line of n bytes from the buckets and reports whether the
// line may be written. A refused line is counted for the summary.
func (l *logLimiter) allow(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		dt := now.Sub(l.last).Seconds()
		l.lines = min(logLineBurst, l.lines+dt*logLinesPerSecond)
		l.bytes = min(logByteBurst, l.bytes+dt*logBytesPerSecond)
	}
	l.last = now
	if l.lines >= 1 && l.bytes >= float64(n) {
		l.lines--
		l.bytes -= float64(n)
		return true
	}
	if l.dropLines == 0 {
		l.dropSince = now
	}
	l.dropLines++
	l.dropBytes += n
	if l.timer == nil {
		l.timer = time.AfterFunc(l.report, l.flush)
	}
	return false
}

// flush writes the summary of the dropped lines, if any.
func (l *logLimiter) flush() {
	l.mu.Lock()
	n, b, since := l.dropLines, l.dropBytes, l.dropSince
	l.dropLines, l.dropBytes = 0, 0
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	now := l.now()
	l.mu.Unlock()
	if n == 0 {
		return
	}
	d := now.Sub(since).Round(time.Millisecond)
	l.log.Warn(fmt.Sprintf("plugin %s: dropped %d lines (%d bytes) in the last %v", l.plugin, n, b, d),
		"dropped_lines", n, "dropped_bytes", b, "reason", "log rate limit")
}
