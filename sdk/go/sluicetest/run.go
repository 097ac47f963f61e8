package sluicetest

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
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
		return sluice.Continue
	})
	if r.Err != nil {
		return r.Err
	}
	return cerr
}

// Connect calls p's OnConnect.
func (s *Session) Connect(p any) Result {
	hook, ok := p.(sluice.ConnectHook)
	return s.call(PhaseConnect, ok, func(h sluice.Host) sluice.Verdict { return hook.OnConnect(h) })
}

// Helo records the HELO/EHLO argument name and calls p's OnHelo.
func (s *Session) Helo(p any, name string) Result {
	s.info[sluice.InfoHelo] = name
	hook, ok := p.(sluice.HeloHook)
	return s.call(PhaseHelo, ok, func(h sluice.Host) sluice.Verdict { return hook.OnHelo(h) })
}

// Mail starts a transaction with sender from ("" for the null sender
// "<>"), clearing recipients, transaction tags and the message, and calls
// p's OnMail.
func (s *Session) Mail(p any, from string) Result {
	s.SetEnvelope(from)
	s.info[sluice.InfoMailParams] = ""
	hook, ok := p.(sluice.MailHook)
	return s.call(PhaseMail, ok, func(h sluice.Host) sluice.Verdict { return hook.OnMail(h) })
}

// Rcpt calls p's OnRcpt for recipient to. Unless the result is a reject, a
// tempfail or an error, to is then added to the accepted recipients.
func (s *Session) Rcpt(p any, to string) Result {
	s.info[sluice.InfoRcpt] = to
	s.info[sluice.InfoRcptParams] = ""
	hook, ok := p.(sluice.RcptHook)
	r := s.call(PhaseRcpt, ok, func(h sluice.Host) sluice.Verdict { return hook.OnRcpt(h) })
	if r.Err == nil && r.Verdict != sluice.VerdictReject && r.Verdict != sluice.VerdictTempfail {
		s.rcpts = append(s.rcpts, to)
	}
	return r
}

// Data calls p's OnData with the message set by SetMessage.
func (s *Session) Data(p any) Result {
	hook, ok := p.(sluice.DataHook)
	return s.call(PhaseData, ok, func(h sluice.Host) sluice.Verdict { return hook.OnData(h) })
}

func (s *Session) call(phase Phase, implemented bool, hook func(sluice.Host) sluice.Verdict) Result {
	s.phase = phase
	if !implemented {
		return Result{Verdict: sluice.Continue}
	}
	return s.Run(phase, hook)
}

// Run calls hook as the gateway calls a plugin in phase, without changing
// the envelope first; use it to test a helper that takes a sluice.Host, or a
// second plugin in the same phase.
func (s *Session) Run(phase Phase, hook func(sluice.Host) sluice.Verdict) (r Result) {
	s.phase = phase
	saved := s.save()
	h := &host{s: s, live: true}
	r.Called = true
	defer func() {
		h.live = false
		if r.Err != nil {
			s.restore(saved)
			r.Reply = nil
		}
	}()
	r.Verdict, r.Err = s.invoke(h, hook)
	if r.Err != nil {
		return r
	}
	r.Reply, r.Err = verdictReply(r.Verdict, h.reply)
	if r.Err == nil && h.bodyChanged {
		if err := message.ValidBody(s.msg.Body); err != nil {
			r.Err = fmt.Errorf("invalid body: %w", err)
		}
	}
	return r
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

// verdictReply checks the verdict against the reply set during the call
// (ABI §2.1) and returns the reply the client gets.
func verdictReply(v sluice.Verdict, set *Reply) (*Reply, error) {
	switch v {
	case sluice.VerdictReject:
		if set == nil {
			return fromSMTP(smtp.ReplyPolicyReject), nil
		}
		if set.Code/100 != 5 {
			return nil, fmt.Errorf("verdict reject with a %d reply", set.Code)
		}
		return set, nil
	case sluice.VerdictTempfail:
		if set == nil {
			return fromSMTP(smtp.ReplyPolicyDefer), nil
		}
		if set.Code/100 != 4 {
			return nil, fmt.Errorf("verdict tempfail with a %d reply", set.Code)
		}
		return set, nil
	case sluice.VerdictQuarantine:
		// The reply's text is the reason in X-Sluice-Quarantine.
		return set, nil
	case sluice.Continue, sluice.Accept, sluice.Discard:
		return nil, nil
	}
	return nil, fmt.Errorf("invalid verdict %d", int32(v))
}

func fromSMTP(r *smtp.Reply) *Reply {
	return &Reply{Code: r.Code, Enhanced: r.Enhanced, Text: r.Lines[0]}
}
