package sluicetest

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-mail/sluice/gateway/message"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// host is the sluice.Host a hook receives: a view of the Session valid for
// one call.
type host struct {
	s           *Session
	live        bool
	reply       *Reply
	bodyChanged bool
}

var _ sluice.Host = (*host)(nil)

// enter checks that the hook is still running; a plugin that keeps its Host
// and uses it later (from a goroutine, say) fails loudly.
func (h *host) enter(fn string) *Session {
	if !h.live {
		panic("sluicetest: " + fn + " called on a Host after its hook returned")
	}
	return h.s
}

// mutation traps unless the current phase is one of allowed.
func (h *host) mutation(fn string, allowed ...Phase) *Session {
	s := h.enter(fn)
	for _, p := range allowed {
		if s.phase == p {
			return s
		}
	}
	trapf("%s is not allowed in phase %s", fn, s.phase)
	return nil
}

func (h *host) effect(format string, args ...any) {
	h.s.effects = append(h.s.effects, fmt.Sprintf(format, args...))
}

func (h *host) Log(level sluice.LogLevel, msg string) {
	s := h.enter("log")
	if level < sluice.LevelDebug || level > sluice.LevelError {
		trapf("log level %d is not 0 to 3", level)
	}
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	s.logs = append(s.logs, LogLine{Level: level, Text: msg})
}

func (h *host) Config() []byte { return bytes.Clone(h.enter("config").config) }

// infoFrom is the first phase each key of ABI §4.2 is available in.
var infoFrom = map[string]Phase{
	sluice.InfoHelo:       PhaseHelo,
	sluice.InfoMailFrom:   PhaseMail,
	sluice.InfoMailParams: PhaseMail,
	sluice.InfoRcpt:       PhaseRcpt,
	sluice.InfoRcptParams: PhaseRcpt,
}

func (h *host) Info(key string) (string, bool) {
	s := h.enter("info")
	if s.phase == PhaseConfigure {
		switch key {
		case sluice.InfoPlugin:
			v, ok := s.info[key]
			return v, ok
		case sluice.InfoDKIMKeys:
			return s.dkimKeyList()
		}
		return "", false
	}
	if from, ok := infoFrom[key]; ok && s.phase < from {
		return "", false
	}
	switch key {
	case sluice.InfoPhase:
		return s.phase.String(), true
	case sluice.InfoMailFrom:
		return s.from, true
	case sluice.InfoDKIMKeys:
		return s.dkimKeyList()
	case sluice.InfoRcpt, sluice.InfoRcptParams:
		if s.phase != PhaseRcpt {
			return "", false
		}
	}
	v, ok := s.info[key]
	return v, ok
}

func (h *host) Tag(key string) (string, bool) {
	s := h.enter("tag_get")
	if err := validTagKey(key); err != nil {
		trapf("tag_get: %v", err)
	}
	if v, ok := s.tags[key]; ok {
		return v, true
	}
	v, ok := s.sessTags[key]
	return v, ok
}

func (h *host) SetTag(key, value string) {
	s := h.mutation("tag_set", PhaseConnect, PhaseHelo, PhaseMail, PhaseRcpt, PhaseData)
	if err := validTagKey(key); err != nil {
		trapf("tag_set: %v", err)
	}
	if err := validTagValue(value); err != nil {
		trapf("tag_set: %v", err)
	}
	if s.phase <= PhaseHelo {
		s.sessTags[key] = value
	} else {
		s.tags[key] = value
	}
	h.effect("tag_set %q %q", key, value)
}

func (h *host) RcptCount() int {
	s := h.enter("rcpt_count")
	if s.phase < PhaseMail {
		return 0
	}
	return len(s.rcpts)
}

func (h *host) Rcpt(i int) (string, bool) {
	s := h.enter("rcpt_get")
	if s.phase < PhaseMail || i < 0 || i >= len(s.rcpts) {
		return "", false
	}
	return s.rcpts[i], true
}

func (h *host) SetMailFrom(addr string) {
	s := h.mutation("mail_set", PhaseMail, PhaseData)
	h.needGrant("mail_set", sluice.GrantEnvelope)
	if err := validAddress(addr, true); err != nil {
		trapf("mail_set: %v", err)
	}
	s.from = addr
	h.effect("mail_set %q", addr)
}

func (h *host) AddRcpt(addr string) {
	s := h.mutation("rcpt_add", PhaseData)
	h.needGrant("rcpt_add", sluice.GrantEnvelope)
	if err := validAddress(addr, false); err != nil {
		trapf("rcpt_add: %v", err)
	}
	s.rcpts = append(s.rcpts, addr)
	h.effect("rcpt_add %q", addr)
}

func (h *host) RemoveRcpt(addr string) bool {
	s := h.mutation("rcpt_remove", PhaseData)
	h.needGrant("rcpt_remove", sluice.GrantEnvelope)
	if err := validAddress(addr, false); err != nil {
		trapf("rcpt_remove: %v", err)
	}
	for i, r := range s.rcpts {
		if strings.EqualFold(r, addr) {
			if len(s.rcpts) == 1 {
				trapf("rcpt_remove: removing the last recipient (return Discard instead)")
			}
			s.rcpts = append(s.rcpts[:i:i], s.rcpts[i+1:]...)
			h.effect("rcpt_remove %q", addr)
			return true
		}
	}
	return false
}

// fields returns the header in phase data, nil before.
func (h *host) fields(fn string) (*message.Message, bool) {
	s := h.enter(fn)
	if s.phase != PhaseData {
		return nil, false
	}
	return s.msg, true
}

func (h *host) HeaderCount() int {
	m, ok := h.fields("header_count")
	if !ok {
		return 0
	}
	return len(m.Fields)
}

func (h *host) HeaderName(i int) (string, bool) {
	m, ok := h.fields("header_name")
	if !ok || i < 0 || i >= len(m.Fields) {
		return "", false
	}
	return m.Fields[i].Name, true
}

func (h *host) HeaderValue(i int) (string, bool) {
	m, ok := h.fields("header_value")
	if !ok || i < 0 || i >= len(m.Fields) {
		return "", false
	}
	return string(m.Fields[i].Value()), true
}

func (h *host) FindHeader(name string, nth int) (int, bool) {
	m, ok := h.fields("header_find")
	if !ok || nth < 0 {
		return 0, false
	}
	i := m.Find([]byte(name), nth)
	return i, i >= 0
}

func (h *host) AddHeader(name, value string) {
	s := h.mutation("header_add", PhaseData)
	f := render("header_add", name, value)
	s.msg.Insert(len(s.msg.Fields), f)
	h.effect("header_add %q %q", name, value)
}

func (h *host) InsertHeader(i int, name, value string) bool {
	s := h.mutation("header_insert", PhaseData)
	f := render("header_insert", name, value)
	if !s.msg.Insert(i, f) {
		return false
	}
	h.effect("header_insert %d %q %q", i, name, value)
	return true
}

func render(fn, name, value string) message.Field {
	f, err := message.Render([]byte(name), []byte(value))
	if err != nil {
		trapf("%s: %v", fn, err)
	}
	return f
}

func (h *host) ChangeHeader(i int, value string) bool {
	s := h.mutation("header_change", PhaseData)
	found, err := s.msg.Change(i, []byte(value))
	if err != nil {
		trapf("header_change: %v", err)
	}
	if found {
		h.effect("header_change %d %q", i, value)
	}
	return found
}

func (h *host) DeleteHeader(i int) bool {
	s := h.mutation("header_delete", PhaseData)
	if !s.msg.Delete(i) {
		return false
	}
	h.effect("header_delete %d", i)
	return true
}

func (h *host) BodySize() int {
	m, ok := h.fields("body_size")
	if !ok {
		return 0
	}
	return len(m.Body)
}

func (h *host) BodyReadAt(p []byte, off int64) (int, error) {
	m, ok := h.fields("body_read")
	if !ok || off < 0 || off >= int64(len(m.Body)) {
		return 0, io.EOF
	}
	n := copy(p, m.Body[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *host) ReplaceBody(b []byte) {
	s := h.mutation("body_replace", PhaseData)
	s.msg.SetBody(bytes.Clone(b))
	h.bodyChanged = true
	h.effect("body_replace %d bytes", len(b))
}

func (h *host) AppendBody(b []byte) {
	s := h.mutation("body_append", PhaseData)
	nb := make([]byte, 0, len(s.msg.Body)+len(b))
	s.msg.SetBody(append(append(nb, s.msg.Body...), b...))
	h.bodyChanged = true
	h.effect("body_append %d bytes", len(b))
}

func (h *host) SetReply(code int, enhanced, text string) {
	h.mutation("set_reply", PhaseConnect, PhaseHelo, PhaseMail, PhaseRcpt, PhaseData)
	enh, err := checkReply(code, enhanced, text)
	if err != nil {
		trapf("set_reply: %v", err)
	}
	h.reply = &Reply{Code: code, Enhanced: enh, Text: text} // reported in Result.Reply
}
