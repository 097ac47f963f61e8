package proxy

import (
	"context"
	"net/netip"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
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

// RunTest runs one message through the generation's chain the way a live
// session would, without network: connect, helo, mail, each rcpt, data.
func RunTest(ctx context.Context, gen *Generation, in TestInput) *TestResult {
	res := &TestResult{Tags: map[string]string{}, Rcpts: []string{}, Steps: []TestStep{}, RcptReplies: []RcptReply{}}
	info := &filter.Session{ID: "offline", Hostname: gen.hostname, Helo: in.Helo, Tags: filter.Tags{}}
	if ip, err := netip.ParseAddr(in.ClientIP); err == nil {
		info.ClientIP = ip
	}
	record := func(out filter.Outcome, rcpt string) {
		for _, s := range out.Steps {
			ts := TestStep{Plugin: s.Plugin, Phase: s.Phase.String(), Verdict: s.Verdict.String(), Duration: s.Duration, Rcpt: rcpt}
			if s.Err != nil {
				ts.Error = s.Err.Error()
			}
			res.Steps = append(res.Steps, ts)
		}
	}
	decide := func(out filter.Outcome, ph filter.Phase) bool {
		if out.Verdict != filter.Reject && out.Verdict != filter.Tempfail {
			return false
		}
		res.Action, res.Phase = out.Verdict.String(), ph.String()
		setReply(res, out.Reply)
		return true
	}
	st := filter.NewState(info)
	for _, ph := range []filter.Phase{filter.Connect, filter.Helo} {
		st.Phase = ph
		out := gen.chain.Run(ctx, st)
		record(out, "")
		if decide(out, ph) {
			return res
		}
	}
	st = filter.NewState(info)
	st.Phase, st.From = filter.Mail, in.From
	out := gen.chain.Run(ctx, st)
	record(out, "")
	res.From = st.From
	if decide(out, filter.Mail) {
		return res
	}
	var last filter.Outcome
	for _, r := range in.Rcpts {
		st.Phase, st.Rcpt = filter.Rcpt, r
		out := gen.chain.Run(ctx, st)
		record(out, r)
		st.Rcpt = ""
		if out.Verdict == filter.Reject || out.Verdict == filter.Tempfail {
			res.Rejected = append(res.Rejected, r)
			res.RcptReplies = append(res.RcptReplies, rcptReply(r, out.Verdict.String(), out.Reply))
			last = out
			continue
		}
		res.RcptReplies = append(res.RcptReplies, rcptReply(r, "accept", smtp.NewReply(250, "2.1.5", "Ok")))
		st.Rcpts = append(st.Rcpts, r)
	}
	if len(st.Rcpts) == 0 {
		if len(in.Rcpts) == 0 {
			last = filter.Outcome{Verdict: filter.Reject, Reply: smtp.NewReply(554, "5.5.1", "No valid recipients")}
		}
		decide(last, filter.Rcpt)
		return res
	}
	msg, err := message.Parse(endLine(normalizeCRLF(in.Message)), gen.limits)
	if err != nil {
		res.Action, res.Phase = "reject", "data"
		setReply(res, smtp.ReplyHeaderTooBig)
		return res
	}
	st.Phase, st.Msg = filter.Data, msg
	out = gen.chain.Run(ctx, st)
	record(out, "")
	res.From, res.Rcpts = st.From, st.Rcpts
	for k, v := range info.Tags {
		res.Tags[k] = v
	}
	for k, v := range st.Tags {
		res.Tags[k] = v
	}
	res.Quarantined = st.Quarantined
	if decide(out, filter.Data) {
		res.Message = string(st.Msg.Bytes())
		return res
	}
	if !st.Discarded && !info.Discarded {
		markQuarantined(st)
	}
	res.Message = string(st.Msg.Bytes())
	res.Phase = "data"
	switch {
	case st.Discarded || info.Discarded:
		res.Action = "discard"
		setReply(res, smtp.NewReply(250, "2.0.0", "Ok: discarded"))
	case len(st.Quarantined) > 0:
		res.Action = "quarantine"
		setReply(res, smtp.NewReply(250, "2.0.0", "Ok: queued"))
	default:
		res.Action = "accept"
		setReply(res, smtp.NewReply(250, "2.0.0", "Ok: queued"))
	}
	return res
}

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
