package conformance

import (
	"bytes"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// The example filter of sdk/CONFORMANCE.md §1.

func exampleVectors() []vector {
	return []vector{
		{"example/hooks", exampleHooks},
		{"example/greeting", exampleGreeting(`{"greeting":"hej"}`, "hej")},
		{"example/greeting-default", exampleGreeting(`{}`, "hello")},
		{"example/rcpt", exampleRcpt},
	}
}

// exampleHooks: only rcpt and data are hooks (the Go SDK declares them with
// sluice_hooks; the others export only those two).
func exampleHooks(t *testing.T, r rig) {
	p := r.sharedExample(t, nil)
	for _, ph := range filter.Phases {
		if want := ph == filter.Rcpt || ph == filter.Data; p.Has(ph) != want {
			t.Errorf("Has(%v) = %v, want %v", ph, p.Has(ph), want)
		}
	}
}

var exampleFields = []field{
	{raw: "From: alice@example.org\r\n"},
	{raw: "Subject: hi\r\n"},
}

const exampleBody = "Hello.\r\n"

// exampleGreeting: on_data appends X-Example-Lang, then X-Example-Greeting
// with the configured greeting, and continues.
func exampleGreeting(config, greeting string) func(*testing.T, rig) {
	return func(t *testing.T, r rig) {
		p := r.sharedExample(t, []byte(config))
		st, out := dataOnly(t, chainOf(entry(p, filter.OnErrorTempfail)), messageOf(exampleFields, exampleBody))
		expect(t, "data", out, filter.Continue, "")
		fields := append(append([]field(nil), exampleFields...),
			field{raw: "X-Example-Lang: " + r.name + "\r\n"},
			field{raw: "X-Example-Greeting: " + greeting + "\r\n"})
		if got, want := st.Msg.Bytes(), messageOf(fields, exampleBody); !bytes.Equal(got, want) {
			t.Errorf("message:\n\tgot  %q\n\twant %q", got, want)
		}
		expectTags(t, "data", st.Tags, filter.Tags{})
	}
}

// exampleRcpt: exactly the local part "blocked" (bytes before the last '@')
// is rejected with the example's reply; everything else continues.
func exampleRcpt(t *testing.T, r rig) {
	p := r.sharedExample(t, nil)
	reply := "550 5.7.1 Recipient blocked by the " + r.name + " example"
	for _, c := range []struct {
		rcpt    string
		blocked bool
	}{
		{"blocked@example.net", true},
		{"blocked@b.example", true},
		{"bob@example.net", false},
		{"blockedx@example.net", false},
		{"xblocked@example.net", false},
		{"Blocked@example.net", false},
		{"BLOCKED@example.net", false},
		{"blocked@x@example.net", false}, // local part "blocked@x"
		{"blocke@example.net", false},
	} {
		s := newSessionRun(t, chainOf(entry(p, filter.OnErrorTempfail)))
		s.mail("alice@example.org")
		out := s.rcpt(c.rcpt)
		if c.blocked {
			expect(t, c.rcpt, out, filter.Reject, reply)
		} else {
			expect(t, c.rcpt, out, filter.Continue, "")
		}
		expectTags(t, c.rcpt, s.st.Tags, filter.Tags{})
	}
}
