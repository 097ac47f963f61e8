// Package sluicetest is an in-memory Sluice host for unit-testing plugins
// natively with go test, without compiling them to WebAssembly.
//
// A Session holds what the gateway holds for one SMTP session: connection
// information, tags, the envelope of the current transaction and the message.
// Its phase methods call a plugin's hooks the way the gateway does and return
// a Result with the verdict, the effective reply and any plugin error:
//
//	s := sluicetest.New()
//	if err := s.Configure(p, `{"deny_senders": ["*@spam.example"]}`); err != nil { ... }
//	r := s.Mail(p, "bob@spam.example")
//	if r.Verdict != sluice.VerdictReject || r.Reply.Code != 550 { ... }
//
// The emulated host is the gateway's own plugin contract (gateway/contract)
// over the gateway's own session and transaction state (gateway/filter):
// header names and values, addresses, tags, replies and every limit are
// validated by the same code, mutations are refused outside their phase,
// and the verdict, the reply's class and the body are checked when the hook
// returns. A violation ends the hook as the real host would (a trap, with
// the gateway's message): Result.Err describes it and every change the call
// made is discarded. So what passes here passes there; the conformance
// suite (gateway/conformance) runs its probe vectors both ways to keep it
// so. Plugin puts a native plugin into a gateway filter chain.
//
// During Configure, as in the gateway, Log, Config, the key/value and DNS
// functions work, Info answers plugin.name and dkim.keys, other reads find
// nothing and changes trap. A body read at or beyond the end returns io.EOF.
package sluicetest
