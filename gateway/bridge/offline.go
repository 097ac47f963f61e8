package bridge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

// TestInput is one message for an offline run (`sluice test`).
type TestInput struct {
	ClientIP string
	Helo     string
	From     string
	Rcpts    []string
	Message  []byte // CRLF or LF line endings
}

// TestStep is one plugin call in an offline run.
type TestStep struct {
	Plugin   string        `json:"plugin"`
	Phase    string        `json:"phase"`
	Verdict  string        `json:"verdict"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
	Rcpt     string        `json:"rcpt,omitempty"`
}

// TestResult is what an offline run decided.
type TestResult struct {
	Action      string            `json:"action"` // accept, reject, tempfail, discard, quarantine
	Code        int               `json:"code"`
	Enhanced    string            `json:"enhanced,omitempty"`
	Text        string            `json:"text"`
	Phase       string            `json:"phase"` // where the decision was made
	From        string            `json:"from"`
	Rcpts       []string          `json:"rcpts"`
	Rejected    []string          `json:"rejected_rcpts,omitempty"`
	RcptReplies []RcptReply       `json:"rcpt_replies"` // one per RCPT tried, in order
	Tags        map[string]string `json:"tags"`
	Quarantined []string          `json:"quarantined,omitempty"`
	Steps       []TestStep        `json:"steps"`
	Message     string            `json:"message"`
}

// RcptReply is the reply one RCPT command got in an offline run. An
// accepted recipient gets "250 2.1.5 Ok", standing in for the downstream's
// reply.
type RcptReply struct {
	Rcpt     string `json:"rcpt"`
	Action   string `json:"action"` // accept, reject or tempfail
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

// RunTest runs one message through a real session of the generation, as
// an SMTP client would drive it (connect, HELO, MAIL, each RCPT, DATA),
// with an in-memory downstream that accepts everything in place of the
// generation's upstream: the result is what the gateway would answer.
func RunTest(ctx context.Context, gen *Generation, in TestInput) *TestResult {
	res := &TestResult{Tags: map[string]string{}, Rcpts: []string{}, Steps: []TestStep{}, RcptReplies: []RcptReply{}}
	if !gen.acquire() {
		res.Action, res.Phase = "tempfail", "connect"
		setReply(res, smtp.ReplyShutdown)
		return res
	}
	rcpt := "" // the recipient the steps being recorded are about
	s := &session{gen: gen, log: slog.New(slog.DiscardHandler), upstream: memoryUpstream{},
		onSteps: func(steps []filter.Step) {
			for _, st := range steps {
				ts := TestStep{Plugin: st.Plugin, Phase: st.Phase.String(), Verdict: st.Verdict.String(), Duration: st.Duration, Rcpt: rcpt}
				if st.Err != nil {
					ts.Error = st.Err.Error()
				}
				res.Steps = append(res.Steps, ts)
			}
		}}
	ci := smtpd.ConnInfo{ID: "offline"}
	if ip, err := netip.ParseAddr(in.ClientIP); err == nil {
		ci.RemoteAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
	}
	startSession(ctx, s, ci)
	defer s.Close()
	// refused ends the run with the reply r of phase, if it refuses.
	refused := func(r *smtp.Reply, phase string) bool {
		if r == nil || r.Class() == 2 {
			return false
		}
		res.Action, res.Phase = verdictOf(r), phase
		setReply(res, r)
		return true
	}
	if refused(s.info.Refused, "connect") {
		return res
	}
	if refused(s.Helo(ctx, in.Helo, nil), "helo") {
		return res
	}
	r := s.Mail(ctx, in.From, "")
	res.From = in.From
	if s.st != nil {
		res.From = s.st.From
	}
	if refused(r, "mail") {
		return res
	}
	var last *smtp.Reply
	for _, to := range in.Rcpts {
		rcpt = to
		r := s.Rcpt(ctx, to, "")
		rcpt = ""
		if r != nil && r.Class() != 2 {
			res.Rejected = append(res.Rejected, to)
			res.RcptReplies = append(res.RcptReplies, rcptReply(to, verdictOf(r), r))
			last = r
			continue
		}
		// The in-memory downstream accepts; its reply stands in.
		res.RcptReplies = append(res.RcptReplies, rcptReply(to, "accept", smtp.NewReply(250, "2.1.5", "Ok")))
	}
	st := s.st
	if len(st.Rcpts) == 0 {
		if len(in.Rcpts) == 0 {
			last = smtp.NewReply(554, "5.5.1", "No valid recipients")
		}
		refused(last, "rcpt")
		return res
	}
	r = s.Data(ctx, endLine(normalizeCRLF(in.Message)))
	if st.Msg == nil { // the header did not parse: no plugin saw the message
		refused(r, "data")
		return res
	}
	res.From, res.Rcpts = st.From, st.Rcpts
	for k, v := range s.info.Tags {
		res.Tags[k] = v
	}
	for k, v := range st.Tags {
		res.Tags[k] = v
	}
	res.Quarantined = st.Quarantined
	res.Message = string(st.Msg.Bytes())
	if refused(r, "data") {
		return res
	}
	res.Phase = "data"
	setReply(res, r)
	switch {
	case st.Discarded:
		res.Action = "discard"
	case len(st.Quarantined) > 0:
		res.Action = "quarantine"
	default:
		res.Action = "accept"
	}
	return res
}

// verdictOf names the verdict behind a refusal: 5xx is reject, 4xx
// tempfail (the chain checks a plugin's reply against its verdict).
func verdictOf(r *smtp.Reply) string {
	if r.Class() == 5 {
		return "reject"
	}
	return "tempfail"
}

// memoryUpstream is `sluice test`'s downstream: it accepts every command
// and keeps nothing (the session keeps the message it sent).
type memoryUpstream struct{}

func (memoryUpstream) Open(context.Context, upstream.Identity) (upstream.Conn, error) {
	return memoryConn{}, nil
}

type memoryConn struct{}

func (memoryConn) Mail(context.Context, string, string) error { return nil }
func (memoryConn) Rcpt(context.Context, string, string) error { return nil }
func (memoryConn) Data(_ context.Context, msg io.WriterTo) error {
	_, err := msg.WriteTo(io.Discard)
	return err
}
func (memoryConn) Reset(context.Context) error { return nil }
func (memoryConn) LastReply() *smtp.Reply      { return nil }
func (memoryConn) Close() error                { return nil }

func rcptReply(rcpt, action string, r *smtp.Reply) RcptReply {
	rr := RcptReply{Rcpt: rcpt, Action: action}
	if r != nil {
		rr.Code, rr.Enhanced = r.Code, r.Enhanced
		if len(r.Lines) > 0 {
			rr.Text = r.Lines[0]
		}
	}
	return rr
}

func setReply(res *TestResult, r *smtp.Reply) {
	if r == nil {
		return
	}
	res.Code, res.Enhanced = r.Code, r.Enhanced
	if len(r.Lines) > 0 {
		res.Text = r.Lines[0]
	}
}

// endLine ends a message without a final line break with CRLF, as an SMTP
// client does before the terminating dot, so the body a plugin sees is the
// body that is delivered.
func endLine(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b, '\r', '\n')
	}
	return b
}

// normalizeCRLF turns bare LF into CRLF so .eml files saved with Unix line
// endings can be tested.
func normalizeCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/32)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
