package policy

import (
	"testing"
	"time"
)

func TestScanners(t *testing.T) {
	src := okBoth + `scanner "spam" {
  rspamd        = "http://127.0.0.1:11333"
  password_file = "secrets/rspamd.pw"
}
scanner "av" {
  clamd    = "unix:/run/clamav/clamd.ctl"
  timeout  = "5s"
  max_size = "20MiB"
}
scanner "sa" {
  spamd    = "tcp://localhost:783"
  max_size = 1000
}
`
	p, diags := Parse([]byte(src), "/srv/sluice/policy.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(p.Scanners) != 3 {
		t.Fatalf("%d scanners", len(p.Scanners))
	}
	want := []Scanner{
		{Name: "spam", Engine: ScannerRspamd, Address: "http://127.0.0.1:11333", Timeout: 30 * time.Second, PasswordFile: "/srv/sluice/secrets/rspamd.pw"},
		{Name: "av", Engine: ScannerClamd, Address: "unix:/run/clamav/clamd.ctl", Timeout: 5 * time.Second, MaxSize: 20 * MiB},
		{Name: "sa", Engine: ScannerSpamd, Address: "tcp://localhost:783", Timeout: 30 * time.Second, MaxSize: 1000},
	}
	for i, w := range want {
		g := p.Scanners[i]
		if g.Name != w.Name || g.Engine != w.Engine || g.Address != w.Address || g.Timeout != w.Timeout ||
			g.MaxSize != w.MaxSize || g.PasswordFile != w.PasswordFile {
			t.Errorf("scanner %d = %+v, want %+v", i, g, w)
		}
	}
	if r := p.Scanners[0].PasswordFileRange; r.Start.Line != 9 || r.Start.Column != 3 {
		t.Errorf("password_file range %v", r)
	}
}
