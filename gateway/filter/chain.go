package filter

import (
	"context"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Entry is a plugin in a chain, with the policy settings the chain applies.
type Entry struct {
	Name    string
	Plugin  Plugin
	OnError OnError
}

// Chain runs plugins in policy order.
type Chain struct {
	Entries []Entry
}

// Outcome is the result of running a phase through the chain.
type Outcome struct {
	Verdict Verdict     // Continue, Accept, Reject, Tempfail, Discard (Quarantine shows in State)
	Reply   *smtp.Reply // for Reject and Tempfail
	Steps   []Step
}

// Run calls every plugin that has a hook for st.Phase, in order, until one
// decides. A transaction already accepted or discarded runs nothing.
func (c *Chain) Run(ctx context.Context, st *State) Outcome {
	var out Outcome
	if st.Accepted || st.Discarded {
		return out
	}
	for _, e := range c.Entries {
		if !e.Plugin.Has(st.Phase) {
			continue
		}
		st.Reply = nil
		start := time.Now()
		v, err := e.Plugin.Call(ctx, st)
		step := Step{Plugin: e.Name, Phase: st.Phase, Verdict: v, Duration: time.Since(start)}
		if err != nil {
			st.Rollback()
			step.Err = err
			switch e.OnError {
			case OnErrorContinue:
				step.Verdict = Continue
				out.Steps = append(out.Steps, step)
				continue
			case OnErrorReject:
				step.Verdict = Reject
				out.Steps = append(out.Steps, step)
				out.Verdict, out.Reply = Reject, smtp.ReplyPolicyReject
			default:
				step.Verdict = Tempfail
				out.Steps = append(out.Steps, step)
				out.Verdict, out.Reply = Tempfail, smtp.ReplyInternal
			}
			st.Reply = nil
			return out
		}
		st.Commit()
		out.Steps = append(out.Steps, step)
		switch v {
		case Continue:
			continue
		case Quarantine:
			reason := e.Name
			if st.Reply != nil && len(st.Reply.Lines) > 0 {
				reason += ": " + st.Reply.Lines[0]
			}
			st.Quarantined = append(st.Quarantined, reason)
			continue
		case Accept:
			st.Accepted = true
			out.Verdict = Accept
		case Discard:
			if st.Phase <= Helo {
				st.Session.Discarded = true
			}
			st.Discarded = true
			out.Verdict = Discard
		case Reject:
			out.Verdict, out.Reply = Reject, st.Reply
			if out.Reply == nil {
				out.Reply = smtp.ReplyPolicyReject
			}
		case Tempfail:
			out.Verdict, out.Reply = Tempfail, st.Reply
			if out.Reply == nil {
				out.Reply = smtp.ReplyPolicyDefer
			}
		}
		st.Reply = nil
		return out
	}
	st.Reply = nil
	return out
}
