// Package filter is the filtering model: the SMTP phases, the verdicts a
// plugin returns, the transaction state plugins read and change, and the
// chain that runs plugins in policy order. It knows nothing of WebAssembly or
// of the network; gateway/wasmhost implements Plugin, gateway/bridge drives it.
package filter

import (
	"context"
	"net/netip"
	"time"

	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// Phase is a step of an SMTP session that plugins can act on.
type Phase int

const (
	Connect Phase = iota
	Helo
	Mail
	Rcpt
	Data
)

// Phases lists every phase in session order.
var Phases = [...]Phase{Connect, Helo, Mail, Rcpt, Data}

func (p Phase) String() string {
	switch p {
	case Connect:
		return "connect"
	case Helo:
		return "helo"
	case Mail:
		return "mail"
	case Rcpt:
		return "rcpt"
	case Data:
		return "data"
	}
	return "unknown"
}

// Verdict is a plugin's decision (sdk/ABI.md §2.1); values match the ABI.
type Verdict int32

const (
	Continue Verdict = iota
	Accept
	Reject
	Tempfail
	Discard
	Quarantine
)

func (v Verdict) String() string { return abi.VerdictName(int32(v)) }

// Valid reports whether v is one of the defined verdicts.
func (v Verdict) Valid() bool { return v >= Continue && v <= Quarantine }

// Session is what is known about the client connection.
type Session struct {
	ID         string
	ClientIP   netip.Addr
	ClientPort int
	ClientName string // verified PTR name, "" if unknown
	Helo       string
	TLSVersion string // "" when not encrypted, else "TLS1.3" etc.
	TLSCipher  string
	AuthUser   string // the SASL login name, if the client authenticated (milter mode: {auth_authen})
	Hostname   string // the listener's hostname
	Tags       Tags   // session tags (set in connect/helo)

	// Discarded is set when a connect/helo plugin chose discard: every
	// State of the session starts discarded (NewState), so code that acts
	// on a discard reads State.Discarded only.
	Discarded bool
	// Refused is the reply every later command gets after a connect/helo
	// reject or tempfail (nil when not refused).
	Refused *smtp.Reply
}

// Tags are key/value strings that later plugins can read.
type Tags map[string]string

// Clone copies the tags.
func (t Tags) Clone() Tags {
	c := make(Tags, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

// State is the transaction plugins read and change. One State lives for one
// SMTP transaction (MAIL to end of DATA or RSET); in connect and helo it
// carries no envelope.
type State struct {
	Session *Session
	Phase   Phase

	From       string   // reverse path without brackets; "" = null sender
	MailParams string   // ESMTP parameters of MAIL as sent
	Rcpts      []string // recipients accepted so far
	Rcpt       string   // rcpt phase: the recipient being checked
	RcptParams string   // rcpt phase: its ESMTP parameters
	QueueID    string   // the MTA's queue id (milter mode: macro i); "" if unknown
	Msg        *message.Message
	Tags       Tags // transaction tags

	// Accepted is set by an accept verdict: the rest of the chain is skipped
	// for this transaction.
	Accepted bool
	// Discarded is set by a discard verdict, or from the start when a
	// connect/helo plugin discarded the session: the transaction is
	// accepted and not delivered. It is the one discard flag to read.
	Discarded bool
	// Quarantined holds the reasons of quarantine verdicts.
	Quarantined []string
	// EnvelopeChanged is set when a data-phase plugin changed From or Rcpts.
	EnvelopeChanged bool

	// Reply is the reply set by the plugin being called (set_reply); the
	// chain clears it before each call.
	Reply *smtp.Reply

	snap *snapshot
}

// NewState starts the state of a new transaction (or of connect/helo).
func NewState(s *Session) *State {
	return &State{Session: s, Tags: Tags{}, Discarded: s.Discarded}
}

// Tag returns a tag: transaction tags shadow session tags.
func (st *State) Tag(key string) (string, bool) {
	if v, ok := st.Tags[key]; ok {
		return v, true
	}
	v, ok := st.Session.Tags[key]
	return v, ok
}

// SetTag sets a tag: a session tag in connect and helo, else a transaction tag.
func (st *State) SetTag(key, value string) {
	st.Touch()
	if st.Phase <= Helo {
		if st.Session.Tags == nil {
			st.Session.Tags = Tags{}
		}
		st.Session.Tags[key] = value
		return
	}
	st.Tags[key] = value
}

// snapshot is what a plugin call can change, saved at its first change so a
// faulting call leaves no trace (sdk/ABI.md §5).
type snapshot struct {
	from            string
	rcpts           []string
	msg             *message.Message
	tags, sessTags  Tags
	envelopeChanged bool
}

// Touch saves, at the first change of a plugin call, the snapshot that
// Rollback restores. The plugin contract (gateway/contract) calls it
// before each change it makes; nothing else changes a State during a call.
func (st *State) Touch() {
	if st.snap != nil {
		return
	}
	st.snap = &snapshot{
		from:            st.From,
		rcpts:           append([]string(nil), st.Rcpts...),
		tags:            st.Tags.Clone(),
		sessTags:        st.Session.Tags.Clone(),
		envelopeChanged: st.EnvelopeChanged,
	}
	if st.Msg != nil {
		st.snap.msg = st.Msg.Clone()
	}
}

// Commit keeps the changes of the call that just ended.
func (st *State) Commit() { st.snap = nil }

// Rollback undoes every change since the call began.
func (st *State) Rollback() {
	s := st.snap
	if s == nil {
		return
	}
	st.From, st.Rcpts, st.Tags, st.Session.Tags = s.from, s.rcpts, s.tags, s.sessTags
	st.EnvelopeChanged = s.envelopeChanged
	if s.msg != nil {
		*st.Msg = *s.msg
	}
	st.snap = nil
}

// Plugin is one loaded plugin, as the chain needs it.
type Plugin interface {
	// Has reports whether the plugin exports the hook for phase.
	Has(Phase) bool
	// Call runs the hook for st.Phase. A non-nil error is a plugin error
	// (trap, timeout, ABI misuse, invalid verdict or reply); the state must
	// then be rolled back by the caller. On success the verdict is valid
	// and st.Reply, if set, matches it: the plugin contract checks both
	// (gateway/contract, Call.Result), the chain does not check again.
	Call(ctx context.Context, st *State) (Verdict, error)
}

// OnError is what a plugin error turns into.
type OnError int

const (
	OnErrorTempfail OnError = iota // default: 451 4.3.0
	OnErrorContinue                // as if the hook returned continue
	OnErrorReject                  // 550 5.7.1
)

// Step records one plugin call, for logs and `sluice test`.
type Step struct {
	Plugin   string
	Phase    Phase
	Verdict  Verdict
	Duration time.Duration
	Err      error // plugin error, if any (the verdict is then what on_error chose)
}
