package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// lazyAttrs is a slog.Handler that defers WithAttrs and WithGroup until a
// record is handled. The text and JSON handlers format the attributes of
// every With at once; each session derives a logger with its id and
// client, and most sessions log nothing at the usual levels, so that
// formatting was paid for nothing on every connection (RATIONALE.md,
// "Session loggers format their attributes only when they log").
type lazyAttrs struct {
	base  slog.Handler
	steps []logStep // applied to base in order

	once  sync.Once
	built slog.Handler
}

// logStep is one deferred WithAttrs (attrs) or WithGroup (group).
type logStep struct {
	group string
	attrs []slog.Attr
}

func newLazyAttrs(h slog.Handler) *lazyAttrs { return &lazyAttrs{base: h} }

func (h *lazyAttrs) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

// handler applies the deferred steps once.
func (h *lazyAttrs) handler() slog.Handler {
	h.once.Do(func() {
		b := h.base
		for _, s := range h.steps {
			if s.attrs != nil {
				b = b.WithAttrs(s.attrs)
			} else {
				b = b.WithGroup(s.group)
			}
		}
		h.built = b
	})
	return h.built
}

func (h *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(logStep{attrs: slices.Clone(attrs)})
}

func (h *lazyAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(logStep{group: name})
}

func (h *lazyAttrs) with(s logStep) *lazyAttrs {
	steps := make([]logStep, len(h.steps), len(h.steps)+1)
	copy(steps, h.steps)
	return &lazyAttrs{base: h.base, steps: append(steps, s)}
}
