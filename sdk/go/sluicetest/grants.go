package sluicetest

import sluice "github.com/sluice-mail/sluice/sdk/go"

// The gateway refuses at load a module that imports a host function whose
// grant its policy block lacks (ABI §4.6, §4.8, §4.9). A native test has no
// imports to check, so the session refuses the call instead: it traps, and
// the hook is a plugin error, as a missing grant would make the policy fail
// to load. A new session has the grants "kv" and "dns"; "envelope" must be
// granted with Grant. DKIM keys are granted by SetDKIMKey.

// Grant gives the plugin capabilities, as grants = [...] in its policy
// block would: sluice.GrantKV, sluice.GrantDNS, sluice.GrantEnvelope.
func (s *Session) Grant(names ...string) {
	for _, n := range names {
		s.grants[n] = true
	}
}

// Revoke takes capabilities away, so that a test can check that a plugin
// works (or fails as documented) without them.
func (s *Session) Revoke(names ...string) {
	for _, n := range names {
		delete(s.grants, n)
	}
}

// needGrant traps unless grant was given.
func (h *host) needGrant(fn, grant string) {
	h.enter(fn)
	if !h.s.grants[grant] {
		trapf("%s needs the %q grant: add grants = [%q] to the plugin block (Session.Grant)", fn, grant, grant)
	}
}

// defaultGrants are the grants of a new session.
func defaultGrants() map[string]bool {
	return map[string]bool{sluice.GrantKV: true, sluice.GrantDNS: true}
}
