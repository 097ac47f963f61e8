package sluicetest

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Reply is an SMTP reply as the client would receive it.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

func (r *Reply) String() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

// Result is the outcome of one hook call.
type Result struct {
	// Called is false when the plugin does not implement the hook: the
	// gateway does not call it and the verdict is Continue.
	Called bool
	// Verdict is what the hook returned.
	Verdict sluice.Verdict
	// Reply is the reply for VerdictReject and VerdictTempfail: the one set
	// with SetReply or the host's default. For VerdictQuarantine it is the
	// reply set with SetReply, if any, whose text the gateway writes into
	// X-Sluice-Quarantine as the reason. Nil for other verdicts.
	Reply *Reply
	// Err is a plugin error (ABI §5): a trap from misusing the host, a
	// panic, an invalid verdict, a reply whose class does not match the
	// verdict, or an invalid body. Every change of the call was discarded;
	// the gateway would apply the plugin's on_error policy.
	Err error
}

// Configure runs p's Configure, if it has one, with the configuration cfg
// (JSON). It returns the error that refused the configuration, or a plugin
// error. A nil p is an error.
func (s *Session) Configure(p any, cfg string) error {
	if p == nil {
		return errors.New("sluicetest: nil plugin")
	}
	s.config = []byte(cfg)
	c, ok := p.(sluice.Configurer)
	if !ok {
		return nil
	}
	var cerr error
	r := s.Run(PhaseConfigure, func(h sluice.Host) sluice.Verdict {
		cerr = c.Configure(h)
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		return r.Err
	}
	return cerr
}

// Connect calls p's OnConnect.
func (s *Session) Connect(p any) Result {
	hook, ok := hookOf(p, PhaseConnect)
	return s.call(PhaseConnect, ok, hook)
}

// Helo records the HELO/EHLO argument name and calls p's OnHelo.
func (s *Session) Helo(p any, name string) Result {
	s.sess.Helo = name
	hook, ok := hookOf(p, PhaseHelo)
	return s.call(PhaseHelo, ok, hook)
}

// Mail starts a transaction with sender from ("" for the null sender
// "<>"), clearing recipients, transaction tags and the message, and calls
// p's OnMail.
func (s *Session) Mail(p any, from string) Result {
	s.SetEnvelope(from)
	hook, ok := hookOf(p, PhaseMail)
	return s.call(PhaseMail, ok, hook)
}

// Rcpt calls p's OnRcpt for recipient to. Unless the result is a reject, a
// tempfail or an error, to is then added to the accepted recipients.
func (s *Session) Rcpt(p any, to string) Result {
	s.st.Rcpt, s.st.RcptParams = to, ""
	hook, ok := hookOf(p, PhaseRcpt)
	r := s.call(PhaseRcpt, ok, hook)
	s.st.Rcpt = ""
	if r.Err == nil && r.Verdict != sluice.VerdictReject && r.Verdict != sluice.VerdictTempfail {
		s.st.Rcpts = append(s.st.Rcpts, to)
	}
	return r
}

// Data calls p's OnData with the message set by SetMessage.
func (s *Session) Data(p any) Result {
	hook, ok := hookOf(p, PhaseData)
	return s.call(PhaseData, ok, hook)
}

// hookOf returns p's hook for phase; ok is false when p does not implement
// it, and the gateway would not call it.
func hookOf(p any, phase Phase) (hook func(sluice.Host) sluice.Verdict, ok bool) {
	hooks := [...]func(sluice.Host) sluice.Verdict{
		PhaseConnect: method(p, sluice.ConnectHook.OnConnect),
		PhaseHelo:    method(p, sluice.HeloHook.OnHelo),
		PhaseMail:    method(p, sluice.MailHook.OnMail),
		PhaseRcpt:    method(p, sluice.RcptHook.OnRcpt),
		PhaseData:    method(p, sluice.DataHook.OnData),
	}
	if phase < PhaseConnect || phase > PhaseData || hooks[phase] == nil {
		return nil, false
	}
	return hooks[phase], true
}

// method binds the hook method m to p, or returns nil when p does not
// implement the interface I.
func method[I any](p any, m func(I, sluice.Host) sluice.Verdict) func(sluice.Host) sluice.Verdict {
	i, ok := p.(I)
	if !ok {
		return nil
	}
	return func(h sluice.Host) sluice.Verdict { return m(i, h) }
}

func (s *Session) call(phase Phase, implemented bool, hook func(sluice.Host) sluice.Verdict) Result {
	s.phase = phase
	if !implemented {
		return Result{Verdict: sluice.VerdictContinue}
	}
	return s.Run(phase, hook)
}

// hookNames are the guest exports the gateway would call, by phase.
var hookNames = [...]string{abi.ExportConfigure, abi.HookConnect, abi.HookHelo, abi.HookMail, abi.HookRcpt, abi.HookData}

// Run calls hook as the gateway calls a plugin in phase, without changing
// the envelope first; use it to test a helper that takes a sluice.Host, or a
// second plugin in the same phase. The hook runs the gateway's plugin
// contract (gateway/contract) over a real filter.State: connect and helo
// get a state of their own, as in the gateway; later phases share the
// transaction's.
func (s *Session) Run(phase Phase, hook func(sluice.Host) sluice.Verdict) (r Result) {
	if phase < PhaseConfigure || phase > PhaseData {
		panic(fmt.Sprintf("sluicetest: Run: invalid phase %d", phase))
	}
	s.phase = phase
	var st *filter.State
	switch phase {
	case PhaseConfigure:
	case PhaseConnect, PhaseHelo:
		st = filter.NewState(s.sess)
	default:
		st = s.st
	}
	effects := len(s.effects)
	r.Called = true
	r.Verdict, r.Err = s.exec(st, phase, hook)
	if r.Err != nil {
		if st != nil {
			st.Rollback() // every change of the call, as filter.Chain does
			st.Reply = nil
		}
		s.effects = s.effects[:effects]
		return r
	}
	if st == nil {
		return r
	}
	st.Commit()
	r.Reply = replyFor(r.Verdict, st.Reply)
	st.Reply = nil
	return r
}

// exec runs hook under the plugin contract over st (nil in configure),
// then checks what it returned and left behind (contract.Call.Result). It
// neither commits nor rolls back: its callers do, as filter.Chain does.
func (s *Session) exec(st *filter.State, phase Phase, hook func(sluice.Host) sluice.Verdict) (sluice.Verdict, error) {
	s.phase = phase
	if st != nil {
		st.Phase, st.Reply = phase.filterPhase(), nil
	}
	h := &host{s: s, c: contract.Begin(s.contractPlugin(), st, hookNames[phase]), live: true}
	v, err := s.invoke(h, hook)
	h.live = false
	if err == nil {
		err = h.c.Result(filter.Verdict(v))
	}
	return v, err
}

// invoke calls hook, turning a trap or a panic into an error.
func (s *Session) invoke(h *host, hook func(sluice.Host) sluice.Verdict) (v sluice.Verdict, err error) {
	defer func() {
		switch e := recover().(type) {
		case nil:
		case trap:
			err = fmt.Errorf("host function trapped: %w", e)
		default:
			err = fmt.Errorf("plugin panicked: %v\n%s", e, debug.Stack())
		}
	}()
	return hook(h), nil
}

// replyFor is the reply the client gets for a verdict the contract
// accepted (contract.Call.Result), with the gateway's defaults
// (filter.Chain). For VerdictQuarantine it is the reply set, if any: its
// text is the reason.
func replyFor(v sluice.Verdict, set *smtp.Reply) *Reply {
	switch {
	case v == sluice.VerdictReject && set == nil:
		set = smtp.ReplyPolicyReject
	case v == sluice.VerdictTempfail && set == nil:
		set = smtp.ReplyPolicyDefer
	case v != sluice.VerdictReject && v != sluice.VerdictTempfail && v != sluice.VerdictQuarantine:
		return nil
	}
	if set == nil {
		return nil
	}
	return &Reply{Code: set.Code, Enhanced: set.Enhanced, Text: strings.Join(set.Lines, "\n")}
}
