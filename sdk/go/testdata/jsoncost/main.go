// Command jsoncost decodes JSON inside the guest, to measure what the SDK's
// JSON paths cost a Go plugin (gateway/wasmhost's countdown, RATIONALE.md
// "Stopping a guest at its deadline"): its mail hook decodes the plugin's
// configuration with sluice.DecodeConfig, as Configure does; its rcpt hook
// unmarshals the JSON of an authentication result (sdk/ABI.md §4.11) into
// sluice.AuthResult.
package main

import (
	"encoding/json"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

type rule struct {
	Key    string `json:"key"`
	Limit  int    `json:"limit"`
	Window string `json:"window"`
	Phase  string `json:"phase"`
}

type config struct {
	AuthservID     string            `json:"authserv_id"`
	DenyRecipients []string          `json:"deny_recipients"`
	Headers        map[string]string `json:"headers"`
	Rules          []rule            `json:"rules"`
	Strict         bool              `json:"strict"`
}

var authJSON = []byte(`{"spf":{"result":"pass","identity":"mailfrom","domain":"sender.test","sender":"a@sender.test"},` +
	`"dkim":[{"result":"pass","domain":"sender.test","selector":"s1","algorithm":"ed25519-sha256","b":"AbCdEfGh"},` +
	`{"result":"fail","domain":"other.test","selector":"k","algorithm":"rsa-sha256","b":"XyZ01234","reason":"body hash mismatch"}],` +
	`"dmarc":{"result":"pass","from_domain":"sender.test","policy_domain":"sender.test","policy":"reject","pct":100,"spf_aligned":true,"dkim_aligned":true},` +
	`"resinfo":"spf=pass smtp.mailfrom=a@sender.test;\r\n\tdkim=pass header.d=sender.test header.s=s1 header.b=AbCdEfGh;\r\n\tdmarc=pass header.from=sender.test"}`)

type jsoncost struct{}

// OnMail decodes the configuration.
func (p *jsoncost) OnMail(h sluice.Host) sluice.Verdict {
	var c config
	if err := sluice.DecodeConfig(h, &c); err != nil || len(c.Rules) == 0 {
		return sluice.Tempfail(h, 451, "4.3.0", "config")
	}
	return sluice.VerdictContinue
}

// OnRcpt decodes the authentication result.
func (p *jsoncost) OnRcpt(h sluice.Host) sluice.Verdict {
	var r sluice.AuthResult
	if err := json.Unmarshal(authJSON, &r); err != nil || r.DMARC == nil || len(r.DKIM) != 2 {
		return sluice.Tempfail(h, 451, "4.3.0", "auth")
	}
	return sluice.VerdictContinue
}

func init() { sluice.Register(&jsoncost{}) }

func main() {}
