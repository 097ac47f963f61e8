package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const cfg = `{"headers": {"X-Scanned": "sluice", "X-A": "first"}, "subject_prefix": "[EXT] "}`

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &tagger{} }, []sluicetest.ConfigCase{
		{Name: "headers and prefix", JSON: cfg},
		{Name: "prefix only", JSON: `{"subject_prefix": "[X]"}`},
		{Name: "headers only", JSON: `{"headers": {"X-A": "b"}}`},
		{Name: "utf-8 value", JSON: `{"headers": {"X-A": "grüße"}}`},
		{Name: "empty value", JSON: `{"headers": {"X-A": ""}}`},
		{Name: "empty is allowed", JSON: `{}`},
		{Name: "empty prefix as in policies/default.hcl", JSON: `{"headers": {"X-Sluice": "scanned"}, "subject_prefix": ""}`},
		{Name: "unknown key", JSON: `{"header": {"X-A": "b"}}`, WantErr: `config.header: unknown key`},
		{Name: "name with colon", JSON: `{"headers": {"X-A:": "b"}}`, WantErr: "0x3a"},
		{Name: "name with space", JSON: `{"headers": {"X A": "b"}}`, WantErr: "0x20"},
		{Name: "empty name", JSON: `{"headers": {"": "b"}}`, WantErr: "1 to 76"},
		{Name: "long name", JSON: `{"headers": {"` + strings.Repeat("X", 77) + `": "b"}}`, WantErr: "1 to 76"},
		{Name: "CRLF in value", JSON: `{"headers": {"X-A": "b\r\nBcc: evil@example"}}`, WantErr: "0x0d"},
		{Name: "LF in value", JSON: `{"headers": {"X-A": "b\nc"}}`, WantErr: "0x0a"},
		{Name: "NUL in value", JSON: `{"headers": {"X-A": "b\u0000"}}`, WantErr: "0x00"},
		{Name: "field too long", JSON: `{"headers": {"X-A": "` + strings.Repeat("v", 995) + `"}}`, WantErr: "998"},
		{Name: "CR in prefix", JSON: `{"subject_prefix": "[X]\r"}`, WantErr: "0x0d"},
		{Name: "blank prefix", JSON: `{"subject_prefix": "  "}`, WantErr: "only whitespace"},
		{Name: "long prefix", JSON: `{"subject_prefix": "` + strings.Repeat("p", 201) + `"}`, WantErr: "200"},
		{Name: "wrong type", JSON: `{"headers": ["X-A"]}`, WantErr: "is not"},
	})
}

func TestOnData(t *testing.T) {
	tests := []struct {
		name string
		cfg  string
		in   string // header block; the body "body\r\n" is appended
		want string
	}{
		{
			name: "adds sorted headers and prefixes",
			cfg:  cfg,
			in:   "From: a@example.org\r\nSubject: Hello\r\n",
			want: "From: a@example.org\r\nSubject: [EXT] Hello\r\nX-A: first\r\nX-Scanned: sluice\r\n",
		},
		{
			name: "already tagged: nothing changes",
			cfg:  cfg,
			in:   "Subject: [EXT] Hello\r\nx-scanned: sluice\r\nX-A: first\r\n",
			want: "Subject: [EXT] Hello\r\nx-scanned: sluice\r\nX-A: first\r\n",
		},
		{
			name: "prefix compared case-insensitively and without its trailing space",
			cfg:  cfg,
			in:   "Subject: [ext]Hello\r\n",
			want: "Subject: [ext]Hello\r\nX-A: first\r\nX-Scanned: sluice\r\n",
		},
		{
			name: "same name, other value: added",
			cfg:  cfg,
			in:   "Subject: Hi\r\nX-Scanned: other\r\n",
			want: "Subject: [EXT] Hi\r\nX-Scanned: other\r\nX-A: first\r\nX-Scanned: sluice\r\n",
		},
		{
			name: "folding of the subject kept",
			cfg:  `{"subject_prefix": "[EXT] "}`,
			in:   "Subject: A long\r\n\tsubject line\r\n  folded twice\r\nTo: b@example.org\r\n",
			want: "Subject: [EXT] A long\r\n\tsubject line\r\n  folded twice\r\nTo: b@example.org\r\n",
		},
		{
			name: "subject folded right after the colon",
			cfg:  `{"subject_prefix": "[EXT] "}`,
			in:   "Subject:\r\n Hello\r\n",
			// The host renders a changed field as "Name: value".
			want: "Subject: \r\n [EXT] Hello\r\n",
		},
		{
			name: "tagged subject folded right after the colon",
			cfg:  `{"subject_prefix": "[EXT] "}`,
			in:   "Subject:\r\n [EXT] Hello\r\n",
			want: "Subject:\r\n [EXT] Hello\r\n",
		},
		{
			name: "no subject: none added",
			cfg:  cfg,
			in:   "From: a@example.org\r\n",
			want: "From: a@example.org\r\nX-A: first\r\nX-Scanned: sluice\r\n",
		},
		{
			name: "empty subject",
			cfg:  `{"subject_prefix": "[EXT] "}`,
			in:   "Subject:\r\n",
			want: "Subject: [EXT] \r\n",
		},
		{
			name: "only the first subject",
			cfg:  `{"subject_prefix": "[EXT] "}`,
			in:   "Subject: one\r\nSubject: two\r\n",
			want: "Subject: [EXT] one\r\nSubject: two\r\n",
		},
		{
			name: "encoded word stays separated",
			cfg:  `{"subject_prefix": "[EXT]"}`,
			in:   "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n",
			want: "Subject: [EXT] =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n",
		},
		{
			name: "8-bit subject bytes kept",
			cfg:  `{"subject_prefix": "[EXT] "}`,
			in:   "Subject: caf\xe9\r\n",
			want: "Subject: [EXT] caf\xe9\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sluicetest.New()
			p := &tagger{}
			if err := s.Configure(p, tt.cfg); err != nil {
				t.Fatal(err)
			}
			s.SetEnvelope("a@example.org", "b@example.org")
			if err := s.SetMessage([]byte(tt.in + "\r\nbody\r\n")); err != nil {
				t.Fatal(err)
			}
			r := s.Data(p)
			if r.Err != nil || r.Verdict != sluice.VerdictContinue {
				t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
			}
			if got, want := string(s.Message()), tt.want+"\r\nbody\r\n"; got != want {
				t.Fatalf("message\n got %q\nwant %q", got, want)
			}
			// Running the plugin again changes nothing.
			s.Data(p)
			if got, want := string(s.Message()), tt.want+"\r\nbody\r\n"; got != want {
				t.Fatalf("second pass changed the message: %q", got)
			}
		})
	}
}

// TestSubjectLineLimit: a prefix that makes a line longer than 998 bytes is
// still added; the host folds the line (sdk/ABI.md §4.4), and a Subject with
// an existing long line, or one long word, is tagged too (ISSUE 9 §4).
func TestSubjectLineLimit(t *testing.T) {
	s := sluicetest.New()
	p := &tagger{}
	if err := s.Configure(p, `{"subject_prefix": "[EXT] "}`); err != nil {
		t.Fatal(err)
	}
	words := strings.Repeat("word ", 299) + "word" // 1499 bytes
	for _, tc := range []struct{ name, in, want string }{
		{"prefix pushes the line over", "Subject: " + strings.Repeat("s", 985),
			"Subject: [EXT]\r\n " + strings.Repeat("s", 985)},
		{"long continuation line", "Subject: short\r\n " + words,
			"Subject: [EXT] short\r\n " + words[:994] + "\r\n" + words[994:]}, // 995 bytes, then the rest
		{"one long word", "Subject: " + strings.Repeat("w", 1500),
			"Subject: [EXT]\r\n " + strings.Repeat("w", 1500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SetMessage([]byte(tc.in + "\r\n\r\nbody\r\n")); err != nil {
				t.Fatal(err)
			}
			if r := s.Data(p); r.Err != nil {
				t.Fatalf("plugin error: %v", r.Err)
			}
			if got := string(s.Message()); got != tc.want+"\r\n\r\nbody\r\n" {
				t.Fatalf("message\n got %.120q\nwant %.120q", got, tc.want)
			}
			s.Data(p) // tagged once only
			if got := string(s.Message()); got != tc.want+"\r\n\r\nbody\r\n" {
				t.Fatalf("second pass changed the message: %.120q", got)
			}
		})
	}
}

func TestEmptyConfigWarns(t *testing.T) {
	s := sluicetest.New()
	p := &tagger{}
	if err := s.Configure(p, `{"subject_prefix": ""}`); err != nil {
		t.Fatal(err)
	}
	if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn {
		t.Fatalf("logs = %+v", logs)
	}
	in := "Subject: x\r\n\r\nbody\r\n"
	s.SetMessage([]byte(in))
	if r := s.Data(p); r.Err != nil || string(s.Message()) != in || len(s.Effects()) != 0 {
		t.Fatalf("%v %q %q", r.Err, s.Message(), s.Effects())
	}
}
