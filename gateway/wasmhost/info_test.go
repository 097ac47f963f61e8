package wasmhost

import (
	"context"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// TestInfoKeysByPhase checks every info key of sdk/ABI.md §4.2 with its
// phase availability, and that header and body reads are NOT_FOUND outside
// the data phase.
func TestInfoKeysByPhase(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "info", Wasm: module(t, "info")})
	const nf = "NOTFOUND"
	base := map[string]string{
		"session.id": "S1", "client.ip": "192.0.2.1", "client.port": "4242", "client.name": nf,
		"helo": nf, "tls": "TLS1.3", "tls.cipher": "TLS_AES_128_GCM_SHA256",
		"server.hostname": "mx.example", "plugin.name": "info",
		"mail.from": nf, "mail.params": nf, "rcpt": nf, "rcpt.params": nf, "unknown": nf,
		"nohdr": "1", "queue_id": nf, "auth.user": "alice",
	}
	with := func(phase string, changes map[string]string) map[string]string {
		m := map[string]string{"phase": phase}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	mail := map[string]string{"helo": "client.example", "mail.from": "alice@example.org", "mail.params": "SIZE=100", "queue_id": "4ABCDEF"}
	rcpt := map[string]string{"rcpt": "carol@example.com", "rcpt.params": "NOTIFY=NEVER", "rcpt0": "bob@example.com"}
	for k, v := range mail {
		rcpt[k] = v
	}
	data := map[string]string{"rcpt0": "bob@example.com", "nohdr": ""}
	for k, v := range mail {
		data[k] = v
	}
	want := map[filter.Phase]map[string]string{
		filter.Connect: with("connect", nil),
		filter.Helo:    with("helo", map[string]string{"helo": "client.example"}),
		filter.Mail:    with("mail", mail),
		filter.Rcpt:    with("rcpt", rcpt),
		filter.Data:    with("data", data),
	}
	for _, ph := range filter.Phases {
		st := stateAt(t, ph)
		st.Session.TLSVersion, st.Session.TLSCipher = "TLS1.3", "TLS_AES_128_GCM_SHA256"
		st.MailParams = "SIZE=100"
		st.QueueID, st.Session.AuthUser = "4ABCDEF", "alice" // milter mode's macros i and {auth_authen}
		if ph == filter.Rcpt {
			st.Rcpt, st.RcptParams = "carol@example.com", "NOTIFY=NEVER"
		}
		if _, err := p.Call(context.Background(), st); err != nil {
			t.Fatalf("%v: %v", ph, err)
		}
		for k, v := range want[ph] {
			got, ok := st.Tag(k)
			if v == "" {
				if ok {
					t.Errorf("%v: tag %s = %q, want unset", ph, k, got)
				}
				continue
			}
			if got != v {
				t.Errorf("%v: info %s = %q, want %q", ph, k, got, v)
			}
		}
	}
}
