package sluicetest

import (
	"bytes"
	"fmt"
	"io"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// host is the sluice.Host a hook receives: the gateway's plugin contract
// (gateway/contract) over the Session's filter.State, valid for one call.
// Every rule (limits, phases, addresses, header syntax) is the contract's;
// host only turns its misuse errors into traps and records effects.
type host struct {
	s    *Session
	c    *contract.Call
	live bool

	scanLast *scan.Result // the last Scan result of the call, for ScanValue
}

var _ sluice.Host = (*host)(nil)

// trap is the panic value of a misused host function; Session.Run turns it
// into Result.Err, as the real host turns a trap into a plugin error.
type trap struct{ reason string }

func (t trap) Error() string { return t.reason }

func trapf(format string, args ...any) {
	panic(trap{fmt.Sprintf(format, args...)})
}

// check traps on a contract misuse; the message names the host function.
func check(err error) {
	if err != nil {
		panic(trap{err.Error()})
	}
}

// found traps on a contract misuse and returns ok.
func found(ok bool, err error) bool {
	check(err)
	return ok
}

// call checks that the hook is still running and returns the contract.
func (h *host) call(fn string) *contract.Call {
	h.enter(fn)
	return h.c
}

// effectIf records an effect when changed, and returns changed.
func (h *host) effectIf(changed bool, format string, args ...any) bool {
	if changed {
		h.effect(format, args...)
	}
	return changed
}

// enter checks that the hook is still running; a plugin that keeps its Host
// and uses it later (from a goroutine, say) fails loudly.
func (h *host) enter(fn string) *Session {
	if !h.live {
		panic("sluicetest: " + fn + " called on a Host after its hook returned")
	}
	return h.s
}

func (h *host) effect(format string, args ...any) {
	h.s.effects = append(h.s.effects, fmt.Sprintf(format, args...))
}

func (h *host) Log(level sluice.LogLevel, msg string) {
	s := h.enter(abi.FnLog)
	if level < sluice.LevelDebug || level > sluice.LevelError {
		trapf("log: log level %d is not 0 (debug), 1 (info), 2 (warn) or 3 (error)", level)
	}
	if len(msg) > abi.MaxLogText {
		msg = msg[:abi.MaxLogText]
	}
	s.logs = append(s.logs, LogLine{Level: level, Text: msg})
}

func (h *host) Config() []byte { return bytes.Clone(h.enter(abi.FnConfig).config) }

func (h *host) Info(key string) (string, bool) {
	return h.call(abi.FnInfo).Info(key)
}

func (h *host) Tag(key string) (string, bool) {
	h.enter(abi.FnTagGet)
	v, ok, err := h.c.Tag([]byte(key))
	check(err)
	return v, ok
}

func (h *host) SetTag(key, value string) {
	check(h.call(abi.FnTagSet).SetTag([]byte(key), []byte(value)))
	h.effect("tag_set %q %q", key, value)
}

func (h *host) RcptCount() int {
	n, _ := h.call(abi.FnRcptCount).RcptCount()
	return n
}

func (h *host) Rcpt(i int) (string, bool) {
	return h.call(abi.FnRcptGet).Rcpt(i)
}

func (h *host) SetMailFrom(addr string) {
	h.needGrant(abi.FnMailSet, sluice.GrantEnvelope)
	check(h.c.SetMailFrom([]byte(addr)))
	h.effect("mail_set %q", addr)
}

func (h *host) AddRcpt(addr string) {
	h.needGrant(abi.FnRcptAdd, sluice.GrantEnvelope)
	check(h.c.AddRcpt([]byte(addr)))
	h.effect("rcpt_add %q", addr)
}

func (h *host) RemoveRcpt(addr string) bool {
	h.needGrant(abi.FnRcptRemove, sluice.GrantEnvelope)
	ok := found(h.call(abi.FnRcptRemove).RemoveRcpt([]byte(addr)))
	return h.effectIf(ok, "rcpt_remove %q", addr)
}

func (h *host) HeaderCount() int {
	n, _ := h.call(abi.FnHeaderCount).HeaderCount()
	return n
}

func (h *host) HeaderName(i int) (string, bool) {
	return h.call(abi.FnHeaderName).HeaderName(i)
}

func (h *host) HeaderValue(i int) (string, bool) {
	h.enter(abi.FnHeaderValue)
	v, ok := h.c.HeaderValue(i)
	return string(v), ok
}

func (h *host) FindHeader(name string, nth int) (int, bool) {
	return h.call(abi.FnHeaderFind).FindHeader([]byte(name), nth)
}

func (h *host) AddHeader(name, value string) {
	check(h.call(abi.FnHeaderAdd).AddHeader([]byte(name), []byte(value)))
	h.effect("header_add %q %q", name, value)
}

func (h *host) InsertHeader(i int, name, value string) bool {
	ok := found(h.call(abi.FnHeaderInsert).InsertHeader(i, []byte(name), []byte(value)))
	return h.effectIf(ok, "header_insert %d %q %q", i, name, value)
}

func (h *host) ChangeHeader(i int, value string) bool {
	ok := found(h.call(abi.FnHeaderChange).ChangeHeader(i, []byte(value)))
	return h.effectIf(ok, "header_change %d %q", i, value)
}

func (h *host) DeleteHeader(i int) bool {
	return h.effectIf(found(h.call(abi.FnHeaderDelete).DeleteHeader(i)), "header_delete %d", i)
}

func (h *host) BodySize() int {
	h.enter(abi.FnBodySize)
	b, _ := h.c.Body()
	return len(b)
}

func (h *host) BodyReadAt(p []byte, off int64) (int, error) {
	h.enter(abi.FnBodyRead)
	if off < 0 || off > int64(^uint32(0)>>1) {
		return 0, io.EOF
	}
	chunk, ok := h.c.BodyAt(int(off))
	if !ok || len(chunk) == 0 {
		return 0, io.EOF
	}
	n := copy(p, chunk)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *host) ReplaceBody(b []byte) {
	check(h.call(abi.FnBodyReplace).ReplaceBody(b))
	h.effect("body_replace %d bytes", len(b))
}

func (h *host) AppendBody(b []byte) {
	check(h.call(abi.FnBodyAppend).AppendBody(b))
	h.effect("body_append %d bytes", len(b))
}

func (h *host) SetReply(code int, enhanced, text string) {
	check(h.call(abi.FnSetReply).SetReply(code, []byte(enhanced), []byte(text)))
}
