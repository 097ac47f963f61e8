package sluice

import (
	"fmt"
	"reflect"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// Configurer is implemented by a plugin that reads its configuration. It runs
// once per instance before any hook (export sluice_configure); a non-nil
// error refuses the configuration, the error text is logged, and the policy
// does not load. Keep what you parse in the plugin value: it lives as long as
// the instance, which never outlives its policy.
type Configurer interface {
	Configure(h Host) error
}

// ConnectHook is implemented by a plugin that runs at connect.
type ConnectHook interface {
	OnConnect(h Host) Verdict
}

// HeloHook is implemented by a plugin that runs at HELO/EHLO.
type HeloHook interface {
	OnHelo(h Host) Verdict
}

// MailHook is implemented by a plugin that runs at MAIL FROM.
type MailHook interface {
	OnMail(h Host) Verdict
}

// RcptHook is implemented by a plugin that runs at each RCPT TO.
type RcptHook interface {
	OnRcpt(h Host) Verdict
}

// DataHook is implemented by a plugin that runs once per message, after the
// end of DATA, with the whole message available.
type DataHook interface {
	OnData(h Host) Verdict
}

// hooks is a plugin split into the interfaces it implements; a nil field is a
// hook the plugin does not have, answered with VerdictContinue without a call.
type hooks struct {
	configure Configurer
	connect   ConnectHook
	helo      HeloHook
	mail      MailHook
	rcpt      RcptHook
	data      DataHook
}

// mask is the sluice_hooks bit mask of the implemented hooks.
func (hs hooks) mask() int32 {
	var m int32
	set := func(ok bool, bit int32) {
		if ok {
			m |= bit
		}
	}
	set(hs.connect != nil, abi.HookBitConnect)
	set(hs.helo != nil, abi.HookBitHelo)
	set(hs.mail != nil, abi.HookBitMail)
	set(hs.rcpt != nil, abi.HookBitRcpt)
	set(hs.data != nil, abi.HookBitData)
	return m
}

func hooksOf(p any) hooks {
	var hs hooks
	hs.configure, _ = p.(Configurer)
	hs.connect, _ = p.(ConnectHook)
	hs.helo, _ = p.(HeloHook)
	hs.mail, _ = p.(MailHook)
	hs.rcpt, _ = p.(RcptHook)
	hs.data, _ = p.(DataHook)
	return hs
}

func (hs hooks) any() bool {
	return hs.connect != nil || hs.helo != nil || hs.mail != nil || hs.rcpt != nil || hs.data != nil
}

// Register makes p the plugin of this module. Call it exactly once, from an
// init function of the main package. p must implement at least one hook
// interface; Register panics otherwise, or when called twice, so a plugin
// whose hook methods are misspelt fails at start-up rather than doing nothing.
//
// In a native build (go test) Register only checks p; tests drive the plugin
// value through package sluicetest.
func Register(p any) {
	hs := hooksOf(p)
	if !hs.any() {
		panic(noHookMessage(p))
	}
	register(hs)
}

// noHookMessage says why p has no hook and how to fix it.
func noHookMessage(p any) string {
	if t := reflect.TypeOf(p); t != nil && t.Kind() != reflect.Pointer {
		if hooksOf(reflect.New(t).Interface()).any() {
			return fmt.Sprintf("sluice.Register: %v implements no hook, but *%v does: its methods have pointer receivers, "+
				"so register a pointer: sluice.Register(&%v{})", t, t, t.Name())
		}
	}
	return fmt.Sprintf("sluice.Register: %T implements no hook: give it at least one method "+
		"OnConnect, OnHelo, OnMail, OnRcpt or OnData, each func(sluice.Host) sluice.Verdict "+
		"(check the spelling and the signature)", p)
}
