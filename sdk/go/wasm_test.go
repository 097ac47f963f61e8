package sluice_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// buildWasm compiles the package in dir for wasip1 as a reactor, the way a
// plugin author builds one. It skips only if this Go cannot target wasip1.
func buildWasm(t testing.TB, dir string) []byte {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	list, err := exec.Command(gobin, "tool", "dist", "list").Output()
	if err != nil {
		t.Fatalf("go tool dist list: %v", err)
	}
	if !strings.Contains(string(list), "wasip1/wasm") {
		t.Skip("this Go toolchain cannot target wasip1/wasm")
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", dir, err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// TestWasmModuleShape builds the example plugin and checks it against ABI §1
// and §2: exports, their types, and imports only from the allowed modules.
func TestWasmModuleShape(t *testing.T) {
	wasm := buildWasm(t, "examples/hello")
	t.Logf("examples/hello: %d bytes", len(wasm))
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		t.Error("memory is not exported")
	}
	exports := cm.ExportedFunctions()
	for _, name := range []string{abi.ExportABIVersion, abi.ExportConfigure,
		abi.HookConnect, abi.HookHelo, abi.HookMail, abi.HookRcpt, abi.HookData} {
		fn, ok := exports[name]
		if !ok {
			t.Errorf("%s is not exported", name)
			continue
		}
		if len(fn.ParamTypes()) != 0 || !slices.Equal(fn.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
			t.Errorf("%s has type %v -> %v, want () -> i32", name, fn.ParamTypes(), fn.ResultTypes())
		}
	}
	if _, ok := exports[abi.ExportInitialize]; !ok {
		t.Error("_initialize is not exported: not built as a reactor")
	}
	if _, ok := exports[abi.ExportStart]; ok {
		t.Error("_start is exported: built as a command")
	}
	for _, imp := range cm.ImportedFunctions() {
		mod, name, _ := imp.Import()
		switch mod {
		case abi.ImportModule, wasi_snapshot_preview1.ModuleName:
		default:
			t.Errorf("import %s.%s is outside the allowed modules", mod, name)
		}
		if mod == abi.ImportModule && !slices.Contains(hostFunctionNames, name) {
			t.Errorf("import sluice.%s is not a host function of ABI v1", name)
		}
	}
}

var hostFunctionNames = []string{abi.FnLog, abi.FnConfig, abi.FnInfo, abi.FnSetReply, abi.FnTagGet,
	abi.FnTagSet, abi.FnRcptCount, abi.FnRcptGet, abi.FnMailSet, abi.FnRcptAdd, abi.FnRcptRemove,
	abi.FnHeaderCount, abi.FnHeaderName, abi.FnHeaderValue, abi.FnHeaderFind, abi.FnHeaderAdd,
	abi.FnHeaderInsert, abi.FnHeaderChange, abi.FnHeaderDelete, abi.FnBodySize, abi.FnBodyRead,
	abi.FnBodyReplace, abi.FnBodyAppend}

// miniHost is just enough of the gateway's host, written against ABI §3 and
// §4, to run the example plugin inside wazero and check the SDK's wasip1
// code: pointer lowering, the (buf, cap) retry and the hook exports.
type miniHost struct {
	config  string
	info    map[string]string
	logs    []string
	headers []string
	reply   string
}

func (h *miniHost) read(m api.Module, ptr, n uint32) string {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic("pointer out of range")
	}
	return string(b)
}

// put implements the (buf, cap) rule: copy only if the value fits.
func (h *miniHost) put(m api.Module, buf, cap uint32, v string) int32 {
	if uint32(len(v)) <= cap && !m.Memory().Write(buf, []byte(v)) {
		panic("buffer out of range")
	}
	return int32(len(v))
}

func (h *miniHost) instantiate(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, level, p, n uint32) {
		h.logs = append(h.logs, h.read(m, p, n))
	}).Export(abi.FnLog)
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, buf, cap uint32) int32 {
		return h.put(m, buf, cap, h.config)
	}).Export(abi.FnConfig)
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, kp, kn, buf, cap uint32) int32 {
		v, ok := h.info[h.read(m, kp, kn)]
		if !ok {
			return abi.ErrNotFound
		}
		return h.put(m, buf, cap, v)
	}).Export(abi.FnInfo)
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, np, nn, vp, vn uint32) int32 {
		h.headers = append(h.headers, h.read(m, np, nn)+": "+h.read(m, vp, vn))
		return 0
	}).Export(abi.FnHeaderAdd)
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, code, ep, en, tp, tn uint32) int32 {
		h.reply = strconv.Itoa(int(code)) + " " + h.read(m, ep, en) + " " + h.read(m, tp, tn)
		return 0
	}).Export(abi.FnSetReply)
	// Every other function the SDK may import: present, and unused by the
	// example, so calling one fails the test.
	for _, name := range hostFunctionNames {
		switch name {
		case abi.FnLog, abi.FnConfig, abi.FnInfo, abi.FnHeaderAdd, abi.FnSetReply:
			continue
		}
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
			panic("unexpected host call " + name)
		}), i32s(paramCount[name]), i32s(1)).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

var paramCount = map[string]int{
	abi.FnTagGet: 4, abi.FnTagSet: 4, abi.FnRcptCount: 0, abi.FnRcptGet: 3, abi.FnMailSet: 2,
	abi.FnRcptAdd: 2, abi.FnRcptRemove: 2, abi.FnHeaderCount: 0, abi.FnHeaderName: 3,
	abi.FnHeaderValue: 3, abi.FnHeaderFind: 3, abi.FnHeaderInsert: 5, abi.FnHeaderChange: 3,
	abi.FnHeaderDelete: 1, abi.FnBodySize: 0, abi.FnBodyRead: 3, abi.FnBodyReplace: 2, abi.FnBodyAppend: 2,
}

func i32s(n int) []api.ValueType {
	out := make([]api.ValueType, n)
	for i := range out {
		out[i] = api.ValueTypeI32
	}
	return out
}

// TestWasmRunsInWazero runs the compiled example plugin through the export
// sequence the gateway uses.
func TestWasmRunsInWazero(t *testing.T) {
	wasm := buildWasm(t, "examples/hello")
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	long := strings.Repeat("h", 3000) // bigger than the SDK's first scratch buffer
	h := &miniHost{
		config: `{"header":"` + long + `","deny":"bad@example.org"}`,
		info:   map[string]string{abi.InfoMailFrom: "BAD@example.org"},
	}
	if err := h.instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	newInstance := func() api.Module {
		mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions(abi.ExportInitialize))
		if err != nil {
			t.Fatal(err)
		}
		return mod
	}
	call := func(mod api.Module, name string) int32 {
		t.Helper()
		res, err := mod.ExportedFunction(name).Call(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return int32(res[0])
	}

	mod := newInstance()
	if v := call(mod, abi.ExportABIVersion); v != abi.Version {
		t.Fatalf("abi version %d", v)
	}
	if v := call(mod, abi.ExportConfigure); v != 0 {
		t.Fatalf("configure = %d, logs %q", v, h.logs)
	}
	if v := call(mod, abi.HookConnect); v != abi.VerdictContinue {
		t.Errorf("unimplemented on_connect = %d", v)
	}
	if v := call(mod, abi.HookMail); v != abi.VerdictReject || h.reply != "550 5.7.1 Sender not welcome here" {
		t.Errorf("on_mail = %d, reply %q", v, h.reply)
	}
	for range 3 { // repeated calls on one instance
		if v := call(mod, abi.HookData); v != abi.VerdictContinue {
			t.Fatalf("on_data = %d", v)
		}
	}
	if len(h.headers) != 3 || h.headers[2] != "X-Hello: "+long {
		t.Fatalf("headers added: %d, last %.40q", len(h.headers), h.headers[len(h.headers)-1])
	}

	h.config = `{"bogus":true}`
	h.logs = nil
	if v := call(newInstance(), abi.ExportConfigure); v != 1 {
		t.Fatalf("configure with a bad key = %d", v)
	}
	if len(h.logs) != 1 || !strings.Contains(h.logs[0], `config.bogus: unknown key`) {
		t.Fatalf("logs = %q", h.logs)
	}
}
