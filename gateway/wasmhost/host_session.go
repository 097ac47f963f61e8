package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"unicode/utf16"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// Limits of sdk/ABI.md §4.1, §4.3 and §4.7.
const (
	maxLogText   = 4096
	maxTagKey    = 64
	maxTagValue  = 1024
	maxReplyText = 400
	maxConfLogs  = 8 // log lines of sluice_configure kept for the LoadError
)

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
	if len(b) > maxLogText {
		b = b[:maxLogText]
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	text := escapeLog(b)
	if cs.st == nil {
		if len(cs.logs) < maxConfLogs {
			cs.logs = append(cs.logs, text)
		}
	}
	if !cs.p.log.Enabled(context.Background(), lvl) || !cs.p.logs.allow(len(text)) {
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
// (sdk/ABI.md §4.2). Keys not available in the current phase, or during
// sluice_configure, are NOT_FOUND.
func hostInfo(cs *callState, s []uint64) {
	key := cs.read(s[0], s[1], "info key")
	switch string(key) { // fixed for the plugin: also in sluice_configure
	case abi.InfoPlugin:
		s[0] = cs.out(s[2], s[3], cs.p.name)
		return
	case abi.InfoDKIMKeys:
		if v := cs.p.dkimKeyList(); v != "" {
			s[0] = cs.out(s[2], s[3], v)
		} else {
			s[0] = notFound
		}
		return
	}
	st := cs.st
	if st == nil || st.Session == nil {
		s[0] = notFound
		return
	}
	sess := st.Session
	var v string
	ok := true
	switch string(key) {
	case abi.InfoSessionID:
		v = sess.ID
	case abi.InfoClientIP:
		ok = sess.ClientIP.IsValid()
		if ok {
			v = sess.ClientIP.String()
		}
	case abi.InfoClientPort:
		v = strconv.Itoa(sess.ClientPort)
	case abi.InfoClientName:
		v, ok = sess.ClientName, sess.ClientName != ""
	case abi.InfoHelo:
		v, ok = sess.Helo, st.Phase >= filter.Helo
	case abi.InfoTLS:
		v, ok = sess.TLSVersion, sess.TLSVersion != ""
	case abi.InfoTLSCipher:
		v, ok = sess.TLSCipher, sess.TLSVersion != "" && sess.TLSCipher != ""
	case abi.InfoHostname:
		v = sess.Hostname
	case abi.InfoPhase:
		v = st.Phase.String()
	case abi.InfoMailFrom:
		v, ok = st.From, st.Phase >= filter.Mail
	case abi.InfoMailParams:
		v, ok = st.MailParams, st.Phase >= filter.Mail
	case abi.InfoRcpt:
		v, ok = st.Rcpt, st.Phase == filter.Rcpt
	case abi.InfoRcptParams:
		v, ok = st.RcptParams, st.Phase == filter.Rcpt
	case abi.InfoQueueID:
		v, ok = st.QueueID, st.Phase >= filter.Mail && st.QueueID != ""
	case abi.InfoAuthUser:
		v, ok = sess.AuthUser, sess.AuthUser != ""
	default:
		ok = false
	}
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = cs.out(s[2], s[3], v)
}

// hostRcptCount implements rcpt_count() -> n (sdk/ABI.md §4.2).
func hostRcptCount(cs *callState, s []uint64) {
	if cs.st == nil {
		s[0] = notFound
		return
	}
	s[0] = api.EncodeI32(int32(len(cs.st.Rcpts)))
}

// hostRcptGet implements rcpt_get(index, buf, cap) -> len | NOT_FOUND.
func hostRcptGet(cs *callState, s []uint64) {
	i := api.DecodeI32(s[0])
	if cs.st == nil || i < 0 || int(i) >= len(cs.st.Rcpts) {
		s[0] = notFound
		return
	}
	s[0] = cs.out(s[1], s[2], cs.st.Rcpts[i])
}

// validTagKey reports 1 to 64 bytes of [A-Za-z0-9_.-] (sdk/ABI.md §4.3).
func validTagKey(k []byte) bool {
	if len(k) == 0 || len(k) > maxTagKey {
		return false
	}
	for _, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

func (cs *callState) tagKey(ptr, n uint64) []byte {
	k := cs.read(ptr, n, "tag key")
	if !validTagKey(k) {
		cs.fail("tag key %q must be 1 to %d bytes of A-Z a-z 0-9 _ . -", truncate(k, 80), maxTagKey)
	}
	return k
}

// hostTagGet implements tag_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND.
func hostTagGet(cs *callState, s []uint64) {
	k := cs.tagKey(s[0], s[1])
	if cs.st == nil {
		s[0] = notFound
		return
	}
	v, ok := cs.st.Tag(string(k))
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = cs.out(s[2], s[3], v)
}

// hostTagSet implements tag_set(key_ptr, key_len, val_ptr, val_len) -> 0.
// Values are at most 1024 bytes without CR, LF or NUL.
func hostTagSet(cs *callState, s []uint64) {
	if cs.st == nil {
		cs.fail("not allowed in %s (there is no session yet)", cs.hook)
	}
	k := cs.tagKey(s[0], s[1])
	v := cs.read(s[2], s[3], "tag value")
	if len(v) > maxTagValue {
		cs.fail("tag value is %d bytes; at most %d are allowed", len(v), maxTagValue)
	}
	for _, c := range v {
		if c == '\r' || c == '\n' || c == 0 {
			cs.fail("tag value contains CR, LF or NUL")
		}
	}
	cs.st.SetTag(string(k), string(v))
	s[0] = 0
}

// hostSetReply implements set_reply(code, enh_ptr, enh_len, text_ptr,
// text_len) -> 0 (sdk/ABI.md §4.7). The reply is validated here; whether it
// matches the verdict is checked by filter.Chain.
func hostSetReply(cs *callState, s []uint64) {
	if cs.st == nil {
		cs.fail("not allowed in %s (there is no command to reply to)", cs.hook)
	}
	code := int(api.DecodeI32(s[0]))
	if code < 400 || code > 599 {
		cs.fail("reply code %d is not between 400 and 599", code)
	}
	enh := cs.read(s[1], s[2], "enhanced status code")
	var enhanced string
	if len(enh) == 0 {
		enhanced = strconv.Itoa(code/100) + ".0.0"
	} else {
		enhanced = string(enh)
		if !smtp.ValidEnhanced(enhanced, code) {
			cs.fail("enhanced status code %q is not class.subject.detail with class %d (RFC 3463)",
				truncate(enh, 20), code/100)
		}
	}
	text := cs.read(s[3], s[4], "reply text")
	if len(text) == 0 || len(text) > maxReplyText {
		cs.fail("reply text is %d bytes; it must be 1 to %d", len(text), maxReplyText)
	}
	for _, c := range text {
		if c < 0x20 || c > 0x7e {
			cs.fail("reply text contains byte 0x%02x; only printable ASCII and space are allowed", c)
		}
	}
	cs.st.Reply = smtp.NewReply(code, enhanced, string(text))
	s[0] = 0
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

// truncate shortens b for an error message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
