package lifecycle

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func milterPolicy(addr string) string {
	return fmt.Sprintf("milter { address = %q }\n", addr)
}

// A policy with only a milter block serves milter and no SMTP; a reload
// cannot move the milter listener or drop the SMTP one, and says so.
func TestMilterOnlyStartAndReload(t *testing.T) {
	gw, path, _, _ := start(t, milterPolicy("127.0.0.1:0"), false)
	if gw.Addr() != "" {
		t.Errorf("milter-only policy opened an SMTP listener on %s", gw.Addr())
	}
	addr := gw.MilterAddr()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("milter listener %q: %v", addr, err)
	}
	c.Close()

	other := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if err := os.WriteFile(path, []byte(milterPolicy(other)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := gw.Reload(context.Background())
	if r.Status != "ok" || !strings.Contains(r.Diagnostics, "Milter listener needs a restart") {
		t.Errorf("reload with a new milter address: %s\n%s", r.Status, r.Diagnostics)
	}
	if gw.MilterAddr() != addr {
		t.Errorf("milter listener moved to %s", gw.MilterAddr())
	}
}

func TestRemovingListenIsRefused(t *testing.T) {
	gw, path, _, _ := start(t, listenPolicy("127.0.0.1:0", "")+milterPolicy("127.0.0.1:0"), false)
	if gw.Addr() == "" || gw.MilterAddr() == "" {
		t.Fatalf("both front ends expected: smtp %q milter %q", gw.Addr(), gw.MilterAddr())
	}
	if err := os.WriteFile(path, []byte(milterPolicy(gw.MilterAddr())), 0o644); err != nil {
		t.Fatal(err)
	}
	r := gw.Reload(context.Background())
	if r.Status != "failed" || !strings.Contains(r.Diagnostics, "SMTP listener needs a restart") {
		t.Errorf("reload dropping listen: %s\n%s", r.Status, r.Diagnostics)
	}
	if gw.Generation() != 1 {
		t.Errorf("generation %d after a refused reload", gw.Generation())
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
