// Package sluice is the Go SDK for Sluice plugins: WebAssembly modules that
// filter mail at the SMTP phases connect, helo, mail, rcpt and data.
//
// A plugin is a main package built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// It implements the hook interfaces it needs (ConnectHook, HeloHook,
// MailHook, RcptHook, DataHook and optionally Configurer) and registers
// itself once from init:
//
//	type plugin struct{ cfg config }
//
//	func (p *plugin) Configure(h sluice.Host) error { return sluice.DecodeConfig(h, &p.cfg) }
//	func (p *plugin) OnData(h sluice.Host) sluice.Verdict { ... }
//
//	func init() { sluice.Register(&plugin{}) }
//	func main() {}
//
// Every hook receives a Host, the typed view of the host functions of
// sdk/ABI.md. In a wasip1 build the Host calls the real imports of module
// "sluice"; in a native build (go test) plugins are driven by the emulated
// host in package sluicetest, which enforces the same validation and phase
// rules, so plugin logic is unit-tested without compiling to WebAssembly.
//
// The raw ABI lives in files built only for wasip1 (imports_wasip1.go,
// exports_wasip1.go); everything else in this package is plain Go.
package sluice
