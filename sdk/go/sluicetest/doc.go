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
// The emulated host enforces the rules of sdk/ABI.md: header names and values,
// addresses, tags and replies are validated, mutations are refused outside
// their phase, the body is checked when the hook returns, and the verdict must
// agree with the reply's class. A violation ends the hook as the real host
// would (a trap): Result.Err describes it and every change the call made is
// discarded. Validation uses the gateway's own code (gateway/message,
// gateway/smtp), so what passes here passes there.
//
// Choices where the ABI is silent: during Configure only Log, Config and
// Info(InfoPlugin) work (other reads find nothing, mutations trap); a
// body read at or beyond the end returns io.EOF.
package sluicetest
