// Command hello is the smallest useful Sluice plugin: it adds a header to
// every message and rejects mail from one configured sender. The SDK's
// README builds it step by step.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm .
package main

import (
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

type config struct {
	Header string `json:"header"` // value of X-Hello; default "world"
	Deny   string `json:"deny"`   // a sender to reject; "" rejects nobody
}

type hello struct{ cfg config }

func (p *hello) Configure(h sluice.Host) error {
	p.cfg = config{Header: "world"}
	return sluice.DecodeConfig(h, &p.cfg)
}

func (p *hello) OnMail(h sluice.Host) sluice.Verdict {
	from, _ := h.Info(sluice.InfoMailFrom)
	if p.cfg.Deny != "" && strings.EqualFold(from, p.cfg.Deny) {
		return sluice.Reject(h, 550, "5.7.1", "Sender not welcome here")
	}
	return sluice.VerdictContinue
}

func (p *hello) OnData(h sluice.Host) sluice.Verdict {
	h.AddHeader("X-Hello", p.cfg.Header)
	return sluice.VerdictContinue
}

func init() { sluice.Register(&hello{}) }

func main() {}
