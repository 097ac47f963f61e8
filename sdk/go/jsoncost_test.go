package sluice_test

import (
	"context"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// jsonCostConfig is a configuration like the first-party plugins' own.
const jsonCostConfig = `{"authserv_id":"mx.example","deny_recipients":["blocked@*","*@spam.test","abuse@*"],` +
	`"headers":{"X-Sluice":"scanned","X-Policy":"default"},"strict":true,` +
	`"rules":[{"key":"client_ip","limit":100,"window":"1m","phase":"rcpt"},{"key":"sender","limit":20,"window":"10m","phase":"mail"}]}`

// BenchmarkGuestJSON measures the SDK's JSON paths inside a Go guest
// (testdata/jsoncost) through the real host: a warm hook call that decodes
// the configuration with DecodeConfig ("config"), and one that unmarshals
// an authentication result into AuthResult ("auth_result").
func BenchmarkGuestJSON(b *testing.B) {
	wasm := buildWasm(b, "testdata/jsoncost")
	e, err := wasmhost.NewEngine(context.Background(), wasmhost.EngineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	p, err := e.Load(context.Background(), wasmhost.Spec{Name: "jsoncost", Wasm: wasm, Config: []byte(jsonCostConfig)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	for _, c := range []struct {
		name  string
		phase filter.Phase
	}{{"config", filter.Mail}, {"auth_result", filter.Rcpt}} {
		b.Run(c.name, func(b *testing.B) {
			st := filter.NewState(&filter.Session{ID: "json", Tags: filter.Tags{}})
			st.Phase, st.From, st.Rcpt = c.phase, "a@sender.test", "b@example.net"
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
					b.Fatal(v, err)
				}
			}
		})
	}
}
