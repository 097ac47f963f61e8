package bridge

import (
	"context"
	"net/netip"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
)

// Recorder is told about every finished transaction of a live session (the
// admin console's recent transactions, gateway/console). Record is called
// on the session's goroutine: it must be quick, and must copy what it
// keeps, for t and what it points to are reused or dropped afterwards.
type Recorder interface {
	Record(t *Transaction)
}

// Transaction is one finished transaction as a Recorder sees it.
type Transaction struct {
	Start    time.Time // the MAIL command (or the connection, for a refused one)
	Session  string
	ClientIP netip.Addr
	Helo     string
	From     string
	Rcpts    []string // accepted recipients
	Refused  []string // recipients a plugin or the downstream refused
	Size     int      // the message's size as received; 0 before DATA
	// Steps are every plugin call of the session's connect and HELO phases
	// and of this transaction, in order.
	Steps []filter.Step
	// Outcome is delivered, quarantined (delivered with a quarantine
	// header), rejected, tempfailed or discarded.
	Outcome string
	Reply   *smtp.Reply // what the client was answered
	QueueID string      // the downstream's, when it said
	Msg     *message.Message
}

// txnRecord is what a session with a Recorder gathers for the transaction
// in progress.
type txnRecord struct {
	rec     Recorder
	steps   []filter.Step
	connN   int // steps[:connN] are the session's connect steps
	sessN   int // steps[:sessN] are the session's connect and HELO steps
	from    string
	start   time.Time
	refused []string
	last    *smtp.Reply // the last refusal of a RCPT
	open    bool        // a MAIL started a transaction that is not recorded yet
	t       Transaction // handed to the recorder, reused
}

// record hands the transaction in progress to the recorder, if any, and
// closes it.
func (s *session) record(st *filter.State, outcome string, r *smtp.Reply, queueID string) {
	tr := s.rec
	if tr == nil || !tr.open {
		return
	}
	tr.open = false
	t := &tr.t
	*t = Transaction{Start: tr.start, Session: s.info.ID, ClientIP: s.info.ClientIP, Helo: s.info.Helo,
		From: tr.from, Refused: tr.refused, Steps: tr.steps, Outcome: outcome, Reply: r, QueueID: queueID}
	if st != nil {
		t.From, t.Rcpts, t.Msg = st.From, st.Rcpts, st.Msg
		if st.Msg != nil {
			t.Size = st.Msg.ReceivedSize()
		}
	}
	tr.rec.Record(t)
	*t = Transaction{} // keep nothing of the message alive
}

// beginTxn starts gathering a transaction at MAIL.
func (s *session) beginTxn(from string) {
	if tr := s.rec; tr != nil {
		tr.open, tr.start, tr.from, tr.refused, tr.last = true, time.Now(), from, nil, nil
		tr.steps = tr.steps[:tr.sessN]
	}
}

// endTxn records a transaction that ends without DATA (RSET, QUIT, a new
// MAIL) if a recipient was refused: the operator wants to see why.
func (s *session) endTxn() {
	tr := s.rec
	if tr == nil || !tr.open {
		return
	}
	if tr.last == nil {
		tr.open = false
		return
	}
	s.record(s.st, refusalOutcome(tr.last), tr.last, "")
}

func refusalOutcome(r *smtp.Reply) string {
	if r != nil && r.Class() == 5 {
		return "rejected"
	}
	return "tempfailed"
}

// add keeps a chain run's steps: a HELO replaces the previous HELO's.
func (tr *txnRecord) add(ph filter.Phase, steps []filter.Step) {
	switch ph {
	case filter.Connect:
		tr.steps = append(tr.steps, steps...)
		tr.connN, tr.sessN = len(tr.steps), len(tr.steps)
	case filter.Helo:
		tr.steps = append(tr.steps[:tr.connN], steps...)
		tr.sessN = len(tr.steps)
	default:
		tr.steps = append(tr.steps, steps...)
	}
}

// Mail, Rcpt and Data are the smtpd.Session methods; mail, rcpt and data
// (session.go) do the work, these record it.

func (s *session) Mail(ctx context.Context, from, params string) *smtp.Reply {
	s.beginTxn(from)
	r := s.mail(ctx, from, params)
	s.mailAnswered(r)
	return r
}

func (s *session) Rcpt(ctx context.Context, to, params string) *smtp.Reply {
	r := s.rcpt(ctx, to, params)
	s.rcptAnswered(to, r)
	return r
}

// mailAnswered records a refused MAIL; Later is not an answer yet.
func (s *session) mailAnswered(r *smtp.Reply) {
	if r != nil && r != smtpd.Later && r.Class() != 2 {
		s.record(nil, refusalOutcome(r), r, "")
	}
}

// rcptAnswered keeps a refused recipient for the record; Later is not an
// answer yet.
func (s *session) rcptAnswered(to string, r *smtp.Reply) {
	if tr := s.rec; tr != nil && r != nil && r != smtpd.Later && r.Class() != 2 {
		tr.refused, tr.last = append(tr.refused, to), r
	}
}

func (s *session) Data(ctx context.Context, raw []byte) *smtp.Reply {
	r := s.data(ctx, raw)
	if s.rec == nil {
		return r
	}
	st := s.st
	switch {
	case r == nil || r.Class() != 2:
		s.record(st, refusalOutcome(r), r, "")
	case st != nil && (st.Discarded || s.info.Discarded):
		s.record(st, "discarded", r, "")
	case st != nil && len(st.Quarantined) > 0:
		s.record(st, "quarantined", r, queueID(r))
	default:
		s.record(st, "delivered", r, queueID(r))
	}
	return r
}
