package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

var update = flag.Bool("update", false, "rewrite the .want files in testdata")

// goldenConfig is the configuration every golden file runs with.
const goldenConfig = `{
	"block_extensions": ["exe", ".JS", "scr", "tar.gz"],
	"block_types": ["application/x-msdownload", "video/*"]
}`

// outcome renders a result as a .want file holds it: the verdict, then the
// reply if there is one.
func outcome(r sluicetest.Result) string {
	if r.Err != nil {
		return "error " + r.Err.Error()
	}
	if r.Reply != nil {
		return r.Verdict.String() + " " + r.Reply.String()
	}
	return r.Verdict.String()
}

// TestGolden runs each testdata/*.eml through the plugin and compares the
// outcome with the .want file next to it.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s := sluicetest.New()
			p := &attachments{}
			if err := s.Configure(p, goldenConfig); err != nil {
				t.Fatal(err)
			}
			s.SetEnvelope("a@example.org", "b@example.net")
			if err := s.SetMessage(raw); err != nil {
				t.Fatal(err)
			}
			before := s.Message()
			got := outcome(s.Data(p))
			if string(s.Message()) != string(before) {
				t.Fatal("the plugin changed the message")
			}
			wantFile := strings.TrimSuffix(file, ".eml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != strings.TrimSpace(string(want)) {
				t.Fatalf("got  %q\nwant %q", got, strings.TrimSpace(string(want)))
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &attachments{} }, []sluicetest.ConfigCase{
		{Name: "golden", JSON: goldenConfig},
		{Name: "everything", JSON: `{"block_extensions": ["exe"], "block_types": ["text/*"], "max_depth": 20, "max_parts": 1000,
			"code": 550, "enhanced": "5.7.0", "message": "No executables", "on_limit": "accept"}`},
		{Name: "4xx", JSON: `{"block_extensions": ["exe"], "code": 451}`},
		{Name: "empty", JSON: `{}`},
		{Name: "typo", JSON: `{"block_extension": ["exe"]}`, WantErr: `config.block_extension: unknown key`},
		{Name: "empty extension", JSON: `{"block_extensions": [""]}`, WantErr: "1 to 64"},
		{Name: "only a dot", JSON: `{"block_extensions": ["."]}`, WantErr: "1 to 64"},
		{Name: "trailing dot", JSON: `{"block_extensions": ["exe."]}`, WantErr: "misplaced dot"},
		{Name: "double dot", JSON: `{"block_extensions": ["tar..gz"]}`, WantErr: "misplaced dot"},
		{Name: "space", JSON: `{"block_extensions": ["e xe"]}`, WantErr: "0x20"},
		{Name: "glob", JSON: `{"block_extensions": ["*"]}`, WantErr: "0x2a"},
		{Name: "type without slash", JSON: `{"block_types": ["application"]}`, WantErr: "type/subtype"},
		{Name: "star type", JSON: `{"block_types": ["*/*"]}`, WantErr: "type/subtype"},
		{Name: "star prefix", JSON: `{"block_types": ["application/x-*"]}`, WantErr: "type/subtype"},
		{Name: "empty subtype", JSON: `{"block_types": ["text/"]}`, WantErr: "type/subtype"},
		{Name: "negative depth", JSON: `{"max_depth": -1}`, WantErr: "max_depth"},
		{Name: "huge depth", JSON: `{"max_depth": 101}`, WantErr: "max_depth"},
		{Name: "huge parts", JSON: `{"max_parts": 100001}`, WantErr: "max_parts"},
		{Name: "on_limit", JSON: `{"on_limit": "tempfail"}`, WantErr: "on_limit"},
		{Name: "code", JSON: `{"code": 250}`, WantErr: "not a 4xx or 5xx"},
		{Name: "class", JSON: `{"code": 554, "enhanced": "4.7.1"}`, WantErr: "does not match"},
		{Name: "message CRLF", JSON: `{"message": "a\r\n250 ok"}`, WantErr: "0x0d"},
		{Name: "message too long", JSON: `{"message": "` + strings.Repeat("m", 291) + `"}`, WantErr: "290"},
	})
}

// Messages built in code for docs/TESTPLAN.md row 20.
func deepMessage(n int) string {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Disposition: attachment; filename=deep.exe\r\n\r\nx\r\n", n-1)
	return b.String()
}

func manyPartsMessage(n int, first string) string {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	b.WriteString("--b\r\nContent-Disposition: attachment; filename=" + first + "\r\n\r\nx\r\n")
	for i := 1; i < n; i++ {
		b.WriteString("--b\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	return b.String()
}

func longBoundaryMessage(n int) string {
	bd := strings.Repeat("x", n)
	return "Content-Type: multipart/mixed; boundary=\"" + bd + "\"\r\n\r\n--" + bd +
		"\r\nContent-Disposition: attachment; filename=a.exe\r\n\r\nx\r\n--" + bd + "--\r\n"
}

func TestLimits(t *testing.T) {
	const limitReply = "reject 554 5.6.0 Message structure too complex"
	tests := []struct {
		name, cfg, msg, want, log string
	}{
		{"1000 deep", `{}`, deepMessage(1000), limitReply, "max_depth"},
		{"1000 deep, on_limit accept", `{"on_limit": "accept"}`, deepMessage(1000), "continue", "max_depth"},
		{"11 deep, max_depth 11", `{"block_extensions": ["exe"], "max_depth": 11}`, deepMessage(11),
			"reject 554 5.7.1 Attachment not allowed: deep.exe", "blocked"},
		{"10^5 parts", `{}`, manyPartsMessage(100000, "a.txt"), limitReply, "max_parts"},
		{"10^5 parts, blocked file first, on_limit accept", `{"block_extensions": ["exe"], "on_limit": "accept"}`,
			manyPartsMessage(100000, "a.exe"), "reject 554 5.7.1 Attachment not allowed: a.exe", "blocked"},
		{"10^5 parts, max_parts 100000", `{"max_parts": 100000}`, manyPartsMessage(100000, "a.txt"), limitReply, "max_parts"},
		{"99999 parts, max_parts 100000", `{"max_parts": 100000}`, manyPartsMessage(99999, "a.txt"), "continue", ""},
		{"10 KB boundary", `{"block_extensions": ["exe"]}`, longBoundaryMessage(10 * 1024), limitReply, "boundary"},
		{"70-byte boundary", `{"block_extensions": ["exe"]}`, longBoundaryMessage(70),
			"reject 554 5.7.1 Attachment not allowed: a.exe", "blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sluicetest.New()
			p := &attachments{}
			if err := s.Configure(p, tt.cfg); err != nil {
				t.Fatal(err)
			}
			configLogs := len(s.Logs())
			s.SetEnvelope("a@example.org", "b@example.net")
			if err := s.SetMessage([]byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			if got := outcome(s.Data(p)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			logs := s.Logs()[configLogs:]
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

func TestTempfailCode(t *testing.T) {
	s := sluicetest.New()
	p := &attachments{}
	if err := s.Configure(p, `{"block_extensions": ["exe"], "code": 450, "message": "Held for review"}`); err != nil {
		t.Fatal(err)
	}
	s.SetEnvelope("a@example.org", "b@example.net")
	s.SetMessage([]byte("Content-Type: application/octet-stream; name=x.exe\r\n\r\nx\r\n"))
	if got := outcome(s.Data(p)); got != "tempfail 450 4.7.1 Held for review: x.exe" {
		t.Fatal(got)
	}
}

func TestBlockedName(t *testing.T) {
	p := &attachments{exts: []string{"exe", "js", "tar.gz"}}
	tests := map[string]bool{
		"a.exe":          true,
		"A.EXE":          true,
		"a.pdf.exe":      true,
		"a.exe.":         true,
		"a.exe . .":      true,
		"a.exe\t":        true,
		"a.exe\x00.txt":  true,
		"a.exe\r\n.txt":  true,
		"dir/a.exe":      true,
		"a.tar.gz":       true,
		"a.js":           true,
		"a.exe.txt":      false,
		"exe":            false,
		"aexe":           false,
		"a.exes":         false,
		"a.gz":           false,
		"a.json":         false,
		"":               false,
		"a.e\u0301xe":    false,
		"caf\xe9.exe":    true,
		"\u202efdp.exe":  true,
		"r\xc3\xa9.js  ": true,
	}
	for name, want := range tests {
		if _, got := p.blockedName(name); got != want {
			t.Errorf("blockedName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("a", 200) + ".exe"
	tests := map[string]string{
		"report.exe":       "report.exe",
		"r\xc3\xa9sum.exe": "r??sum.exe",
		"a\r\n250 ok.exe":  "a??250 ok.exe",
		"  ":               "?",
		long:               strings.Repeat("a", 48) + "..." + strings.Repeat("a", 45) + ".exe",
	}
	for in, want := range tests {
		got := sanitize(in)
		if got != want || len(got) > maxShownName {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoBlockListStillChecksLimits(t *testing.T) {
	s := sluicetest.New()
	p := &attachments{}
	if err := s.Configure(p, `{}`); err != nil {
		t.Fatal(err)
	}
	if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn {
		t.Fatalf("logs = %+v", logs)
	}
	s.SetEnvelope("a@example.org", "b@example.net")
	s.SetMessage([]byte("Content-Disposition: attachment; filename=a.exe\r\n\r\nx\r\n"))
	if r := s.Data(p); r.Verdict != sluice.VerdictContinue || r.Err != nil {
		t.Fatalf("%v %v", r.Verdict, r.Err)
	}
}
