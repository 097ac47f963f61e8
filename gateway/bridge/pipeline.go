package bridge

import (
	"context"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

var _ smtpd.Settler = (*session)(nil)

// pipelining reports whether the downstream connection takes MAIL and RCPT
// in batches (RFC 2920): then mail and rcpt queue their downstream command,
// once every plugin let it through, and answer smtpd.Later; Settle sends
// the queue in one write when the client has no more commands buffered,
// or sends one that needs the answers (DATA, RSET...). A client that does
// not pipeline gets each command settled on its own, as before.
func (s *session) pipelining() bool {
	p, ok := s.up.(upstream.Pipeliner)
	return ok && p.Pipelining()
}

// Settle sends the queued MAIL and RCPTs and maps each downstream result
// to its client command as mail and rcpt would have: a refused MAIL ends
// the transaction (smtpd answers the RCPTs after it with 503), a refused
// RCPT is relayed for that recipient only, and a lost connection or a
// reply out of step fails them all with a 4xx and drops the connection
// (upstream.Pipeliner), so no recipient is accepted that the downstream
// has not accepted. Each command is reported to the observer with the
// time of the whole batch, which is what its client waited.
func (s *session) Settle(ctx context.Context) []*smtp.Reply {
	cmds := s.pending
	s.pending = nil
	out := make([]*smtp.Reply, len(cmds))
	if len(cmds) == 0 {
		return out
	}
	var errs []error
	start := time.Now()
	if p, ok := s.up.(upstream.Pipeliner); ok {
		errs = p.Pipeline(ctx, cmds)
	}
	d := time.Since(start)
	var lastErr error
	var lastReply *smtp.Reply
	reply := func(err error) *smtp.Reply {
		if err != lastErr { // a failed batch gives every command one error: log it once
			lastErr, lastReply = err, s.upstreamReply(err)
		}
		return lastReply
	}
	for i, cmd := range cmds {
		err := upstream.ErrUnreachable // defensive: the connection went away
		if i < len(errs) {
			err = errs[i]
		}
		if !cmd.Rcpt {
			s.gen.obs.Upstream("mail", d, err)
			if err != nil {
				s.st, s.upTxn = nil, false
				out[i] = reply(err)
				s.mailAnswered(out[i])
			}
			continue
		}
		s.gen.obs.Upstream("rcpt", d, err)
		switch {
		case s.st == nil:
			out[i] = smtp.ReplyInternal // smtpd answers 503 after a refused MAIL
			continue
		case err != nil:
			out[i] = reply(err)
		default:
			s.st.Rcpts = append(s.st.Rcpts, cmd.Path)
		}
		s.rcptAnswered(cmd.Path, out[i])
	}
	return out
}
