package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// nopRecorder records nothing.
type nopRecorder struct{}

func (nopRecorder) Record(*bridge.Transaction) {}

// The console block is read once, at start-up, after the Override (serve's
// flags): the recorder is made from it, and a reload that changes it is
// told, at each changed attribute, that the change needs a restart; the
// recorder is not made again. A reload that changes nothing, or only what
// the Override sets anyway, is not warned about.
func TestConsoleBlockReadAtStart(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	path := filepath.Join(t.TempDir(), "policy.hcl")
	write := func(console string) {
		if err := os.WriteFile(path, []byte(listenPolicy(addr, "")+console), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("console {\n  size = 10\n  hash_addresses = true\n  headers = false\n}\n")
	var made []policy.Console
	gw, diags, err := Start(context.Background(), Options{Path: path,
		NewEngine: func(ctx context.Context, store kv.Store) (*wasmhost.Engine, error) {
			return wasmhost.NewEngine(ctx, wasmhost.EngineOptions{KV: store})
		},
		// serve's --console-headers=true given on the command line.
		Override: func(p *policy.Policy) { p.Console.Headers = true },
		NewRecorder: func(c policy.Console) bridge.Recorder {
			made = append(made, c)
			return nopRecorder{}
		}})
	if err != nil {
		t.Fatalf("Start: %v\n%v", err, diags)
	}
	t.Cleanup(gw.Shutdown)
	if len(made) != 1 || made[0].Size != 10 || !made[0].HashAddresses || !made[0].Headers || !made[0].Enabled {
		t.Fatalf("recorders made from %+v, want one of size 10, hashing, with headers (the override), enabled", made)
	}
	ctx := context.Background()

	write("console {\n  size = 20\n  hash_addresses = false\n  headers = true\n}\n")
	res := reloadWarning(ctx, t, gw,
		"policy.hcl:6:3: warning: Console setting needs a restart: console size changed from 10 to 20; the console keeps 10 until sluice restarts.",
		"policy.hcl:7:3: warning: Console setting needs a restart: console hash_addresses changed from true to false")
	if strings.Contains(res.Diagnostics, "headers") || strings.Contains(res.Diagnostics, "enabled") {
		t.Errorf("an unchanged setting is warned about:\n%s", res.Diagnostics)
	}

	// Removing an attribute is a change to its default, reported at the
	// block; removing the block, in the file.
	write("console {\n  size = 10\n}\n")
	if res := gw.Reload(ctx); res.Status != "ok" ||
		!strings.Contains(res.Diagnostics, "policy.hcl:5:1: warning: Console setting needs a restart: console hash_addresses changed from true to false") ||
		strings.Contains(res.Diagnostics, "console size") {
		t.Errorf("reload without hash_addresses: %+v", res)
	}
	write("")
	if res := gw.Reload(ctx); res.Status != "ok" ||
		!strings.Contains(res.Diagnostics, "policy.hcl: warning: Console setting needs a restart: console size changed from 10 to the default") {
		t.Errorf("reload without the block: %+v", res)
	}
	write("console {\n  size = 10\n  hash_addresses = true\n}\n")
	if res := gw.Reload(ctx); res.Status != "ok" || res.Diagnostics != "" {
		t.Errorf("reload back to the start-up settings: %+v", res)
	}
	if len(made) != 1 {
		t.Errorf("reloads made %d more recorders", len(made)-1)
	}
}

// With the console off at start-up and in the reloaded policy, its other
// settings change nothing and are not warned about; turning it on is.
func TestConsoleChangesWhileDisabled(t *testing.T) {
	off := policy.Console{Size: 10}
	if d := consoleChanges(off, policy.Console{Size: 20, HashAddresses: true}); len(d) != 0 {
		t.Errorf("warnings for a console that stays off: %v", d)
	}
	d := consoleChanges(off, policy.Console{Enabled: true, Size: 10})
	if len(d) != 1 || !strings.Contains(d[0].Detail, "console enabled changed from false to true") {
		t.Errorf("turning the console on: %v", d)
	}
}
