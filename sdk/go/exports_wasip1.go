//go:build wasip1

package sluice

import "github.com/sluice-mail/sluice/sdk/abi"

// The exports of sdk/ABI.md §2. Go cannot export a function conditionally, so
// every hook is exported; a hook the registered plugin does not implement
// answers VerdictContinue at once (a bare call, a few tens of nanoseconds).
//
// These two variables are the module's only package state, and the ABI
// requires it: the exports take no parameters, so the registered plugin and
// the instance's host view must be reachable from them. Both are set during
// _initialize (package init) and never change afterwards.
var (
	registered *hooks
	guest      = newGuestHost(wasmABI{})
)

func register(hs hooks) {
	if registered != nil {
		panic("sluice.Register called twice")
	}
	registered = &hs
}

//go:wasmexport sluice_abi_version
func exportABIVersion() int32 { return abi.Version }

// exportHooks tells the host which hooks the plugin implements, so it never
// calls the others (sdk/ABI.md §2).
//
//go:wasmexport sluice_hooks
func exportHooks() int32 {
	if hs := registered; hs != nil {
		return hs.mask()
	}
	return 0
}

//go:wasmexport sluice_configure
func exportConfigure() int32 { return guest.configure(registered) }

//go:wasmexport sluice_on_connect
func exportOnConnect() int32 {
	if hs := registered; hs != nil && hs.connect != nil {
		return int32(hs.connect.OnConnect(guest))
	}
	return abi.VerdictContinue
}

//go:wasmexport sluice_on_helo
func exportOnHelo() int32 {
	if hs := registered; hs != nil && hs.helo != nil {
		return int32(hs.helo.OnHelo(guest))
	}
	return abi.VerdictContinue
}

//go:wasmexport sluice_on_mail
func exportOnMail() int32 {
	if hs := registered; hs != nil && hs.mail != nil {
		return int32(hs.mail.OnMail(guest))
	}
	return abi.VerdictContinue
}

//go:wasmexport sluice_on_rcpt
func exportOnRcpt() int32 {
	if hs := registered; hs != nil && hs.rcpt != nil {
		return int32(hs.rcpt.OnRcpt(guest))
	}
	return abi.VerdictContinue
}

//go:wasmexport sluice_on_data
func exportOnData() int32 {
	if hs := registered; hs != nil && hs.data != nil {
		return int32(hs.data.OnData(guest))
	}
	return abi.VerdictContinue
}
