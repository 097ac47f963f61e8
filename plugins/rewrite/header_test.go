package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// withHeaders is policy with headers = true.
var withHeaders = strings.Replace(policy, "{", `{"headers": true,`, 1)

func TestHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   string // header block; "\r\nbody\r\n" is appended
		want string
		log  string // a substring of the one expected log line; "" for none
	}{
		{
			name: "bare sender",
			in:   "From: old@example.org\r\n",
			want: "From: new@example.org\r\n",
		},
		{
			name: "display name and case kept, address matched case-insensitively",
			in:   "From: \"Old, Sender\" <OLD@Example.org>\r\n",
			want: "From: \"Old, Sender\" <new@example.org>\r\n",
		},
		{
			name: "domain entry in Reply-To keeps the local part",
			in:   "Reply-To: Bob Smith <Bob.Smith@OLDDOMAIN.example>\r\n",
			want: "Reply-To: Bob Smith <Bob.Smith@newdomain.example>\r\n",
		},
		{
			name: "exact entry wins over domain entry",
			in:   "From: keep@olddomain.example\r\n",
			want: "From: kept@example.org\r\n",
		},
		{
			name: "old-style comment after a bare address",
			in:   "From: old@example.org (Old Sender)\r\n",
			want: "From: new@example.org (Old Sender)\r\n",
		},
		{
			name: "several recipients, folding and spacing kept",
			in: "To: Alice <alice@legacy.example>,carol@example.net ,\r\n" +
				"\t\"Post, Master\" <postmaster@example.org>,  boss@LEGACY.example\r\n",
			want: "To: Alice <alice@example.org>,carol@example.net ,\r\n" +
				"\t\"Post, Master\" <admin@example.org>,  ceo@example.org\r\n",
		},
		{
			name: "Cc with a group",
			in:   "Cc: Team (dev): alice@legacy.example, Bob <bob@legacy.example>;, x@example.net\r\n",
			want: "Cc: Team (dev): alice@example.org, Bob <bob@example.org>;, x@example.net\r\n",
		},
		{
			name: "empty group",
			in:   "To: undisclosed-recipients:;\r\n",
			want: "To: undisclosed-recipients:;\r\n",
		},
		{
			name: "address in a quoted display name is not touched",
			in:   "To: \"alice@legacy.example\" <alice@legacy.example>\r\n",
			want: "To: \"alice@legacy.example\" <alice@example.org>\r\n",
		},
		{
			name: "address in a comment is not touched",
			in:   "To: (alice@legacy.example) carol@example.net\r\n",
			want: "To: (alice@legacy.example) carol@example.net\r\n",
		},
		{
			name: "white space inside angle brackets kept",
			in:   "To: Alice < alice@legacy.example >\r\n",
			want: "To: Alice < alice@example.org >\r\n",
		},
		{
			name: "8-bit and encoded display names kept",
			in:   "From: =?UTF-8?Q?J=C3=B6rg?= <old@example.org>\r\nTo: J\xf6rg <alice@legacy.example>\r\n",
			want: "From: =?UTF-8?Q?J=C3=B6rg?= <new@example.org>\r\nTo: J\xf6rg <alice@example.org>\r\n",
		},
		{
			name: "field names case-insensitive, every occurrence",
			in:   "fROM: old@example.org\r\nFrom: old@example.org\r\nCC: alice@legacy.example\r\n",
			want: "fROM: new@example.org\r\nFrom: new@example.org\r\nCC: alice@example.org\r\n",
		},
		{
			name: "other fields are left alone",
			in: "Subject: mail for alice@legacy.example from old@example.org\r\n" +
				"Sender: old@example.org\r\nBcc: alice@legacy.example\r\n" +
				"Resent-To: alice@legacy.example\r\nX-Original-To: alice@legacy.example\r\n",
			want: "Subject: mail for alice@legacy.example from old@example.org\r\n" +
				"Sender: old@example.org\r\nBcc: alice@legacy.example\r\n" +
				"Resent-To: alice@legacy.example\r\nX-Original-To: alice@legacy.example\r\n",
		},
		{
			name: "tables do not cross: To uses recipients, From uses senders",
			in:   "To: old@example.org\r\nFrom: alice@legacy.example\r\n",
			want: "To: old@example.org\r\nFrom: alice@legacy.example\r\n",
		},
		{
			name: "quoted local part left alone, the rest rewritten",
			in:   "To: \"alice smith\"@legacy.example, bob@legacy.example\r\n",
			want: "To: \"alice smith\"@legacy.example, bob@example.org\r\n",
			log:  "1 element(s)",
		},
		{
			name: "domain literal left alone",
			in:   "To: alice@[192.0.2.1], bob@legacy.example\r\n",
			want: "To: alice@[192.0.2.1], bob@example.org\r\n",
			log:  "1 element(s)",
		},
		{
			name: "source route left alone",
			in:   "To: Alice <@relay.example:alice@legacy.example>, bob@legacy.example\r\n",
			want: "To: Alice <@relay.example:alice@legacy.example>, bob@example.org\r\n",
			log:  "1 element(s)",
		},
		{
			name: "text after an angle address left alone",
			in:   "To: <alice@legacy.example> trailing, bob@legacy.example\r\n",
			want: "To: <alice@legacy.example> trailing, bob@example.org\r\n",
			log:  "1 element(s)",
		},
		{
			name: "unterminated quote: whole field left alone",
			in:   "To: \"Alice <alice@legacy.example>, bob@legacy.example\r\n",
			want: "To: \"Alice <alice@legacy.example>, bob@legacy.example\r\n",
			log:  "left as is",
		},
		{
			name: "unterminated comment: whole field left alone",
			in:   "To: alice@legacy.example (Alice\r\n",
			want: "To: alice@legacy.example (Alice\r\n",
			log:  "left as is",
		},
		{
			name: "unterminated angle: whole field left alone",
			in:   "To: Alice <alice@legacy.example, bob@legacy.example\r\n",
			want: "To: Alice <alice@legacy.example, bob@legacy.example\r\n",
			log:  "left as is",
		},
		{
			name: "unterminated group: whole field left alone",
			in:   "To: team: alice@legacy.example, bob@legacy.example\r\n",
			want: "To: team: alice@legacy.example, bob@legacy.example\r\n",
			log:  "left as is",
		},
		{
			name: "nested group: whole field left alone",
			in:   "To: a: b: alice@legacy.example;;\r\n",
			want: "To: a: b: alice@legacy.example;;\r\n",
			log:  "left as is",
		},
		{
			name: "no space after the colon: the host renders one",
			in:   "To:alice@legacy.example\r\n",
			want: "To: alice@example.org\r\n",
		},
		{
			name: "folded right after the colon",
			in:   "To:\r\n alice@legacy.example\r\n",
			want: "To: \r\n alice@example.org\r\n",
		},
		{
			name: "received value the host would refuse as a new value: left alone",
			in:   "To: <alice@legacy.example> \r\r\n",
			want: "To: <alice@legacy.example> \r\r\n",
			log:  "would refuse",
		},
		{
			name: "whitespace-only continuation line: left alone",
			in:   "To: alice@legacy.example,\r\n \r\n bob@example.net\r\n",
			want: "To: alice@legacy.example,\r\n \r\n bob@example.net\r\n",
			log:  "would refuse",
		},
		{
			name: "nothing to rewrite",
			in:   "From: someone@example.net\r\nTo: Carol <carol@example.net>\r\n",
			want: "From: someone@example.net\r\nTo: Carol <carol@example.net>\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p := configured(t, withHeaders)
			s.SetEnvelope("x@example.net", "carol@example.net")
			if err := s.SetMessage([]byte(tt.in + "\r\nbody\r\n")); err != nil {
				t.Fatal(err)
			}
			r := s.Data(p)
			if r.Err != nil || r.Verdict != sluice.VerdictContinue {
				t.Fatalf("DATA = %v, %v", r.Verdict, r.Err)
			}
			if got, want := string(s.Message()), tt.want+"\r\nbody\r\n"; got != want {
				t.Fatalf("message\n got %q\nwant %q", got, want)
			}
			if tt.in == tt.want && len(s.Effects()) != 0 {
				t.Fatalf("effects for an unchanged message: %q", s.Effects())
			}
			logs := s.Logs()
			if tt.log == "" {
				if len(logs) != 0 {
					t.Fatalf("logs = %+v", logs)
				}
				return
			}
			if len(logs) != 1 || !strings.Contains(logs[0].Text, tt.log) {
				t.Fatalf("logs = %+v, want one with %q", logs, tt.log)
			}
		})
	}
}

func TestHeadersOffByDefault(t *testing.T) {
	s, p := configured(t, policy)
	in := "From: old@example.org\r\nTo: alice@legacy.example\r\n\r\nbody\r\n"
	s.SetEnvelope("new@example.org", "alice@legacy.example")
	s.SetMessage([]byte(in))
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	if string(s.Message()) != in {
		t.Fatalf("message changed: %q", s.Message())
	}
	if got := s.Rcpts(); len(got) != 1 || got[0] != "alice@example.org" {
		t.Fatalf("recipients = %q", got)
	}
}

// TestHeaderLineLimit: a rewrite that would make a line longer than 998
// bytes is skipped with a warning rather than trapping in the host.
func TestHeaderLineLimit(t *testing.T) {
	long := "@" + strings.Repeat("d", 60) + "." + strings.Repeat("e", 60) + ".example"
	s, p := configured(t, `{"headers": true, "recipients": {"@legacy.example": "`+long+`"}}`)
	pad := strings.Repeat("x", 900)
	in := "To: \"" + pad + "\" <a@legacy.example>\r\n\r\nbody\r\n" // 934 bytes now, 1062 rewritten
	s.SetEnvelope("x@example.net", "carol@example.net")
	if err := s.SetMessage([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	if string(s.Message()) != in {
		t.Fatalf("message changed")
	}
	if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn || !strings.Contains(logs[0].Text, "998") {
		t.Fatalf("logs = %+v", logs)
	}

	// Folded, the same rewrite fits.
	in = "To: \"" + pad + "\"\r\n <a@legacy.example>\r\n\r\nbody\r\n"
	s.SetMessage([]byte(in))
	if r := s.Data(p); r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := "To: \"" + pad + "\"\r\n <a" + long + ">\r\n\r\nbody\r\n"; string(s.Message()) != want {
		t.Fatalf("message = %q", s.Message())
	}
}

// FuzzHeaders checks that rewriting any To value never makes the host refuse
// the change (a plugin error would tempfail the message) and that a field
// without a configured address is never changed.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{"a@legacy.example", `"x" <b@legacy.example>, (c) d@e`, "g: a@legacy.example;", "\r\n a@legacy.example", "<@r:a@legacy.example>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, p := configured(t, withHeaders)
		s.SetEnvelope("x@example.net", "carol@example.net")
		in := "To: " + v + "\r\n\r\nbody\r\n"
		if err := s.SetMessage([]byte(in)); err != nil || len(s.HeaderValues("To")) != 1 {
			return
		}
		before := s.HeaderValues("To")[0]
		if r := s.Data(p); r.Err != nil {
			t.Fatalf("%q: %v", v, r.Err)
		}
		if !strings.Contains(strings.ToLower(before), "@legacy.example") && s.HeaderValues("To")[0] != before {
			t.Fatalf("%q changed to %q", before, s.HeaderValues("To")[0])
		}
	})
}
