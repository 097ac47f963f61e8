package scantest

import "testing"

func TestStart(t *testing.T) {
	for _, start := range []func() (*Daemon, error){StartRspamd, StartClamd, StartSpamd} {
		d, err := start()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s started in %s at %s", d.Name, d.Startup, d.Address)
		d.Stop()
	}
}
