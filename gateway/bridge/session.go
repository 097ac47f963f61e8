package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

// session runs one client connection through the plugin chain and keeps the
// downstream transaction in step with the client's (docs/DESIGN.md §1: before-queue).
// It is driven by one goroutine (the smtpd connection), so it needs no lock.
type session struct {
	gen  *Generation // pinned for the whole session (reload safety)
	info *filter.Session
	log  *slog.Logger

	st *filter.State // current transaction; nil outside one

	up       upstream.Conn      // downstream connection, opened at the first MAIL
	upTxn    bool               // a downstream transaction is open (MAIL sent or queued)
	txnBroke *smtp.Reply        // set when the downstream leg of this transaction failed
	pending  []upstream.Command // MAIL and RCPTs answered Later, sent by Settle (pipeline.go)

	origin originState // the client behind each transaction (origin.go)

	upstream upstream.Upstream   // gen's, or `sluice test`'s in-memory one
	onSteps  func([]filter.Step) // if set, told every chain run's steps (`sluice test`)
	rec      *txnRecord          // if the generation has a Recorder (record.go)
}

func newSession(ctx context.Context, gen *Generation, ci smtpd.ConnInfo) (*session, *smtp.Reply) {
	s := &session{gen: gen, log: gen.log.With("session", ci.ID), upstream: gen.upstream}
	if gen.rec != nil {
		s.rec = &txnRecord{rec: gen.rec}
	}
	return startSession(ctx, s, ci), nil
}

// startSession runs the connect phase of s, a session of a generation the
// caller acquired for it.
func startSession(ctx context.Context, s *session, ci smtpd.ConnInfo) *session {
	gen := s.gen
	gen.obs.SessionStart()
	s.info = &filter.Session{ID: ci.ID, Hostname: gen.hostname, Tags: filter.Tags{}}
	if ap, err := netip.ParseAddrPort(addrString(ci.RemoteAddr)); err == nil {
		s.info.ClientIP, s.info.ClientPort = ap.Addr().Unmap(), int(ap.Port())
	}
	st := filter.NewState(s.info)
	st.Phase = filter.Connect
	out := s.run(ctx, st)
	if out.Verdict == filter.Reject || out.Verdict == filter.Tempfail {
		// Delay the rejection to the first command, as Postfix's
		// smtpd_delay_reject does: clients handle it better than a refused
		// greeting, and the log gets the HELO and sender.
		s.info.Refused = out.Reply
	}
	return s
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// run passes st through the chain and logs every step.
func (s *session) run(ctx context.Context, st *filter.State) filter.Outcome {
	out := s.gen.chain.Run(ctx, st)
	if s.onSteps != nil {
		s.onSteps(out.Steps)
	}
	if s.rec != nil {
		s.rec.add(st.Phase, out.Steps)
	}
	s.gen.ReportSteps(s.log, out.Steps)
	return out
}

func (s *session) Helo(ctx context.Context, name string, cs *tls.ConnectionState) *smtp.Reply {
	s.info.Helo = name
	if cs != nil {
		s.info.TLSVersion = strings.ReplaceAll(tls.VersionName(cs.Version), "v", "")
		s.info.TLSCipher = tls.CipherSuiteName(cs.CipherSuite)
	}
	if s.info.Refused != nil {
		return s.info.Refused
	}
	st := filter.NewState(s.info)
	st.Phase = filter.Helo
	out := s.run(ctx, st)
	if out.Verdict == filter.Reject || out.Verdict == filter.Tempfail {
		s.info.Refused = out.Reply
		return out.Reply
	}
	return nil
}

func (s *session) mail(ctx context.Context, from, params string) *smtp.Reply {
	if s.info.Refused != nil {
		return s.info.Refused
	}
	s.txnBroke = nil // a new transaction; smtpd calls no Reset after a refused MAIL
	st := filter.NewState(s.info)
	st.Phase, st.From, st.MailParams = filter.Mail, from, params
	out := s.run(ctx, st)
	switch out.Verdict {
	case filter.Reject, filter.Tempfail:
		return out.Reply
	}
	s.st = st
	if st.Discarded {
		return nil // nothing goes downstream; DATA will be accepted and dropped
	}
	if err := s.openUpstream(ctx); err != nil {
		s.st = nil
		return s.upstreamReply(err)
	}
	if s.pipelining() {
		s.pending = append(s.pending, upstream.Command{Path: st.From, Params: params})
		s.upTxn = true
		return smtpd.Later
	}
	if err := s.upCall("mail", func() error { return s.up.Mail(ctx, st.From, params) }); err != nil {
		s.st = nil
		return s.upstreamReply(err)
	}
	s.upTxn = true
	return nil
}

func (s *session) rcpt(ctx context.Context, to, params string) *smtp.Reply {
	st := s.st
	if s.info.Refused != nil {
		return s.info.Refused
	}
	if st == nil { // smtpd enforces MAIL first; defend anyway
		return smtp.ReplyInternal
	}
	if s.txnBroke != nil {
		return s.txnBroke
	}
	st.Phase, st.Rcpt, st.RcptParams = filter.Rcpt, to, params
	out := s.run(ctx, st)
	st.Rcpt, st.RcptParams = "", ""
	switch out.Verdict {
	case filter.Reject, filter.Tempfail:
		return out.Reply
	}
	if !st.Discarded {
		if s.pipelining() {
			// Added to st.Rcpts when the downstream accepts it (pipeline.go).
			s.pending = append(s.pending, upstream.Command{Rcpt: true, Path: to, Params: params})
			return smtpd.Later
		}
		if err := s.upCall("rcpt", func() error { return s.up.Rcpt(ctx, to, params) }); err != nil {
			return s.upstreamReply(err)
		}
	}
	st.Rcpts = append(st.Rcpts, to)
	return nil
}

// data is where "never lose mail" is decided: the client gets 2xx only when
// the downstream server accepted the message (or a plugin explicitly chose
// discard, which is logged). Every other path returns 4xx or 5xx.
func (s *session) data(ctx context.Context, raw []byte) *smtp.Reply {
	st := s.st
	if s.info.Refused != nil {
		return s.info.Refused
	}
	if st == nil || len(st.Rcpts) == 0 {
		return smtp.ReplyInternal
	}
	if s.txnBroke != nil {
		return s.txnBroke
	}
	msg, err := message.Parse(raw, s.gen.limits)
	if err != nil {
		s.abortUpstream(ctx)
		s.outcome(smtp.ReplyHeaderTooBig)
		return smtp.ReplyHeaderTooBig
	}
	st.Msg = msg
	st.Phase = filter.Data
	out := s.run(ctx, st)
	switch out.Verdict {
	case filter.Reject, filter.Tempfail:
		s.abortUpstream(ctx)
		s.outcome(out.Reply)
		return out.Reply
	}
	if st.Discarded {
		s.gen.obs.Transaction("discarded")
		s.abortUpstream(ctx)
		s.log.Info("message discarded by policy", "from", st.From, "rcpts", len(st.Rcpts), "size", len(raw))
		return smtp.NewReply(250, "2.0.0", "Ok: discarded")
	}
	markQuarantined(st)
	if st.EnvelopeChanged {
		if r := s.replayEnvelope(ctx, st); r != nil {
			s.outcome(r)
			return r
		}
	}
	if err := s.upCall("data", func() error { return s.up.Data(ctx, st.Msg) }); err != nil {
		s.upTxn = false
		r := s.upstreamReply(err)
		s.outcome(r)
		return r
	}
	s.gen.obs.Transaction("delivered")
	s.upTxn = false
	return s.delivered(st)
}

// delivered logs a message the downstream server accepted, with its reply
// and queue id, and returns the client's 250. Only the queue id, checked by
// queueID, is relayed: the rest of the downstream's text is not the
// client's business. The log line is written before the reply is, so that
// it exists even when the client is gone by then and the sender retries: a
// duplicate is then traceable to the first delivery (docs/TESTPLAN.md row 35).
func (s *session) delivered(st *filter.State) *smtp.Reply {
	attrs := []any{"from", st.From, "rcpts", len(st.Rcpts), "size", st.Msg.Size(), "quarantined", len(st.Quarantined) > 0}
	r := s.up.LastReply()
	id := queueID(r)
	if r != nil {
		attrs = append(attrs, "downstream_reply", replyText(r))
	}
	if id != "" {
		attrs = append(attrs, "queue_id", id)
	}
	s.log.Info("message delivered", attrs...)
	if id == "" {
		return smtp.NewReply(250, "2.0.0", "Ok: queued")
	}
	return smtp.NewReply(250, "2.0.0", "Ok: queued as "+id)
}

const quarantineHeader = "X-Sluice-Quarantine"

// markQuarantined puts one X-Sluice-Quarantine field per quarantine verdict
// at the top of the message (sdk/ABI.md §2.1).
func markQuarantined(st *filter.State) {
	for _, q := range st.Quarantined {
		if f, err := message.Render([]byte(quarantineHeader), []byte(sanitizeHeader(q))); err == nil {
			st.Msg.Insert(0, f)
		}
	}
}

// sanitizeHeader keeps printable ASCII only, for host-made header values.
func sanitizeHeader(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > 900 {
		b = b[:900]
	}
	return string(b)
}

// replayEnvelope redoes the downstream envelope after a data-phase plugin
// changed it. Any refusal makes the message tempfail: the client's
// recipients were already accepted, so a partial delivery could lose mail.
func (s *session) replayEnvelope(ctx context.Context, st *filter.State) *smtp.Reply {
	fail := func(what string, err error) *smtp.Reply {
		s.log.Warn("downstream refused the rewritten envelope", "step", what, "err", err)
		var r *smtp.Reply
		if !errors.As(err, &r) {
			s.dropUpstream()
		}
		return smtp.ReplyInternal
	}
	if err := s.up.Reset(ctx); err != nil {
		return fail("RSET", err)
	}
	if err := s.up.Mail(ctx, st.From, st.MailParams); err != nil {
		return fail("MAIL", err)
	}
	for _, r := range st.Rcpts {
		if err := s.up.Rcpt(ctx, r, ""); err != nil {
			return fail("RCPT", err)
		}
	}
	return nil
}

// upCall runs one downstream command and reports it to the observer.
func (s *session) upCall(op string, fn func() error) error {
	start := time.Now()
	err := fn()
	s.gen.obs.Upstream(op, time.Since(start), err)
	return err
}

// outcome reports a message that was refused with r.
func (s *session) outcome(r *smtp.Reply) {
	if r != nil && r.Class() == 5 {
		s.gen.obs.Transaction("rejected")
		return
	}
	s.gen.obs.Transaction("tempfailed")
}

func (s *session) Reset() {
	s.endTxn()
	s.st = nil
	s.txnBroke = nil
}

func (s *session) Close() {
	s.pending = nil // never sent: smtpd settles before anything else ends
	s.endTxn()
	if s.up != nil {
		s.up.Close()
		s.up = nil
	}
	s.gen.obs.SessionEnd()
	s.gen.Release()
}

func (s *session) openUpstream(ctx context.Context) error {
	if s.up != nil && s.upTxn {
		// The previous transaction was left open (RSET, rejected DATA):
		// reset it before starting a new one.
		if err := s.up.Reset(ctx); err != nil {
			s.dropUpstream()
		}
		s.upTxn = false
	}
	if s.up != nil {
		return nil
	}
	start := time.Now()
	id := s.identity()
	c, err := s.upstream.Open(ctx, id)
	s.gen.obs.Upstream("connect", time.Since(start), err)
	if err != nil {
		return err
	}
	s.up, s.origin.opened = c, id
	return nil
}

// abortUpstream ends the downstream transaction without sending the message.
func (s *session) abortUpstream(ctx context.Context) {
	if s.up == nil || !s.upTxn {
		return
	}
	s.upTxn = false
	if err := s.up.Reset(ctx); err != nil {
		s.dropUpstream()
	}
}

func (s *session) dropUpstream() {
	if s.up != nil {
		s.up.Close()
		s.up = nil
	}
	s.upTxn = false
}

// upstreamReply turns a downstream failure into the client's reply: the
// downstream server's own 4xx/5xx is relayed with its class; anything else
// is a 4xx that says what failed, never Go error text (docs/DESIGN.md §1).
func (s *session) upstreamReply(err error) *smtp.Reply {
	var r *smtp.Reply
	if errors.As(err, &r) {
		if r.Code == 421 {
			// The downstream server is closing: tempfail this transaction
			// and reconnect for the next (docs/TESTPLAN.md row 40).
			s.log.Warn("downstream closing connection", "reply", r.Code)
			s.dropUpstream()
			s.txnBroke = smtp.ReplyConnLost
			return smtp.ReplyConnLost
		}
		if r.Class() == 4 || r.Class() == 5 {
			return r
		}
		s.log.Error("unexpected downstream reply", "code", r.Code)
		s.dropUpstream()
		return smtp.ReplyInternal
	}
	s.dropUpstream()
	if errors.Is(err, upstream.ErrUnreachable) {
		s.log.Warn("downstream unreachable", "err", err)
		return smtp.ReplyUnreachable
	}
	s.log.Warn("downstream connection lost", "err", err)
	if s.st != nil {
		s.txnBroke = smtp.ReplyConnLost
	}
	return smtp.ReplyConnLost
}
