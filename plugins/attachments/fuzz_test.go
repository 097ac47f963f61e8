package main

import (
	"os"
	"path/filepath"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// FuzzAttachments checks that for any message the plugin answers continue
// or a valid reject, never a plugin error.
func FuzzAttachments(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := sluicetest.New()
		p := &attachments{}
		if err := s.Configure(p, goldenConfig); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMessage(raw); err != nil {
			return
		}
		r := s.Data(p)
		if r.Err != nil || (r.Verdict != sluice.VerdictContinue && r.Verdict != sluice.VerdictReject) {
			t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
		}
	})
}
