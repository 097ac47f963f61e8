package milter

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// These tests play the MTA with go-milter's client, the protocol's other
// side; gateway/e2e runs the same against Postfix.

type hook struct {
	phase filter.Phase
	fn    func(st *filter.State) (filter.Verdict, error)
}

func (h *hook) Has(p filter.Phase) bool { return p == h.phase }
func (h *hook) Call(_ context.Context, st *filter.State) (filter.Verdict, error) {
	return h.fn(st)
}

func testPolicy() *policy.Policy {
	p := &policy.Policy{NoListen: true}
	p.Listen.Hostname = "sluice.test"
	p.Listen.MaxMessageSize = 1 << 20
	p.Listen.MaxHeaderSize = 64 << 10
	p.Listen.MaxHeaderFields = 1000
	return p
}

func gen(p *policy.Policy, entries ...filter.Entry) *bridge.Generation {
	for range len(entries) - len(p.Plugins) {
		p.Plugins = append(p.Plugins, policy.Plugin{})
	}
	return bridge.NewGeneration(p, &filter.Chain{Entries: entries}, nil, nil)
}

func entry(name string, h *hook) filter.Entry { return filter.Entry{Name: name, Plugin: h} }

// serve runs a milter server over b and returns its address.
func serve(t *testing.T, b *bridge.Backend) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(b, nil)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// openMTA opens a milter session as Postfix does and sends connect and HELO.
func openMTA(t *testing.T, addr string) *gomilter.ClientSession {
	t.Helper()
	macros := gomilter.NewMacroBag()
	macros.Set("v", "Postfix 3.7.11")
	macros.Set("j", "mx.sluice.test")
	macros.Set(gomilter.MacroQueueId, "4ABCDEF")
	macros.Set(gomilter.MacroAuthAuthen, "alice")
	c := gomilter.NewClient("tcp", addr)
	s, err := c.Session(macros)
	if err != nil {
		t.Fatalf("milter session: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if act, err := s.Conn("client.example", gomilter.FamilyInet, 4321, "192.0.2.7"); err != nil || act.Type != gomilter.ActionContinue {
		t.Fatalf("connect: %v %v", act, err)
	}
	if act, err := s.Helo("client.example"); err != nil || act.Type != gomilter.ActionContinue {
		t.Fatalf("helo: %v %v", act, err)
	}
	return s
}

// message sends MAIL, RCPTs, the header fields and the body, and returns
// the end-of-message actions.
func send(t *testing.T, s *gomilter.ClientSession, from string, rcpts []string, header []string, body string) ([]gomilter.ModifyAction, *gomilter.Action) {
	t.Helper()
	if act, err := s.Mail(from, ""); err != nil || act.StopProcessing() {
		t.Fatalf("mail: %v %v", act, err)
	}
	for _, r := range rcpts {
		if act, err := s.Rcpt(r, ""); err != nil || act.StopProcessing() {
			t.Fatalf("rcpt %s: %v %v", r, act, err)
		}
	}
	if _, err := s.DataStart(); err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ":")
		if _, err := s.HeaderField(name, value, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.HeaderEnd(); err != nil {
		t.Fatal(err)
	}
	for b := []byte(body); ; {
		n := min(len(b), 60000)
		if _, err := s.BodyChunk(b[:n]); err != nil {
			t.Fatal(err)
		}
		if b = b[n:]; len(b) == 0 {
			break
		}
	}
	mods, act, err := s.End()
	if err != nil {
		t.Fatalf("end of message: %v", err)
	}
	return mods, act
}

// Postfix is asked only for what the chain needs: no body and header
// events, and no replies to steps where no plugin decides, for a chain
// without a data hook; modification actions only for data hooks, and
// envelope actions only with the envelope grant.
func TestNegotiationAsksOnlyForNeeds(t *testing.T) {
	rcptOnly := &hook{phase: filter.Rcpt, fn: func(*filter.State) (filter.Verdict, error) { return filter.Continue, nil }}
	s := openMTA(t, serve(t, bridge.NewBackend(gen(testPolicy(), entry("r", rcptOnly)), nil)))
	for opt, want := range map[gomilter.OptProtocol]bool{
		gomilter.OptNoBody: true, gomilter.OptNoHeaders: true, gomilter.OptNoMailReply: true, gomilter.OptNoConnReply: true,
		gomilter.OptNoRcptReply: false, gomilter.OptNoConnect: false, gomilter.OptNoMailFrom: false,
	} {
		if s.ProtocolOption(opt) != want {
			t.Errorf("rcpt-only chain: protocol %s = %v, want %v", opt, !want, want)
		}
	}
	for opt, want := range map[gomilter.OptAction]bool{
		gomilter.OptChangeBody: false, gomilter.OptChangeHeader: false, gomilter.OptChangeFrom: false, gomilter.OptQuarantine: true,
	} {
		if s.ActionOption(opt) != want {
			t.Errorf("rcpt-only chain: action %s = %v, want %v", opt, !want, want)
		}
	}

	// A HELO refusal must be repeated at MAIL: the MAIL reply is awaited.
	helo := &hook{phase: filter.Helo, fn: func(*filter.State) (filter.Verdict, error) { return filter.Continue, nil }}
	s = openMTA(t, serve(t, bridge.NewBackend(gen(testPolicy(), entry("h", helo)), nil)))
	if s.ProtocolOption(gomilter.OptNoMailReply) || s.ProtocolOption(gomilter.OptNoRcptReply) || !s.ProtocolOption(gomilter.OptNoConnReply) {
		t.Error("helo chain: MAIL and RCPT replies must be awaited, the connect reply not")
	}

	data := &hook{phase: filter.Data, fn: func(*filter.State) (filter.Verdict, error) { return filter.Continue, nil }}
	p := testPolicy()
	g := gen(p, entry("d", data))
	s = openMTA(t, serve(t, bridge.NewBackend(g, nil)))
	if s.ProtocolOption(gomilter.OptNoBody) || !s.ActionOption(gomilter.OptChangeBody|gomilter.OptChangeHeader) || s.ActionOption(gomilter.OptChangeFrom) {
		t.Errorf("data chain without the envelope grant: protocol %v actions", s)
	}
	p = testPolicy()
	g = gen(p, entry("d", data))
	p.Plugins[0].Grants = []string{abi.GrantEnvelope}
	s = openMTA(t, serve(t, bridge.NewBackend(g, nil)))
	if !s.ActionOption(gomilter.OptChangeFrom | gomilter.OptAddRcpt | gomilter.OptRemoveRcpt) {
		t.Error("data chain with the envelope grant: envelope actions not asked for")
	}
}

// Reject and tempfail carry the plugin's code, enhanced code and text
// (SMFIR_REPLYCODE); a plugin error follows on_error.
func TestVerdictReplies(t *testing.T) {
	fault := errors.New("trap")
	rcpt := &hook{phase: filter.Rcpt, fn: func(st *filter.State) (filter.Verdict, error) {
		switch st.Rcpt {
		case "bad@example.test":
			st.Reply = smtp.NewReply(550, "5.1.1", "no such user here")
			return filter.Reject, nil
		case "later@example.test":
			st.Reply = smtp.NewReply(451, "4.7.1", "greylisted, try later")
			return filter.Tempfail, nil
		case "fault@example.test":
			return filter.Continue, fault
		}
		return filter.Continue, nil
	}}
	for _, tc := range []struct {
		onError filter.OnError
		rcpt    string
		want    string
	}{
		{filter.OnErrorTempfail, "bad@example.test", "550 5.1.1 no such user here"},
		{filter.OnErrorTempfail, "later@example.test", "451 4.7.1 greylisted, try later"},
		{filter.OnErrorTempfail, "fault@example.test", "451 4.3.0 "},
		{filter.OnErrorReject, "fault@example.test", "550 5.7.1 "},
	} {
		e := entry("r", rcpt)
		e.OnError = tc.onError
		s := openMTA(t, serve(t, bridge.NewBackend(gen(testPolicy(), e), nil)))
		if act, err := s.Mail("a@sender.test", ""); err != nil || act.StopProcessing() {
			t.Fatalf("mail: %v %v", act, err)
		}
		act, err := s.Rcpt(tc.rcpt, "")
		if err != nil {
			t.Fatal(err)
		}
		if act.Type != gomilter.ActionRejectWithCode || !strings.HasPrefix(act.SMTPReply, tc.want) {
			t.Errorf("%s (on_error %d): got %v, want a reply starting %q", tc.rcpt, tc.onError, act, tc.want)
		}
		// The recipient after a refused one is still judged on its own.
		if act, err := s.Rcpt("good@example.test", ""); err != nil || act.Type != gomilter.ActionContinue {
			t.Errorf("next recipient: %v %v", act, err)
		}
	}
}

// The data phase's changes come back as modification actions: envelope,
// header fields (with index semantics), quarantine and a body replaced in
// chunks of at most 64 KiB; the info keys queue_id and auth.user come from
// the macros i and {auth_authen}.
func TestDataMutations(t *testing.T) {
	var seen struct{ queueID, authUser, client string }
	big := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n", 3000) // ~190 KiB
	data := &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		seen.queueID, seen.authUser, seen.client = st.QueueID, st.Session.AuthUser, st.Session.ClientIP.String()
		st.Touch()
		st.From = "new@sender.test"
		st.Rcpts = []string{"bob@example.test", "carol@example.test"}
		st.EnvelopeChanged = true
		i := st.Msg.Find([]byte("Subject"), 0)
		if _, err := st.Msg.Change(i, []byte("[tagged] hello")); err != nil {
			return filter.Continue, err
		}
		f, _ := message.Render([]byte("X-Mid"), []byte("m"))
		st.Msg.Insert(i, f)
		st.Msg.SetBody([]byte(big))
		st.Reply = smtp.NewReply(550, "5.7.1", "looks odd")
		return filter.Quarantine, nil
	}}
	p := testPolicy()
	g := gen(p, entry("q", data))
	p.Plugins[0].Grants = []string{abi.GrantEnvelope}
	s := openMTA(t, serve(t, bridge.NewBackend(g, nil)))
	mods, act := send(t, s, "old@sender.test", []string{"alice@example.test", "bob@example.test"},
		[]string{"From: a@sender.test", "Subject: hello", "To: bob@example.test"}, "short body\r\n")
	if act.Type != gomilter.ActionAccept {
		t.Fatalf("end of message: %v", act)
	}
	if seen.queueID != "4ABCDEF" || seen.authUser != "alice" || seen.client != "192.0.2.7" {
		t.Errorf("plugins saw queue id %q, auth user %q, client %q", seen.queueID, seen.authUser, seen.client)
	}
	var body bytes.Buffer
	var got []string
	for _, m := range mods {
		switch m.Type {
		case gomilter.ActionReplaceBody:
			if len(m.Body) > int(gomilter.DataSize64K) {
				t.Errorf("body chunk of %d bytes", len(m.Body))
			}
			body.Write(m.Body)
			continue
		case gomilter.ActionChangeFrom:
			got = append(got, "from "+m.From)
		case gomilter.ActionAddRcpt:
			got = append(got, "add "+m.Rcpt)
		case gomilter.ActionDelRcpt:
			got = append(got, "del "+m.Rcpt)
		case gomilter.ActionQuarantine:
			got = append(got, "quarantine "+m.Reason)
		case gomilter.ActionChangeHeader:
			got = append(got, "change "+m.HeaderName+m.HeaderValue)
		case gomilter.ActionInsertHeader:
			got = append(got, "insert "+m.HeaderName+m.HeaderValue)
		case gomilter.ActionAddHeader:
			got = append(got, "add "+m.HeaderName+m.HeaderValue)
		}
	}
	want := []string{"from <new@sender.test>", "del <alice@example.test>", "add <carol@example.test>",
		"insert X-Sluice-Quarantine q: looks odd", "insert X-Mid m", "change Subject [tagged] hello", "quarantine q: looks odd"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions\n%q\nwant\n%q", got, want)
	}
	if body.String() != big {
		t.Errorf("replaced body: %d bytes, want %d", body.Len(), len(big))
	}
}

// Discard at the data phase is SMFIR_DISCARD; a message over the
// listener's max_message_size is refused with 552 without being kept.
func TestDiscardAndSizeBound(t *testing.T) {
	discard := &hook{phase: filter.Data, fn: func(*filter.State) (filter.Verdict, error) { return filter.Discard, nil }}
	s := openMTA(t, serve(t, bridge.NewBackend(gen(testPolicy(), entry("d", discard)), nil)))
	if _, act := send(t, s, "a@sender.test", []string{"bob@example.test"}, []string{"Subject: x"}, "body\r\n"); act.Type != gomilter.ActionDiscard {
		t.Errorf("discard: got %v", act)
	}

	p := testPolicy()
	p.Listen.MaxMessageSize = 10 << 10
	s = openMTA(t, serve(t, bridge.NewBackend(gen(p, entry("d", &hook{phase: filter.Data, fn: func(*filter.State) (filter.Verdict, error) { return filter.Continue, nil }})), nil)))
	_, act := send(t, s, "a@sender.test", []string{"bob@example.test"}, []string{"Subject: x"}, strings.Repeat("x", 100<<10))
	if act.Type != gomilter.ActionRejectWithCode || !strings.HasPrefix(act.SMTPReply, "552 5.3.4") {
		t.Errorf("oversized message: got %v", act)
	}
}

// A HELO rejection refuses every later MAIL of the session with the same
// reply, as in proxy mode.
func TestHeloRefusalRepeated(t *testing.T) {
	helo := &hook{phase: filter.Helo, fn: func(st *filter.State) (filter.Verdict, error) {
		st.Reply = smtp.NewReply(550, "5.7.1", "bad HELO")
		return filter.Reject, nil
	}}
	c := gomilter.NewClient("tcp", serve(t, bridge.NewBackend(gen(testPolicy(), entry("h", helo)), nil)))
	s, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Conn("client.example", gomilter.FamilyInet, 4321, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if act, err := s.Helo("bad.example"); err != nil || !strings.HasPrefix(act.SMTPReply, "550 5.7.1 bad HELO") {
		t.Fatalf("helo: %v %v", act, err)
	}
	if act, err := s.Mail("a@sender.test", ""); err != nil || !strings.HasPrefix(act.SMTPReply, "550 5.7.1 bad HELO") {
		t.Errorf("mail after a refused HELO: %v %v", act, err)
	}
}

// A milter session keeps the generation it started on across a swap; the
// next session gets the new one. With no generation (shutting down) the
// MTA's negotiation fails, so Postfix applies milter_default_action.
func TestSessionPinnedToGeneration(t *testing.T) {
	tagger := func(v string) *hook {
		return &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
			st.Touch()
			f, _ := message.Render([]byte("X-Gen"), []byte(v))
			st.Msg.Insert(len(st.Msg.Fields), f)
			return filter.Continue, nil
		}}
	}
	b := bridge.NewBackend(gen(testPolicy(), entry("t", tagger("1"))), nil)
	addr := serve(t, b)
	old := openMTA(t, addr)
	b.Swap(gen(testPolicy(), entry("t", tagger("2"))))
	fresh := openMTA(t, addr)
	for _, tc := range []struct {
		s    *gomilter.ClientSession
		want string
	}{{old, "1"}, {fresh, "2"}} {
		mods, _ := send(t, tc.s, "a@sender.test", []string{"bob@example.test"}, []string{"Subject: x"}, "body\r\n")
		if len(mods) != 1 || mods[0].HeaderName != "X-Gen" || mods[0].HeaderValue != " "+tc.want {
			t.Errorf("want X-Gen %s, got %v", tc.want, mods)
		}
	}
	b.Close()
	macros := gomilter.NewMacroBag()
	if s, err := gomilter.NewClient("tcp", addr).Session(macros); err == nil {
		s.Close()
		t.Error("negotiation succeeded with no generation serving")
	}
}
