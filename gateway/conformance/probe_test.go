package conformance

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// The probe of sdk/CONFORMANCE.md §2.

func probeVectors() []vector {
	vs := []vector{
		{"probe/hooks", probeHooks},
		{"probe/session", probeSession},
	}
	for _, c := range verdictCases {
		vs = append(vs, vector{"probe/verdict/" + c.name, probeVerdict(c)})
	}
	for _, kind := range []string{"badverdict", "badreply", "crlfreply", "mismatch", "trap"} { // see errorKinds
		for _, oe := range []filter.OnError{filter.OnErrorTempfail, filter.OnErrorContinue, filter.OnErrorReject} {
			vs = append(vs, vector{"probe/error/" + kind + "/" + onErrorName(oe), probeError(kind, oe)})
		}
	}
	vs = append(vs,
		vector{"probe/headers", probeHeaders},
		vector{"probe/headers-long", probeHeadersLong},
		vector{"probe/body", probeBody},
		vector{"probe/config", probeConfig(nestedConfig)},
		vector{"probe/config-default", probeConfig(nil)},
		vector{"probe/config-large", probeConfig(largeConfig())},
		vector{"probe/mutations", probeMutations},
	)
	return vs
}

func onErrorName(oe filter.OnError) string {
	switch oe {
	case filter.OnErrorContinue:
		return "continue"
	case filter.OnErrorReject:
		return "reject"
	}
	return "tempfail"
}

// loadProbe loads a probe of its own, for a vector that measures its pool.
func loadProbe(t *testing.T, r rig, s wasmhost.Spec) *wasmhost.Plugin {
	t.Helper()
	s.Name = "probe"
	return load(t, r.eng, r.probe, s)
}

// probeHooks: the probe has every hook.
func probeHooks(t *testing.T, r rig) {
	p := r.sharedProbe(t, nil)
	for _, ph := range filter.Phases {
		if !p.Has(ph) {
			t.Errorf("Has(%v) = false", ph)
		}
	}
}

// simpleFields is a plain message without probe markers.
var simpleFields = []field{
	{"From: alice@example.org\r\n", "From", "alice@example.org"},
	{"To: bob@example.net\r\n", "To", "bob@example.net"},
	{"Subject: conformance\r\n", "Subject", "conformance"},
}

const simpleBody = "line one\r\nline two\r\n"

// probeSession: every hook of one session, with the tags each phase sets,
// rcpt_count before each recipient, a blocked recipient, and the data
// phase's additions.
func probeSession(t *testing.T, r rig) {
	p := r.sharedProbe(t, nil)
	s := newSessionRun(t, chainOf(entry(p, filter.OnErrorTempfail)))
	expect(t, "connect", s.connect(), filter.Continue, "")
	expect(t, "helo", s.helo(), filter.Continue, "")
	expectTags(t, "session", s.sess.Tags, filter.Tags{"probe.connect": clientIP, "probe.helo": heloName})

	expect(t, "mail", s.mail("alice@example.org"), filter.Continue, "")
	expectTags(t, "mail", s.st.Tags, filter.Tags{"probe.mail": "alice@example.org"})
	for i, rcpt := range []string{"bob@example.net", "carol@example.net"} {
		expect(t, rcpt, s.rcpt(rcpt), filter.Continue, "")
		if got, want := s.st.Tags["probe.rcpt.count"], []string{"0", "1"}[i]; got != want {
			t.Errorf("%s: probe.rcpt.count = %q, want %q", rcpt, got, want)
		}
	}
	// A reject is a decision, not an error: the tag it set stays.
	expect(t, "blocked", s.rcpt("blocked@example.net"), filter.Reject, "550 5.7.1 probe blocked")
	if got := s.st.Tags["probe.rcpt.count"]; got != "2" {
		t.Errorf("blocked: probe.rcpt.count = %q, want 2", got)
	}
	if len(s.st.Rcpts) != 2 {
		t.Errorf("recipients %q", s.st.Rcpts)
	}

	out := s.data(messageOf(simpleFields, simpleBody))
	expect(t, "data", out, filter.Continue, "")
	want := probeDataTags(simpleFields, []byte(simpleBody), nil)
	want["probe.mail"], want["probe.rcpt.count"] = "alice@example.org", "2"
	expectTags(t, "data", s.st.Tags, want)
	if got, want := s.st.Msg.Bytes(), probeAdded(r.name, simpleFields, simpleBody); !bytes.Equal(got, want) {
		t.Errorf("message:\n\tgot  %q\n\twant %q", got, want)
	}
	expectTags(t, "session after data", s.sess.Tags, filter.Tags{"probe.connect": clientIP, "probe.helo": heloName})

	// Another client, over IPv6.
	s = newSessionRun(t, chainOf(entry(p, filter.OnErrorTempfail)))
	s.sess.ClientIP = netip.MustParseAddr("2001:db8::25")
	expect(t, "connect v6", s.connect(), filter.Continue, "")
	expectTags(t, "connect v6", s.sess.Tags, filter.Tags{"probe.connect": "2001:db8::25"})
}

// verdictCase is a row of the probe's mail table that is not an error.
type verdictCase struct {
	name, from string
	verdict    filter.Verdict
	reply      string
	check      func(t *testing.T, s *session)
}

var verdictCases = []verdictCase{
	{name: "continue", from: "alice@example.org", verdict: filter.Continue},
	{name: "null-sender", from: "", verdict: filter.Continue},
	{name: "reject", from: "reject@example.org", verdict: filter.Reject, reply: "550 5.7.1 probe reject"},
	{name: "tempfail", from: "tempfail@example.org", verdict: filter.Tempfail, reply: "451 4.7.1 probe tempfail"},
	{name: "accept", from: "accept@example.org", verdict: filter.Accept, check: func(t *testing.T, s *session) {
		if !s.st.Accepted {
			t.Error("state not accepted")
		}
		// The rest of the chain is skipped for the transaction.
		if out := s.rcpt("bob@example.net"); len(out.Steps) != 0 || out.Verdict != filter.Continue {
			t.Errorf("rcpt after accept ran %d steps, verdict %v", len(out.Steps), out.Verdict)
		}
	}},
	{name: "discard", from: "discard@example.org", verdict: filter.Discard, check: func(t *testing.T, s *session) {
		if !s.st.Discarded || s.sess.Discarded {
			t.Errorf("discarded: transaction %v, session %v; want true, false", s.st.Discarded, s.sess.Discarded)
		}
	}},
	{name: "quarantine", from: "quarantine@example.org", verdict: filter.Continue, check: func(t *testing.T, s *session) {
		if want := []string{"probe: probe quarantine"}; len(s.st.Quarantined) != 1 || s.st.Quarantined[0] != want[0] {
			t.Errorf("quarantined %q, want %q", s.st.Quarantined, want)
		}
	}},
	{name: "local-part-only", from: "reject@reject.example@example.org", verdict: filter.Continue},
}

// probeVerdict: one row of the mail table; the tag set before deciding
// survives, because a verdict is not an error.
func probeVerdict(c verdictCase) func(*testing.T, rig) {
	return func(t *testing.T, r rig) {
		p := r.sharedProbe(t, nil)
		s := newSessionRun(t, chainOf(entry(p, filter.OnErrorTempfail)))
		out := s.mail(c.from)
		expect(t, "mail", out, c.verdict, c.reply)
		noErrors(t, "mail", out)
		expectTags(t, "mail", s.st.Tags, filter.Tags{"probe.mail": c.from})
		if c.name != "quarantine" && len(s.st.Quarantined) != 0 {
			t.Errorf("quarantined %q", s.st.Quarantined)
		}
		if c.check != nil {
			c.check(t, s)
		}
	}
}

// errorKinds recognises, from the host's error text, that a plugin error is
// the one the probe was asked for (and not, say, a trap where a bad verdict
// was wanted).
var errorKinds = map[string]func(err string) bool{
	"badverdict": func(err string) bool { return strings.Contains(err, "returned 7, which is not a verdict") },
	"badreply": func(err string) bool {
		return strings.Contains(err, "set_reply: reply code 250 is not between 400 and 599")
	},
	"crlfreply": func(err string) bool {
		return strings.Contains(err, "set_reply: reply text contains byte 0x0d")
	},
	"mismatch": func(err string) bool { return strings.Contains(err, "a reject needs a 5xx reply") },
	// A trap is whatever the language does (unreachable, a panic, abort):
	// anything but the errors above.
	"trap": func(err string) bool {
		return !strings.Contains(err, "set_reply") && !strings.Contains(err, "not a verdict") &&
			!strings.Contains(err, "verdict with")
	},
}

// probeError: each kind of plugin error at mail is a fault: on_error
// decides the outcome, every change of the call is rolled back (the
// probe.mail tag it set is gone), the plugin's reply never reaches the
// client, and the next call works.
func probeError(kind string, oe filter.OnError) func(*testing.T, rig) {
	return func(t *testing.T, r rig) {
		p := r.sharedProbe(t, nil)
		next := &after{}
		c := chainOf(entry(p, oe), filter.Entry{Name: "after", Plugin: next})
		s := newSessionRun(t, c)
		out := s.mail(kind + "@example.org")
		if len(out.Steps) == 0 || out.Steps[0].Err == nil {
			t.Fatalf("%s was not a plugin error: verdict %v, reply %q", kind, out.Verdict, replyString(out.Reply))
		}
		if err := out.Steps[0].Err.Error(); !errorKinds[kind](err) {
			t.Errorf("%s: the plugin error is not the expected one: %s", kind, err)
		}
		switch oe {
		case filter.OnErrorTempfail:
			expect(t, "mail", out, filter.Tempfail, "451 4.3.0 Temporary local problem, try again later")
		case filter.OnErrorReject:
			expect(t, "mail", out, filter.Reject, "550 5.7.1 Rejected by policy")
		case filter.OnErrorContinue:
			expect(t, "mail", out, filter.Continue, "")
		}
		wantCalls := 0
		if oe == filter.OnErrorContinue {
			wantCalls = 1
			if _, ok := next.tags["probe.mail"]; ok {
				t.Errorf("the next plugin saw the failed call's tag: %s", tagsString(next.tags))
			}
		}
		if next.calls != wantCalls {
			t.Errorf("the next plugin ran %d times, want %d", next.calls, wantCalls)
		}
		expectTags(t, "after the fault", s.st.Tags, filter.Tags{})
		if s.st.Reply != nil {
			t.Errorf("a reply survived the fault: %q", replyString(s.st.Reply))
		}

		// The plugin still serves calls (with a new instance where the old
		// one was discarded).
		s = newSessionRun(t, chainOf(entry(p, oe)))
		expect(t, "mail after the fault", s.mail("alice@example.org"), filter.Continue, "")
		expectTags(t, "mail after the fault", s.st.Tags, filter.Tags{"probe.mail": "alice@example.org"})
	}
}

// headerFields has 8-bit bytes, duplicates in any case, folding, and
// values with no or several spaces after the colon.
var headerFields = []field{
	{"Subject: first\r\n", "Subject", "first"},
	{"X-Bin: caf\xe9\xff\r\n", "X-Bin", "caf\xe9\xff"},
	{"X-Utf8: Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93\r\n", "X-Utf8", "Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93"},
	{"subject: second\r\n", "subject", "second"},
	{"X-Fold: a\r\n\tb\r\n", "X-Fold", "a\r\n\tb"},
	{"X-Fold2: one\r\n two\r\n  three\r\n", "X-Fold2", "one\r\n two\r\n  three"},
	{"X-Tight:value\r\n", "X-Tight", "value"},
	{"X-Spaces:   three  \r\n", "X-Spaces", "  three  "},
	{"X-Empty:\r\n", "X-Empty", ""},
	{"SUBJECT: third\r\n", "SUBJECT", "third"},
	{"Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n", "Received", "from a by b; Thu, 1 Jan 2026 00:00:00 +0000"},
}

// probeHeaders: the header hash, count and second Subject match what Go
// computes from the fields above.
func probeHeaders(t *testing.T, r rig) {
	checkProbeData(t, r, headerFields, "body\r\n")
}

// probeHeadersLong: a name of 76 bytes and a folded value of several KiB,
// longer than any small first buffer, so each language's grow-and-ask-again
// path (sdk/ABI.md §3) runs.
func probeHeadersLong(t *testing.T, r rig) {
	name := "X-" + strings.Repeat("N", 74)
	value := strings.Repeat("a", 900) + "\r\n " + strings.Repeat("b", 900) + "\r\n\t" +
		strings.Repeat("c", 900) + "\r\n " + strings.Repeat("d", 900) + "\r\n " + strings.Repeat("e", 300)
	subject2 := strings.Repeat("s", 1000) // a tag value may be 1024 bytes
	fields := []field{
		{"Subject: one\r\n", "Subject", "one"},
		{name + ": " + value + "\r\n", name, value},
		{"Subject: " + subject2 + "\r\n", "Subject", subject2},
	}
	checkProbeData(t, r, fields, "body\r\n")
}

// checkProbeData runs the probe's data hook on fields and body and checks
// the tags and the two added fields.
func checkProbeData(t *testing.T, r rig, fields []field, body string) {
	t.Helper()
	p := r.sharedProbe(t, nil)
	st, out := dataOnly(t, chainOf(entry(p, filter.OnErrorTempfail)), messageOf(fields, body))
	expect(t, "data", out, filter.Continue, "")
	expectTags(t, "data", st.Tags, probeDataTags(fields, []byte(body), nil))
	if got, want := st.Msg.Bytes(), probeAdded(r.name, fields, body); !bytes.Equal(got, want) {
		t.Errorf("message:\n\tgot  %q\n\twant %q", truncate(got), truncate(want))
	}
}

// probeBody: bodies around the 64 KiB chunk size, empty, and without a
// final CRLF, are hashed whole.
func probeBody(t *testing.T, r rig) {
	for _, n := range []int{0, 1, 2, 100, 65535, 65536, 65537, 3*65536 + 5} {
		body := string(bodyOfSize(n))
		t.Run(strconv.Itoa(n), func(t *testing.T) { checkProbeData(t, r, simpleFields, body) })
	}
}

// nestedConfig nests objects in arrays in objects and carries every JSON
// value type, escapes (including a surrogate pair), raw UTF-8 and
// insignificant whitespace: the host hands it over byte for byte.
var nestedConfig = []byte(`{"name":"conformance","list":[{"deep":{"deeper":[1,-2.5e3,true,false,null,{"k":"v"}]}},"s",[]],` +
	`"escapes":"caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash \/ \n\t\u0000",` +
	"\"utf8\":\"Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93\"," +
	` "numbers" : [ 0, 1.0, -0, 1e-7, 123456789012345678901234567890 ],` + "\n\t" +
	`"empty":{},"bools":{"t":true,"f":false},"greeting":"hej"}`)

// largeConfig is about 100 KiB of JSON.
func largeConfig() []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"i":` + strconv.Itoa(i) + `,"s":"` + strings.Repeat("v", i%50) + `","a":[{"b":[` + strconv.Itoa(i*7) + `]}]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// probeConfig: probe.config.len and probe.config.sum match the exact bytes
// of Spec.Config ({} when nil).
func probeConfig(config []byte) func(*testing.T, rig) {
	return func(t *testing.T, r rig) {
		p := r.sharedProbe(t, config)
		st, out := dataOnly(t, chainOf(entry(p, filter.OnErrorTempfail)), messageOf(simpleFields, simpleBody))
		expect(t, "data", out, filter.Continue, "")
		expectTags(t, "data", st.Tags, probeDataTags(simpleFields, []byte(simpleBody), config))
	}
}

// probeMutations: delete the first X-Probe-Delete, change the first
// X-Probe-Change (found again after the delete shifted the indexes),
// insert at the top, append at the end, replace then append to the body.
func probeMutations(t *testing.T, r rig) {
	fields := []field{
		{"Received: from a\r\n", "Received", "from a"},
		{"X-Probe-Change: old\r\n", "X-Probe-Change", "old"},
		{"X-Probe-Delete: one\r\n", "X-Probe-Delete", "one"},
		{"Subject: s\r\n", "Subject", "s"},
		{"x-probe-delete: two\r\n", "x-probe-delete", "two"},
		{"x-probe-change: second\r\n", "x-probe-change", "second"},
		{"X-Probe-Body: yes\r\n", "X-Probe-Body", "yes"},
	}
	body := "original body\r\n"
	want := "X-Probe-Top: 1\r\n" +
		"Received: from a\r\n" +
		"X-Probe-Change: changed\r\n" +
		"Subject: s\r\n" +
		"x-probe-delete: two\r\n" +
		"x-probe-change: second\r\n" +
		"X-Probe-Body: yes\r\n" +
		"X-Probe: " + r.name + "\r\n" +
		"\r\n" +
		"replaced\r\n" +
		"appended\r\n"

	p := r.sharedProbe(t, nil)
	st, out := dataOnly(t, chainOf(entry(p, filter.OnErrorTempfail)), messageOf(fields, body))
	expect(t, "data", out, filter.Continue, "")
	// The tags describe the message as it arrived.
	expectTags(t, "data", st.Tags, probeDataTags(fields, []byte(body), nil))
	if got := st.Msg.Bytes(); string(got) != want {
		t.Errorf("message:\n\tgot  %q\n\twant %q", got, want)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:150]) + "..." + string(b[len(b)-150:])
	}
	return string(b)
}
