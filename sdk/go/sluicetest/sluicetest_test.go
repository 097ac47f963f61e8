package sluicetest_test

import (
	"slices"
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const msg = "Subject: hello\r\n" +
	"Received: from a\r\n" +
	"  by b\r\n" +
	"X-Dup: 1\r\n" +
	"x-dup: 2\r\n" +
	"\r\n" +
	"body line\r\n"

func dataSession(t *testing.T) *sluicetest.Session {
	t.Helper()
	s := sluicetest.New()
	s.Grant(sluice.GrantEnvelope)
	s.SetEnvelope("from@example.org", "to@example.net")
	if err := s.SetMessage([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMessageRoundTripAndLF(t *testing.T) {
	s := dataSession(t)
	if got := string(s.Message()); got != msg {
		t.Fatalf("unchanged message = %q", got)
	}
	if err := s.SetMessage([]byte("A: b\n\nbody\n")); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Message()); got != "A: b\r\n\r\nbody\r\n" {
		t.Fatalf("LF message = %q", got)
	}
}

func TestHeaderAccess(t *testing.T) {
	s := dataSession(t)
	r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		if n := h.HeaderCount(); n != 4 {
			t.Errorf("HeaderCount = %d", n)
		}
		if v, _ := h.HeaderValue(1); v != "from a\r\n  by b" {
			t.Errorf("folded value = %q", v)
		}
		if i, ok := h.FindHeader("X-DUP", 1); !ok || i != 3 {
			t.Errorf("FindHeader(X-DUP, 1) = %d, %v", i, ok)
		}
		if n, _ := h.HeaderName(3); n != "x-dup" {
			t.Errorf("HeaderName(3) = %q", n)
		}
		h.AddHeader("X-End", "e")
		if !h.InsertHeader(0, "X-Top", "t") {
			t.Error("InsertHeader(0) failed")
		}
		if h.InsertHeader(99, "X-No", "n") {
			t.Error("InsertHeader(99) succeeded")
		}
		if !h.ChangeHeader(1, "[x] hello") {
			t.Error("ChangeHeader(1) failed")
		}
		if !h.DeleteHeader(4) { // x-dup: 2
			t.Error("DeleteHeader(4) failed")
		}
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := "X-Top: t\r\nSubject: [x] hello\r\nReceived: from a\r\n  by b\r\nX-Dup: 1\r\nX-End: e\r\n\r\nbody line\r\n"
	if got := string(s.Message()); got != want {
		t.Fatalf("message =\n%q\nwant\n%q", got, want)
	}
	wantEffects := []string{`header_add "X-End" "e"`, `header_insert 0 "X-Top" "t"`, `header_change 1 "[x] hello"`, `header_delete 4`}
	if got := s.Effects(); !slices.Equal(got, wantEffects) {
		t.Fatalf("effects = %q", got)
	}
}

// TestTraps checks that misuse ends the call as a plugin error (ABI §4, §5)
// and that the changes made before it are discarded.
func TestTraps(t *testing.T) {
	tests := []struct {
		name  string
		phase sluicetest.Phase
		call  func(h sluice.Host)
		want  string
	}{
		{"header name with colon", sluicetest.PhaseData, func(h sluice.Host) { h.AddHeader("X:Y", "v") }, "header name"},
		{"empty header name", sluicetest.PhaseData, func(h sluice.Host) { h.AddHeader("", "v") }, "header name"},
		{"bare LF in value", sluicetest.PhaseData, func(h sluice.Host) { h.AddHeader("X", "a\nb") }, "CR or LF"},
		{"CRLF injection", sluicetest.PhaseData, func(h sluice.Host) { h.AddHeader("X", "a\r\nBcc: x@y") }, "CR or LF"},
		{"empty continuation", sluicetest.PhaseData, func(h sluice.Host) { h.ChangeHeader(0, "a\r\n \r\n b") }, "whitespace-only"},
		{"header add at mail", sluicetest.PhaseMail, func(h sluice.Host) { h.AddHeader("X", "v") }, "header_add: not allowed in mail phase"},
		{"body replace at rcpt", sluicetest.PhaseRcpt, func(h sluice.Host) { h.ReplaceBody(nil) }, "body_replace: not allowed in rcpt phase"},
		{"mail_set at rcpt", sluicetest.PhaseRcpt, func(h sluice.Host) { h.SetMailFrom("a@b") }, "not allowed"},
		{"rcpt_add at mail", sluicetest.PhaseMail, func(h sluice.Host) { h.AddRcpt("a@b") }, "not allowed"},
		{"address with space", sluicetest.PhaseData, func(h sluice.Host) { h.AddRcpt("a b@c") }, "contains a space"},
		{"address with brackets", sluicetest.PhaseMail, func(h sluice.Host) { h.SetMailFrom("<a@b>") }, "angle bracket"},
		{"address without domain", sluicetest.PhaseData, func(h sluice.Host) { h.AddRcpt("postmaster") }, "local@domain"},
		{"remove the last recipient", sluicetest.PhaseData, func(h sluice.Host) {
			h.RemoveRcpt("extra@example.net")
			h.RemoveRcpt("TO@example.net")
		}, "removed every recipient"},
		{"tag key", sluicetest.PhaseMail, func(h sluice.Host) { h.SetTag("a b", "v") }, "tag key"},
		{"tag key on read", sluicetest.PhaseMail, func(h sluice.Host) { h.Tag("") }, "tag key"},
		{"tag value", sluicetest.PhaseMail, func(h sluice.Host) { h.SetTag("k", "a\rb") }, "tag value"},
		{"tag set at configure", sluicetest.PhaseConfigure, func(h sluice.Host) { h.SetTag("k", "v") }, "tag_set: not allowed in sluice_configure"},
		{"reply 2xx", sluicetest.PhaseMail, func(h sluice.Host) { h.SetReply(250, "", "ok") }, "between 400 and 599"},
		{"reply text control", sluicetest.PhaseMail, func(h sluice.Host) { h.SetReply(550, "", "a\r\n550 b") }, "0x0d"},
		{"reply text empty", sluicetest.PhaseMail, func(h sluice.Host) { h.SetReply(550, "", "") }, "1 to 400"},
		{"reply enhanced", sluicetest.PhaseMail, func(h sluice.Host) { h.SetReply(550, "5.7", "x") }, "enhanced"},
		{"log level", sluicetest.PhaseMail, func(h sluice.Host) { h.Log(7, "x") }, "log level"},
		{"panic", sluicetest.PhaseMail, func(h sluice.Host) { panic("boom") }, "plugin panicked: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dataSession(t)
			r := s.Run(tt.phase, func(h sluice.Host) sluice.Verdict {
				if tt.phase == sluicetest.PhaseData {
					h.AddHeader("X-Before", "trap")
					h.AddRcpt("extra@example.net")
				}
				if tt.phase >= sluicetest.PhaseConnect {
					h.SetTag("before", "trap")
				}
				tt.call(h)
				return sluice.VerdictContinue
			})
			if r.Err == nil || !strings.Contains(r.Err.Error(), tt.want) {
				t.Fatalf("Err = %v, want it to contain %q", r.Err, tt.want)
			}
			if got := string(s.Message()); got != msg {
				t.Errorf("message not rolled back: %q", got)
			}
			if got := s.Rcpts(); !slices.Equal(got, []string{"to@example.net"}) {
				t.Errorf("recipients not rolled back: %q", got)
			}
			if len(s.Tags()) != 0 || len(s.Effects()) != 0 {
				t.Errorf("tags %v / effects %q not rolled back", s.Tags(), s.Effects())
			}
		})
	}
}

func TestBodyCheckedWhenHookReturns(t *testing.T) {
	s := dataSession(t)
	r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		h.ReplaceBody([]byte("bare\nLF\r\n"))
		h.ReplaceBody([]byte("fixed\r\n")) // the check runs at return: this repairs it
		h.AppendBody([]byte("more\r\n"))
		return sluice.VerdictContinue
	})
	if r.Err != nil || string(s.Body()) != "fixed\r\nmore\r\n" {
		t.Fatalf("Err = %v, body %q", r.Err, s.Body())
	}
	r = s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		h.AppendBody([]byte("nul\x00\r\n"))
		return sluice.VerdictContinue
	})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "NUL") || string(s.Body()) != "fixed\r\nmore\r\n" {
		t.Fatalf("Err = %v, body %q", r.Err, s.Body())
	}
}

func TestInfoByPhase(t *testing.T) {
	s := sluicetest.New()
	s.SetInfo(sluice.InfoTLS, "TLS1.3")
	seen := map[sluicetest.Phase]map[string]string{}
	var keys = []string{sluice.InfoClientIP, sluice.InfoTLS, sluice.InfoClientName, sluice.InfoHelo,
		sluice.InfoMailFrom, sluice.InfoRcpt, sluice.InfoPhase, sluice.InfoPlugin}
	p := &recorder{onHook: func(ph sluicetest.Phase, h sluice.Host) {
		m := map[string]string{}
		for _, k := range keys {
			if v, ok := h.Info(k); ok {
				m[k] = v
			}
		}
		seen[ph] = m
	}}
	if err := s.Configure(p, `{}`); err != nil {
		t.Fatal(err)
	}
	s.Connect(p)
	s.Helo(p, "client.example")
	s.Mail(p, "")
	s.Rcpt(p, "to@example.net")
	s.SetMessage([]byte("A: b\r\n\r\n"))
	s.Data(p)

	want := map[sluicetest.Phase]string{
		sluicetest.PhaseConfigure: "plugin.name=test",
		sluicetest.PhaseConnect:   "client.ip=192.0.2.1 phase=connect plugin.name=test tls=TLS1.3",
		sluicetest.PhaseHelo:      "client.ip=192.0.2.1 helo=client.example phase=helo plugin.name=test tls=TLS1.3",
		sluicetest.PhaseMail:      "client.ip=192.0.2.1 helo=client.example mail.from= phase=mail plugin.name=test tls=TLS1.3",
		sluicetest.PhaseRcpt:      "client.ip=192.0.2.1 helo=client.example mail.from= phase=rcpt plugin.name=test rcpt=to@example.net tls=TLS1.3",
		sluicetest.PhaseData:      "client.ip=192.0.2.1 helo=client.example mail.from= phase=data plugin.name=test tls=TLS1.3",
	}
	for ph, w := range want {
		var parts []string
		for k, v := range seen[ph] {
			parts = append(parts, k+"="+v)
		}
		slices.Sort(parts)
		if got := strings.Join(parts, " "); got != w {
			t.Errorf("%v: %s\nwant %s", ph, got, w)
		}
	}
}

// recorder implements every hook and reports each call.
type recorder struct {
	onHook  func(sluicetest.Phase, sluice.Host)
	verdict sluice.Verdict
}

func (r *recorder) Configure(h sluice.Host) error {
	r.onHook(sluicetest.PhaseConfigure, h)
	return nil
}
func (r *recorder) OnConnect(h sluice.Host) sluice.Verdict {
	r.onHook(sluicetest.PhaseConnect, h)
	return r.verdict
}
func (r *recorder) OnHelo(h sluice.Host) sluice.Verdict {
	r.onHook(sluicetest.PhaseHelo, h)
	return r.verdict
}
func (r *recorder) OnMail(h sluice.Host) sluice.Verdict {
	r.onHook(sluicetest.PhaseMail, h)
	return r.verdict
}
func (r *recorder) OnRcpt(h sluice.Host) sluice.Verdict {
	r.onHook(sluicetest.PhaseRcpt, h)
	return r.verdict
}
func (r *recorder) OnData(h sluice.Host) sluice.Verdict {
	r.onHook(sluicetest.PhaseData, h)
	return r.verdict
}

func TestTagScopes(t *testing.T) {
	s := sluicetest.New()
	p := &recorder{onHook: func(ph sluicetest.Phase, h sluice.Host) {
		h.SetTag("phase."+ph.String(), "1")
		h.SetTag("shadow", ph.String())
	}}
	s.Connect(p)
	s.Mail(p, "a@example.org")
	if got := s.Tags(); got["phase.connect"] != "1" || got["phase.mail"] != "1" || got["shadow"] != "mail" {
		t.Fatalf("tags after mail = %v", got)
	}
	s.Mail(p.withNoHooks(), "b@example.org") // a new transaction clears transaction tags
	if got := s.Tags(); got["phase.mail"] != "" || got["shadow"] != "connect" || got["phase.connect"] != "1" {
		t.Fatalf("tags after a new transaction = %v", got)
	}
}

// withNoHooks returns a plugin with no hooks at all.
func (r *recorder) withNoHooks() any { return struct{}{} }

func TestRcptAcceptedUnlessRefused(t *testing.T) {
	s := sluicetest.New()
	counts := []int{}
	p := &recorder{onHook: func(ph sluicetest.Phase, h sluice.Host) {
		if ph == sluicetest.PhaseRcpt {
			counts = append(counts, h.RcptCount())
		}
	}}
	s.Mail(p, "a@example.org")
	s.Rcpt(p, "one@example.net")
	p.verdict = sluice.VerdictReject
	if r := s.Rcpt(p, "two@example.net"); r.Reply == nil || r.Reply.Code != 550 {
		t.Fatalf("rejected rcpt: %+v", r)
	}
	p.verdict = sluice.VerdictContinue
	s.Rcpt(p, "three@example.net")
	if got := s.Rcpts(); !slices.Equal(got, []string{"one@example.net", "three@example.net"}) {
		t.Fatalf("rcpts = %q", got)
	}
	if !slices.Equal(counts, []int{0, 1, 1}) {
		t.Fatalf("RcptCount during rcpt = %v, want [0 1 1]", counts)
	}
}

func TestEnvelopeChanges(t *testing.T) {
	s := dataSession(t)
	s.SetEnvelope("from@example.org", "a@example.net", "b@example.net")
	r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		h.SetMailFrom("")
		h.AddRcpt("c@example.net")
		if !h.RemoveRcpt("A@EXAMPLE.NET") || h.RemoveRcpt("zz@example.net") {
			t.Error("RemoveRcpt")
		}
		if v, _ := h.Info(sluice.InfoMailFrom); v != "" {
			t.Errorf("mail.from after SetMailFrom = %q", v)
		}
		return sluice.VerdictContinue
	})
	if r.Err != nil || s.MailFrom() != "" || !slices.Equal(s.Rcpts(), []string{"b@example.net", "c@example.net"}) {
		t.Fatalf("%v from=%q rcpts=%q", r.Err, s.MailFrom(), s.Rcpts())
	}
}

func TestUnimplementedHookNotCalled(t *testing.T) {
	s := sluicetest.New()
	if r := s.Connect(struct{}{}); r.Called || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("%+v", r)
	}
	if err := s.Configure(struct{}{}, `{"x":1}`); err != nil {
		t.Fatalf("Configure of a plugin without Configurer = %v", err)
	}
}

func TestHostUnusableAfterReturn(t *testing.T) {
	s := sluicetest.New()
	var kept sluice.Host
	s.Run(sluicetest.PhaseConnect, func(h sluice.Host) sluice.Verdict { kept = h; return sluice.VerdictContinue })
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "after its hook returned") {
			t.Fatalf("recover() = %v", r)
		}
	}()
	kept.Log(sluice.LevelInfo, "late")
}

func TestReadsOutsideData(t *testing.T) {
	s := dataSession(t)
	s.Run(sluicetest.PhaseRcpt, func(h sluice.Host) sluice.Verdict {
		if h.HeaderCount() != 0 || h.BodySize() != 0 {
			t.Error("header or body visible at rcpt")
		}
		if _, ok := h.FindHeader("Subject", 0); ok {
			t.Error("FindHeader found at rcpt")
		}
		return sluice.VerdictContinue
	})
}

// TestGrants: envelope changes trap without grants = ["envelope"], as the
// gateway refuses such a module at load (ABI §4.6); kv is granted by
// default and can be revoked.
func TestGrants(t *testing.T) {
	s := sluicetest.New()
	s.SetEnvelope("from@example.org", "to@example.net")
	for name, call := range map[string]func(h sluice.Host){
		"mail_set":    func(h sluice.Host) { h.SetMailFrom("x@example.org") },
		"rcpt_add":    func(h sluice.Host) { h.AddRcpt("spy@example.org") },
		"rcpt_remove": func(h sluice.Host) { h.RemoveRcpt("to@example.net") },
	} {
		r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict { call(h); return sluice.VerdictContinue })
		want := name + ` needs the "envelope" grant`
		if r.Err == nil || !strings.Contains(r.Err.Error(), want) {
			t.Errorf("%s without the grant: Err = %v; want %q", name, r.Err, want)
		}
	}
	if !slices.Equal(s.Rcpts(), []string{"to@example.net"}) || s.MailFrom() != "from@example.org" {
		t.Fatalf("envelope changed without the grant: %q %q", s.MailFrom(), s.Rcpts())
	}
	s.Grant(sluice.GrantEnvelope)
	if r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict { h.AddRcpt("b@example.org"); return sluice.VerdictContinue }); r.Err != nil {
		t.Fatalf("rcpt_add with the grant: %v", r.Err)
	}
	s.Revoke(sluice.GrantKV)
	r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict { h.KVSet("k", nil, 0); return sluice.VerdictContinue })
	if r.Err == nil || !strings.Contains(r.Err.Error(), `kv_set needs the "kv" grant`) {
		t.Errorf("kv_set after Revoke: Err = %v", r.Err)
	}
}

// SetConfigValue encodes as the gateway does (sdk/ABI.md §4.1.1): "<", ">"
// and "&" are not escaped, so a plugin tested here reads what it reads in
// the gateway.
func TestSetConfigValueUnescaped(t *testing.T) {
	s := sluicetest.New()
	s.SetConfigValue(map[string]any{"s": "<a&b>", "n": 2})
	var got string
	r := s.Run(sluicetest.PhaseConfigure, func(h sluice.Host) sluice.Verdict {
		got = string(h.Config())
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := `{"n":2,"s":"<a&b>"}`; got != want {
		t.Errorf("config = %q, want %q", got, want)
	}
}
