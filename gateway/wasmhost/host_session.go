package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"unicode/utf16"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// maxConfLogs is how many log lines of sluice_configure are kept for the
// LoadError.
const maxConfLogs = 8

// hostLog implements log(level, ptr, len) (sdk/ABI.md §4.1).
func hostLog(cs *callState, s []uint64) {
	var lvl slog.Level
	switch api.DecodeI32(s[0]) {
	case abi.LogDebug:
		lvl = slog.LevelDebug
	case abi.LogInfo:
		lvl = slog.LevelInfo
	case abi.LogWarn:
		lvl = slog.LevelWarn
	case abi.LogError:
		lvl = slog.LevelError
	default:
		cs.fail("log level %d is not 0 (debug), 1 (info), 2 (warn) or 3 (error)", api.DecodeI32(s[0]))
	}
	b := cs.read(s[1], s[2], "log text")
	if len(b) > abi.MaxLogText {
		b = b[:abi.MaxLogText]
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	enabled := cs.p.log.Enabled(context.Background(), lvl)
	if !enabled && cs.st != nil {
		return // filtered out before the text is copied: a hook's debug lines
	}
	text := escapeLog(b)
	if cs.st == nil {
		if len(cs.logs) < maxConfLogs {
			cs.logs = append(cs.logs, text)
		}
	}
	if !enabled || !cs.p.logs.allow(len(text)) {
		return // filtered out, or over the plugin's log rate (loglimit.go)
	}
	if cs.st == nil {
		cs.p.log.Log(context.Background(), lvl, text, "hook", cs.hook)
		return
	}
	cs.p.log.Log(context.Background(), lvl, text,
		"phase", cs.st.Phase.String(), "session", sessionID(cs.st))
}

func sessionID(st *filter.State) string {
	if st.Session == nil {
		return ""
	}
	return st.Session.ID
}

// escapeLog makes plugin text safe for one log line: control characters
// become \n, \r, \t or \xNN (sdk/ABI.md §4.1).
func escapeLog(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	for _, c := range b {
		switch {
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		case c < 0x20 || c == 0x7f:
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// hostConfig implements config(buf, cap) -> len (sdk/ABI.md §4.1).
func hostConfig(cs *callState, s []uint64) {
	s[0] = cs.outBytes(s[0], s[1], cs.p.config)
}

// hostInfo implements info(key_ptr, key_len, buf, cap) -> len | NOT_FOUND
// (sdk/ABI.md §4.2; contract.Call.Info).
func hostInfo(cs *callState, s []uint64) {
	v, ok := cs.c.Info(string(cs.read(s[0], s[1], "info key")))
	s[0] = cs.outOr(s[2], s[3], v, ok)
}

// hostRcptCount implements rcpt_count() -> n (sdk/ABI.md §4.2).
func hostRcptCount(cs *callState, s []uint64) { s[0] = count(cs.c.RcptCount()) }

// hostRcptGet implements rcpt_get(index, buf, cap) -> len | NOT_FOUND.
func hostRcptGet(cs *callState, s []uint64) {
	r, ok := cs.c.Rcpt(index(s[0]))
	s[0] = cs.outOr(s[1], s[2], r, ok)
}

// hostTagGet implements tag_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND.
func hostTagGet(cs *callState, s []uint64) {
	v, ok, err := cs.c.Tag(cs.read(s[0], s[1], "tag key"))
	cs.check(err)
	s[0] = cs.outOr(s[2], s[3], v, ok)
}

// hostTagSet implements tag_set(key_ptr, key_len, val_ptr, val_len) -> 0.
func hostTagSet(cs *callState, s []uint64) {
	s[0] = cs.done(cs.c.SetTag(cs.read(s[0], s[1], "tag key"), cs.read(s[2], s[3], "tag value")))
}

// hostSetReply implements set_reply(code, enh_ptr, enh_len, text_ptr,
// text_len) -> 0 (sdk/ABI.md §4.7). Whether the reply matches the verdict
// is checked when the hook returns (contract.Call.Result).
func hostSetReply(cs *callState, s []uint64) {
	enh, text := cs.read(s[1], s[2], "enhanced status code"), cs.read(s[3], s[4], "reply text")
	s[0] = cs.done(cs.c.SetReply(int(api.DecodeI32(s[0])), enh, text))
}

// envAbortFunc is env.abort(msg, file, line, col) (sdk/ABI.md §6), which
// AssemblyScript calls on a failed assertion or a runtime error. It traps,
// with the message.
func envAbortFunc() hostFunc {
	return hostFunc{name: envAbortName, params: 4, fn: func(cs *callState, s []uint64) {
		msg := asString(cs.mem, api.DecodeU32(s[0]))
		file := asString(cs.mem, api.DecodeU32(s[1]))
		cs.fail("plugin aborted: %s (%s:%d:%d)", msg, file, api.DecodeU32(s[2]), api.DecodeU32(s[3]))
	}}
}

const (
	envModule    = "env"
	envAbortName = "abort"
)

// asString decodes an AssemblyScript string: UTF-16LE, its byte length in
// the 4 bytes before ptr. Bad pointers give "?": abort traps anyway.
func asString(mem api.Memory, ptr uint32) string {
	if ptr < 4 {
		return "?"
	}
	n, ok := mem.ReadUint32Le(ptr - 4)
	if !ok {
		return "?"
	}
	n = min(n, 1024) &^ 1
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "?"
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return escapeLog([]byte(string(utf16.Decode(u))))
}
