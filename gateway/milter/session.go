package milter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	gomilter "github.com/d--j/go-milter"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// maxBodyChunk is the largest SMFIR_REPLBODY packet: the protocol's 64 KiB
// minus the command byte.
const maxBodyChunk = int(gomilter.DataSize64K)

// session is one milter connection: for Postfix, one SMTP session (or one
// locally submitted message). It pins the generation current when the MTA
// connected, as an SMTP session does, until the MTA closes the connection.
type session struct {
	gen     *bridge.Generation // nil: no generation served (tempfail all)
	log     *slog.Logger
	actions gomilter.OptAction // negotiated

	info *filter.Session
	st   *filter.State // current transaction
	// mtaFrom and mtaRcpts are the envelope as the MTA has it; the chain
	// may change st's from the mail phase on (mail_set).
	mtaFrom  string
	mtaRcpts []string

	// hidden is how many header fields the MTA has above those it sends:
	// Postfix does not send the Received: field it prepends, yet counts it
	// in SMFIR_INSHEADER's index (gateway/e2e TestMilterHeaderIndexes).
	hidden int

	raw     bytes.Buffer // header fields then body, as collected
	inBody  bool
	tooBig  bool
	maxSize int64
}

func (s *Server) newSession(_ uint32, actions gomilter.OptAction, _ gomilter.OptProtocol, _ gomilter.DataSize) gomilter.Milter {
	gen := s.gens.Acquire()
	ss := &session{gen: gen, actions: actions, log: s.log}
	if gen == nil {
		return ss
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	ss.log = gen.Logger().With("milter_session", hex.EncodeToString(id[:]))
	ss.maxSize = gen.Policy.Listen.MaxMessageSize
	ss.info = &filter.Session{ID: "m" + hex.EncodeToString(id[:]), Hostname: gen.Hostname(), Tags: filter.Tags{}}
	gen.Observer().SessionStart()
	return ss
}

// run passes st through the chain and reports every step (as bridge does).
func (s *session) run(st *filter.State) filter.Outcome {
	out := s.gen.Chain().Run(context.Background(), st)
	s.gen.ReportSteps(s.log, out.Steps)
	return out
}

// replyCode turns a reject or tempfail reply into SMFIR_REPLYCODE with the
// plugin's code, enhanced code and text.
func (s *session) replyCode(r *smtp.Reply) *gomilter.Response {
	r = r.Sanitized()
	text := strings.Join(r.Lines, "\n")
	if r.Enhanced != "" {
		text = r.Enhanced + " " + text
	}
	resp, err := gomilter.RejectWithCodeAndReason(uint16(r.Code), text)
	if err != nil {
		s.log.Error("milter: cannot encode reply; tempfailing", "code", r.Code, "err", err)
		if r.Class() == 5 {
			return gomilter.RespReject
		}
		return gomilter.RespTempFail
	}
	return resp
}

// tempfail is the answer when Sluice itself cannot filter: never accept
// unfiltered mail.
func (s *session) tempfail() *gomilter.Response { return s.replyCode(smtp.ReplyInternal) }

// verdict maps a chain outcome to the milter response of a phase before
// end-of-message.
func (s *session) verdict(out filter.Outcome, st *filter.State) *gomilter.Response {
	switch out.Verdict {
	case filter.Reject, filter.Tempfail:
		return s.replyCode(out.Reply)
	}
	if st.Discarded || s.info.Discarded {
		return gomilter.RespDiscard
	}
	return gomilter.RespContinue
}

func (s *session) NewConnection(gomilter.Modifier) error { return nil }

func (s *session) Connect(host, family string, port uint16, addr string, m gomilter.Modifier) (*gomilter.Response, error) {
	if s.gen == nil {
		return s.tempfail(), nil
	}
	s.info.Tags = filter.Tags{}
	if ip, err := netip.ParseAddr(addr); err == nil {
		s.info.ClientIP, s.info.ClientPort = ip.Unmap(), int(port)
	} else if ip, err := netip.ParseAddr(m.Get("{client_addr}")); err == nil {
		s.info.ClientIP = ip.Unmap()
		s.info.ClientPort, _ = strconv.Atoi(m.Get("{client_port}"))
	}
	name := m.Get("{client_name}")
	if name == "" {
		name = host
	}
	if name != "unknown" && !strings.HasPrefix(name, "[") {
		s.info.ClientName = name
	}
	if strings.Contains(m.Get("v"), "Postfix") {
		s.hidden = 1
	}
	if j := m.Get("j"); j != "" {
		s.info.Hostname = j
	}
	s.info.Refused, s.info.Discarded = nil, false
	s.tls(m)
	s.log.Debug("milter connect", "client", addr, "name", name, "daemon", m.Get("{daemon_name}"), "family", family)
	return s.runSessionPhase(filter.Connect), nil
}

// runSessionPhase runs a phase of the session (connect, HELO): a reject or
// tempfail refuses the session's every later command with the same reply.
// A discard discards every transaction of the session: each MAIL answers
// SMFIR_DISCARD.
func (s *session) runSessionPhase(phase filter.Phase) *gomilter.Response {
	st := filter.NewState(s.info)
	st.Phase = phase
	out := s.run(st)
	if out.Verdict == filter.Reject || out.Verdict == filter.Tempfail {
		s.info.Refused = out.Reply
		return s.replyCode(out.Reply)
	}
	return gomilter.RespContinue
}

// tls reads the TLS macros, which Postfix sends from HELO on.
func (s *session) tls(m gomilter.Modifier) {
	if v := m.Get("{tls_version}"); v != "" {
		s.info.TLSVersion = strings.ReplaceAll(v, "v", "")
		s.info.TLSCipher = m.Get("{cipher}")
	}
}

func (s *session) Helo(name string, m gomilter.Modifier) (*gomilter.Response, error) {
	if s.gen == nil {
		return s.tempfail(), nil
	}
	s.info.Helo = name
	s.tls(m)
	if s.info.Refused != nil {
		return s.replyCode(s.info.Refused), nil
	}
	return s.runSessionPhase(filter.Helo), nil
}

func (s *session) MailFrom(from, params string, m gomilter.Modifier) (*gomilter.Response, error) {
	if s.gen == nil {
		return s.tempfail(), nil
	}
	s.reset()
	s.tls(m)
	s.info.AuthUser = m.Get("{auth_authen}")
	if s.info.Refused != nil {
		return s.replyCode(s.info.Refused), nil
	}
	st := filter.NewState(s.info)
	st.Phase, st.From, st.MailParams, st.QueueID = filter.Mail, from, params, m.Get("i")
	out := s.run(st)
	if out.Verdict == filter.Reject || out.Verdict == filter.Tempfail {
		return s.replyCode(out.Reply), nil
	}
	s.st, s.mtaFrom, s.mtaRcpts = st, from, nil
	return s.verdict(out, st), nil
}

func (s *session) RcptTo(to, params string, m gomilter.Modifier) (*gomilter.Response, error) {
	if s.gen == nil || s.st == nil {
		return s.tempfail(), nil
	}
	st := s.st
	st.Phase, st.Rcpt, st.RcptParams = filter.Rcpt, to, params
	out := s.run(st)
	st.Rcpt, st.RcptParams = "", ""
	if out.Verdict == filter.Reject || out.Verdict == filter.Tempfail {
		return s.replyCode(out.Reply), nil
	}
	st.Rcpts = append(st.Rcpts, to)
	s.mtaRcpts = append(s.mtaRcpts, to)
	return s.verdict(out, st), nil
}

func (s *session) Data(gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

// Header collects one field as the MTA sends it. With
// SMFIP_HDR_LEADSPC the value is everything after the colon; folded
// values come with LF line breaks, made CRLF again here.
func (s *session) Header(name, value string, m gomilter.Modifier) (*gomilter.Response, error) {
	if s.tooBig || s.st == nil {
		return gomilter.RespContinue, nil
	}
	if m.Protocol()&gomilter.OptHeaderLeadingSpace == 0 {
		value = " " + value
	}
	value = strings.ReplaceAll(strings.ReplaceAll(value, "\r\n", "\n"), "\n", "\r\n")
	s.add([]byte(name + ":" + value + "\r\n"))
	return gomilter.RespContinue, nil
}

func (s *session) Headers(gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

func (s *session) BodyChunk(chunk []byte, _ gomilter.Modifier) (*gomilter.Response, error) {
	if s.tooBig || s.st == nil {
		return gomilter.RespContinue, nil
	}
	if !s.inBody {
		s.inBody = true
		s.add([]byte("\r\n"))
	}
	s.add(chunk)
	return gomilter.RespContinue, nil
}

// add appends to the collected message within the listener's
// max_message_size (memory stays bounded whatever the MTA sends).
func (s *session) add(b []byte) {
	if int64(s.raw.Len()+len(b)) > s.maxSize {
		s.tooBig = true
		s.raw.Reset()
		return
	}
	s.raw.Write(b)
}

// EndOfMessage runs the data phase on the collected message and sends the
// plugins' changes, then the verdict. Every failure on the way is a
// tempfail: the MTA then keeps the message out of its queue.
func (s *session) EndOfMessage(m gomilter.Modifier) (*gomilter.Response, error) {
	if s.gen == nil || s.st == nil {
		return s.tempfail(), nil
	}
	st := s.st
	defer s.reset()
	obs := s.gen.Observer()
	if s.tooBig {
		obs.Transaction("rejected")
		return s.replyCode(smtp.NewReply(552, "5.3.4", "Message size exceeds fixed limit")), nil
	}
	if id := m.Get("i"); id != "" {
		st.QueueID = id
	}
	if !s.inBody {
		s.raw.WriteString("\r\n")
	}
	msg, err := message.Parse(s.raw.Bytes(), s.gen.Limits())
	if err != nil {
		obs.Transaction("rejected")
		return s.replyCode(smtp.ReplyHeaderTooBig), nil
	}
	before := append([]message.Field(nil), msg.Fields...)
	body := msg.Body
	st.Msg, st.Phase = msg, filter.Data
	out := s.run(st)
	switch out.Verdict {
	case filter.Reject, filter.Tempfail:
		if out.Reply.Class() == 5 {
			obs.Transaction("rejected")
		} else {
			obs.Transaction("tempfailed")
		}
		return s.replyCode(out.Reply), nil
	}
	if st.Discarded || s.info.Discarded {
		obs.Transaction("discarded")
		s.log.Info("message discarded by policy", "from", st.From, "rcpts", len(st.Rcpts), "queue_id", st.QueueID)
		return gomilter.RespDiscard, nil
	}
	bridge.MarkQuarantined(st)
	if err := s.apply(m, st, before, body, s.mtaFrom, s.mtaRcpts); err != nil {
		s.log.Error("milter: cannot send the plugins' changes; tempfailing", "err", err, "queue_id", st.QueueID)
		obs.Transaction("tempfailed")
		return s.tempfail(), nil
	}
	obs.Transaction("delivered")
	s.log.Info("message accepted", "from", st.From, "rcpts", len(st.Rcpts), "queue_id", st.QueueID, "quarantined", len(st.Quarantined) > 0)
	return gomilter.RespAccept, nil
}

// apply sends the modification actions that turn the message and envelope
// the MTA has into the ones the chain left. An action the MTA did not
// grant in negotiation (a reload changed the policy in between) is an
// error, never a silent skip.
func (s *session) apply(m gomilter.Modifier, st *filter.State, before []message.Field, body []byte, from string, rcpts []string) error {
	if st.From != from {
		if err := m.ChangeFrom(st.From, ""); err != nil {
			return err
		}
	}
	for _, r := range rcpts {
		if !slices.Contains(st.Rcpts, r) {
			if err := m.DeleteRecipient(r); err != nil {
				return err
			}
		}
	}
	for _, r := range st.Rcpts {
		if !slices.Contains(rcpts, r) {
			if err := m.AddRecipient(r, ""); err != nil {
				return err
			}
		}
	}
	for _, e := range HeaderEdits(before, st.Msg.Fields) {
		var err error
		switch e.Op {
		case Add:
			err = m.AddHeader(e.Name, e.Value)
		case Change:
			err = m.ChangeHeader(e.Index, e.Name, e.Value)
		case Insert:
			i := e.Index
			if i > 0 { // 0 stays the very top, above the hidden fields
				i += s.hidden
			}
			err = m.InsertHeader(i, e.Name, e.Value)
		}
		if err != nil {
			return err
		}
	}
	for _, q := range st.Quarantined {
		if err := m.Quarantine(q); err != nil {
			return err
		}
	}
	if !bytes.Equal(body, st.Msg.Body) {
		b := st.Msg.Body
		if len(b) == 0 {
			return m.ReplaceBodyRawChunk(nil)
		}
		for len(b) > 0 {
			n := min(len(b), maxBodyChunk)
			if err := m.ReplaceBodyRawChunk(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
	}
	return nil
}

// reset ends the transaction (new MAIL, abort, end of message).
func (s *session) reset() {
	s.st, s.mtaFrom, s.mtaRcpts = nil, "", nil
	s.raw.Reset()
	s.inBody, s.tooBig = false, false
}

func (s *session) Abort(gomilter.Modifier) error {
	s.reset()
	return nil
}

func (s *session) Unknown(string, gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

// Cleanup ends the session and unpins its generation.
func (s *session) Cleanup(gomilter.Modifier) {
	if s.gen == nil {
		return
	}
	s.gen.Observer().SessionEnd()
	s.gen.Release()
	s.gen = nil
}
