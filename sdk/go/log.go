package sluice

import "fmt"

// Logf formats and logs a line at level. Formatting allocates: keep it off
// paths that run for every message unless the line is needed.
func Logf(h Host, level LogLevel, format string, args ...any) {
	h.Log(level, fmt.Sprintf(format, args...))
}

// Debugf logs at debug level.
func Debugf(h Host, format string, args ...any) { Logf(h, LevelDebug, format, args...) }

// Infof logs at info level.
func Infof(h Host, format string, args ...any) { Logf(h, LevelInfo, format, args...) }

// Warnf logs at warn level.
func Warnf(h Host, format string, args ...any) { Logf(h, LevelWarn, format, args...) }

// Errorf logs at error level. It does not return an error.
func Errorf(h Host, format string, args ...any) { Logf(h, LevelError, format, args...) }
