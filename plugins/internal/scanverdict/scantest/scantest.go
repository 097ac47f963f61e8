// Package scantest runs a content-scanning plugin's OnData hook in the
// sluicetest harness for the plugins' tests. It is a package of its own,
// imported only by _test files, so the wasm plugins never link "testing".
package scantest

import (
	"testing"

	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// Run configures p with cfg for a session holding msg, lets set script the
// scanner (SetScanResult, SetScanError), and runs p's OnData hook.
func Run(t *testing.T, p any, msg, cfg string, set func(s *sluicetest.Session)) (*sluicetest.Session, sluicetest.Result) {
	t.Helper()
	s := sluicetest.New()
	if err := s.SetMessage([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	set(s)
	if err := s.Configure(p, cfg); err != nil {
		t.Fatal(err)
	}
	return s, s.Data(p)
}
