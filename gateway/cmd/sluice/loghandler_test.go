package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
)

// The lazy handler writes exactly what the handler it wraps writes, through
// any mix of With, WithGroup and levels.
func TestLazyAttrsSameOutput(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var plain, lazy bytes.Buffer
			mk := func(w *bytes.Buffer) slog.Handler {
				opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: noTime}
				if format == "json" {
					return slog.NewJSONHandler(w, opts)
				}
				return slog.NewTextHandler(w, opts)
			}
			for _, l := range []*slog.Logger{slog.New(mk(&plain)), slog.New(newLazyAttrs(mk(&lazy)))} {
				s := l.With("session", "abc123", "client", "192.0.2.1")
				s.Debug("not written", "n", 1)
				s.Info("connect", "helo", "mx.example")
				g := s.WithGroup("plugin").With("name", "tag")
				g.Warn("slow", "ms", 12)
				g.WithGroup("").With().Error("fault", "err", "trap")
				s.Info("again")
			}
			if plain.String() != lazy.String() {
				t.Fatalf("outputs differ:\nplain:\n%s\nlazy:\n%s", plain.String(), lazy.String())
			}
			if bytes.Count(lazy.Bytes(), []byte("\n")) != 4 {
				t.Fatalf("want 4 lines, got:\n%s", lazy.String())
			}
		})
	}
}

// noTime drops the record's time, so two runs write the same bytes.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// countingValue counts how often a handler resolves it.
type countingValue struct{ n *int }

func (v countingValue) LogValue() slog.Value { *v.n++; return slog.StringValue("v") }

// A logger derived with attributes formats nothing until it writes a
// record; the handlers it wraps format at With.
func TestLazyAttrsFormatsNothingUnlogged(t *testing.T) {
	var buf bytes.Buffer
	text := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	n := 0
	slog.New(text).With("v", countingValue{&n})
	if n != 1 {
		t.Fatalf("the text handler resolved the attribute %d times at With, want 1 (the premise of lazyAttrs)", n)
	}
	n = 0
	l := slog.New(newLazyAttrs(text)).With("v", countingValue{&n})
	l.Info("below the level")
	if n != 0 || buf.Len() != 0 {
		t.Fatalf("resolved %d times, wrote %q before any record was written", n, buf.String())
	}
	l.Warn("written")
	l.Warn("written again")
	if n != 1 {
		t.Fatalf("resolved %d times after two records, want once", n)
	}
	if !l.Enabled(context.Background(), slog.LevelWarn) || l.Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("Enabled does not follow the wrapped handler's level")
	}
}
