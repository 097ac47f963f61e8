package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/plugins/internal/mime"
	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// FuzzFooter checks that for any message the plugin returns continue
// without a plugin error: whatever it writes passes the host's body rules,
// and parsing the output's MIME structure gives the input's parts.
func FuzzFooter(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, b := range []string{
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n--B--\r\n",
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n--B\r\n\r\n--B\r\nContent-Type: text/html\r\n\r\n--B--",
		"Content-Type: multipart/mixed; boundary=\" \"\r\n\r\n-- \r\n\r\nx\r\n--  --\r\n",
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := sluicetest.New()
		p := &footer{}
		if err := s.Configure(p, `{"text": "-- \nFOOT ü", "max_depth": 4, "max_parts": 50}`); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMessage(raw); err != nil {
			return
		}
		before := s.Message() // as the plugin sees it: CRLF line ends
		if r := s.Data(p); r.Err != nil || r.Verdict != sluice.VerdictContinue {
			t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
		}
		// The MIME structure never changes: same parts, boundaries,
		// media types and part headers.
		lim := mime.Limits{MaxDepth: 4, MaxParts: 50}
		mIn, err := message.Parse(before, message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		mOut, err := message.Parse(s.Message(), message.Limits{})
		if err != nil {
			t.Fatalf("output does not parse: %v", err)
		}
		checkStructure(t, mIn, mOut, lim)
	})
}
