package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
)

// maxOutputLine bounds one line of a plugin's stdout or stderr; the rest of
// a longer line is dropped.
const maxOutputLine = 4096

// lineWriter sends a plugin's WASI stdout or stderr to the log, one record
// per line, tagged with the plugin's name (sdk/ABI.md §6). One instance
// writes to it at a time.
type lineWriter struct {
	log       *slog.Logger
	lim       *logLimiter // the plugin's log rate limit
	stream    string
	buf       []byte
	truncated bool

	// capture keeps the first lines written while set, so a start-up
	// failure can quote them (a Go plugin explains itself on stderr).
	capture  bool
	captured []string
}

// maxCaptured bounds the lines kept while capturing.
const maxCaptured = 4

func newLineWriter(log *slog.Logger, lim *logLimiter, stream string) *lineWriter {
	return &lineWriter{log: log, lim: lim, stream: stream}
}

// stopCapture ends capturing and returns the captured lines, including a
// pending partial line.
func (w *lineWriter) stopCapture() []string {
	if len(w.buf) > 0 {
		w.emit()
	}
	lines := w.captured
	w.capture, w.captured = false, nil
	return lines
}

// Write buffers b and logs every complete line. It never fails: a plugin's
// output must not make its call fail.
func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := maxOutputLine - len(w.buf); len(chunk) > room {
			chunk = chunk[:room]
			w.truncated = true
		}
		w.buf = append(w.buf, chunk...)
		if i < 0 {
			break
		}
		w.emit()
		b = b[i+1:]
	}
	return n, nil
}

// Flush logs a pending partial line.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 || w.truncated {
		w.emit()
	}
}

func (w *lineWriter) emit() {
	line := escapeLog(bytes.TrimSuffix(w.buf, []byte("\r")))
	lvl := slog.LevelInfo
	if w.stream == "stderr" {
		lvl = slog.LevelWarn
	}
	if w.capture && len(w.captured) < maxCaptured {
		w.captured = append(w.captured, line)
	}
	switch {
	case !w.log.Enabled(context.Background(), lvl) || !w.lim.allow(len(line)):
		// filtered out, or over the plugin's log rate (loglimit.go)
	case w.truncated:
		w.log.Log(context.Background(), lvl, line, "stream", w.stream, "truncated", true)
	default:
		w.log.Log(context.Background(), lvl, line, "stream", w.stream)
	}
	w.buf, w.truncated = w.buf[:0], false
}
