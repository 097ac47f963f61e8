// Command example is the Go version of the example filter that every Sluice
// SDK ships (sdk/CONFORMANCE.md §1): it stamps each message with two header
// fields and rejects one recipient. Copy it to start a plugin.
//
//	./build.sh example.wasm
//
// and load it from a policy:
//
//	plugin "example" {
//	  wasm   = "example.wasm"
//	  config = { greeting = "hej" }
//	}
package main

import (
	"errors"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's `config` block from the policy.
type config struct {
	Greeting string `json:"greeting"` // value of X-Example-Greeting; default "hello"
}

type example struct{ cfg config }

// Configure runs once per instance, before any hook. It refuses a greeting
// that could not be a header value, so the policy fails to load instead of
// every message failing later.
func (p *example) Configure(h sluice.Host) error {
	p.cfg = config{Greeting: "hello"}
	if err := sluice.DecodeConfig(h, &p.cfg); err != nil {
		return err
	}
	if strings.ContainsAny(p.cfg.Greeting, "\r\n\x00") {
		return errors.New("greeting: must not contain CR, LF or NUL")
	}
	return nil
}

// OnRcpt rejects the recipient whose local part is exactly "blocked".
func (p *example) OnRcpt(h sluice.Host) sluice.Verdict {
	rcpt, _ := h.Info(sluice.InfoRcpt)
	if localPart(rcpt) == "blocked" {
		return sluice.Reject(h, 550, "5.7.1", "Recipient blocked by the go example")
	}
	return sluice.VerdictContinue
}

// OnData adds two header fields at the end of the header.
func (p *example) OnData(h sluice.Host) sluice.Verdict {
	h.AddHeader("X-Example-Lang", "go")
	h.AddHeader("X-Example-Greeting", p.cfg.Greeting)
	return sluice.VerdictContinue
}

// localPart returns the bytes before the last '@' of addr; "" when there is
// no '@'.
func localPart(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[:i]
}

func init() { sluice.Register(&example{}) }

func main() {}
