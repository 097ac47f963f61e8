package main

import (
	"os"
	"path/filepath"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// FuzzFooter checks that for any message the plugin returns continue
// without a plugin error: whatever it writes passes the host's body rules.
func FuzzFooter(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
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
		if r := s.Data(p); r.Err != nil || r.Verdict != sluice.Continue {
			t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
		}
	})
}
