package lifecycle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/proxyprotocol"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
)

// front is the SMTP listener and its server. Every reload applies the
// listen block this way:
//   - a changed address: the new address is bound with every new setting,
//     then the old server drains (its sessions finish);
//   - the STARTTLS certificate, key and min_version: taken by the next
//     handshake;
//   - any other setting, with the address unchanged: reported by the
//     reload as a warning at its attribute; it applies at the next start
//     or address change (the running listener cannot be rebound in place).
type front struct {
	backend  *bridge.Backend
	log      *slog.Logger
	failed   chan error                 // a server stopped for a reason other than shutdown
	tls      atomic.Pointer[tls.Config] // certificate and min version, replaced on reload
	mu       sync.Mutex
	srv      *smtpd.Server
	addr     string
	running  policy.Listen // the settings the running server was started with
	draining sync.WaitGroup
}

// Addr is the bound address.
func (f *front) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// start opens the listener of l and serves it.
func (f *front) start(l policy.Listen) error {
	if l.TLS != nil {
		if err := f.loadTLS(l.TLS); err != nil {
			return err
		}
	}
	srv := smtpd.New(f.serverConfig(l), f.backend)
	ln, err := openListener(l, f.log)
	if err != nil {
		return err
	}
	f.srv, f.addr, f.running = srv, ln.Addr().String(), l
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtpd.ErrServerClosed) {
			select {
			case f.failed <- err:
			default:
			}
		}
	}()
	return nil
}

func (f *front) serverConfig(l policy.Listen) smtpd.Config {
	cfg := smtpd.Config{
		Hostname:            l.Hostname,
		MaxMessageSize:      l.MaxMessageSize,
		MaxRecipients:       l.MaxRecipients,
		MaxLineLength:       l.MaxLineLength,
		CommandTimeout:      l.CommandTimeout,
		DataTimeout:         l.DataTimeout,
		JunkCommandLimit:    l.JunkCommandLimit,
		HardErrorLimit:      l.HardErrorLimit,
		GreetDelay:          l.GreetDelay,
		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		XForwardPeers:       l.XForwardPeers,
		Logger:              f.log,
	}
	if l.BareLF == policy.BareLFReject {
		cfg.BareLF = smtp.BareLFReject
	}
	if l.EarlyTalker == policy.EarlyTalkerIgnore {
		cfg.EarlyTalker = smtpd.EarlyTalkerIgnore
	}
	if l.TLS != nil {
		// Every handshake takes the current certificate and min version.
		cfg.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return f.tls.Load(), nil }}
	}
	return cfg
}

// loadTLS reads the STARTTLS certificate; a failure keeps the old one.
func (f *front) loadTLS(t *policy.TLS) error {
	cert, err := loadKeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return err
	}
	min := uint16(tls.VersionTLS12)
	if t.MinVersion == "1.3" {
		min = tls.VersionTLS13
	}
	f.tls.Store(&tls.Config{MinVersion: min, Certificates: []tls.Certificate{cert}})
	return nil
}

// apply makes a reloaded listen block current: it moves to a changed
// address (with every new setting), else reloads the STARTTLS
// certificate; changes returned what it cannot apply.
func (f *front) apply(l policy.Listen) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Address != f.addr && !sameAddress(l.Address, f.addr) {
		f.rebind(l)
		return
	}
	if l.TLS != nil && f.running.TLS != nil {
		if err := f.loadTLS(l.TLS); err != nil {
			f.log.Error("cannot load the TLS certificate; keeping the old one", "err", err)
		}
	}
}

func (f *front) rebind(l policy.Listen) {
	old, oldAddr := f.srv, f.addr
	oldTLS := f.tls.Load()
	if err := f.start(l); err != nil {
		f.tls.Store(oldTLS)
		f.log.Error("cannot listen on the new address; the old listener keeps serving", "address", l.Address, "err", err)
		return
	}
	f.log.Info("listen address changed", "from", oldAddr, "to", f.addr)
	f.draining.Add(1)
	go func() {
		defer f.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
		defer cancel()
		old.Shutdown(ctx)
	}()
}

// restartSettings are the listen settings a reload cannot apply to the
// running server (see front), each with how to compare it.
var restartSettings = []struct {
	name  string
	value func(policy.Listen) any
	note  string // what of it the new generation applies at once
}{
	{"hostname", func(l policy.Listen) any { return l.Hostname }, " (in the greeting and EHLO reply; plugins and the downstream EHLO see the new name at once)"},
	{"max_message_size", func(l policy.Listen) any { return l.MaxMessageSize }, " (the SIZE limit; plugins' room to grow a message follows the new value at once)"},
	{"max_recipients", func(l policy.Listen) any { return l.MaxRecipients }, ""},
	{"max_line_length", func(l policy.Listen) any { return l.MaxLineLength }, ""},
	{"command_timeout", func(l policy.Listen) any { return l.CommandTimeout }, ""},
	{"data_timeout", func(l policy.Listen) any { return l.DataTimeout }, ""},
	{"junk_command_limit", func(l policy.Listen) any { return l.JunkCommandLimit }, ""},
	{"hard_error_limit", func(l policy.Listen) any { return l.HardErrorLimit }, ""},
	{"max_connections", func(l policy.Listen) any { return l.MaxConnections }, ""},
	{"max_connections_per_ip", func(l policy.Listen) any { return l.MaxConnectionsPerIP }, ""},
	{"bare_lf", func(l policy.Listen) any { return l.BareLF }, ""},
	{"early_talker", func(l policy.Listen) any { return l.EarlyTalker }, ""},
	{"greet_delay", func(l policy.Listen) any { return l.GreetDelay }, ""},
	{"xforward_peers", func(l policy.Listen) any { return fmt.Sprint(l.XForwardPeers) }, " (who may send XFORWARD; the refusal of other clients under upstream xforward follows the new value at once)"},
	{"proxy_protocol", func(l policy.Listen) any { return l.ProxyProtocol }, ""},
	{"proxy_trusted", func(l policy.Listen) any { return fmt.Sprint(l.ProxyTrusted) }, ""},
	{"tls", func(l policy.Listen) any { return l.TLS != nil }, ""},
}

// serving reports whether the SMTP listener was started (a milter-only
// policy has none).
func (f *front) serving() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.srv != nil
}

// changesOf is changes for a policy that may have no listen block: adding
// one to a running milter-only gateway needs a restart, removing it from
// a running SMTP gateway is refused (its sessions would have no upstream).
func (f *front) changesOf(p *policy.Policy) hcl.Diagnostics {
	switch {
	case !f.serving() && p.NoListen:
		return nil
	case !f.serving():
		return hcl.Diagnostics{policy.Warning(p.Listen.Range.Filename, &p.Listen.Range, "SMTP listener needs a restart",
			"The listen block was added; the SMTP listener is opened at start-up, so it serves after sluice restarts.")}
	case p.NoListen:
		// Its sessions would have no upstream: refuse the reload.
		return hcl.Diagnostics{policy.Error(p.File, nil, "SMTP listener needs a restart",
			"The listen block was removed while the SMTP listener is running; restart sluice to serve milter only.")}
	}
	return f.changes(p.Listen)
}

// changes are warnings for the settings of l that differ from the running
// server's and that a reload to l would not apply: none when the address
// changes (the new server gets them all). Each is reported at its
// attribute, or at the listen block when the attribute was removed.
func (f *front) changes(l policy.Listen) hcl.Diagnostics {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Address != f.addr && !sameAddress(l.Address, f.addr) {
		return nil
	}
	var diags hcl.Diagnostics
	for _, s := range restartSettings {
		was, now := s.value(f.running), s.value(l)
		if was == now {
			continue
		}
		rng, ok := l.Ranges[s.name]
		if !ok {
			rng = l.Range
		}
		diags = append(diags, policy.Warning(rng.Filename, &rng, "Listener setting needs a restart",
			fmt.Sprintf("listen %s changed from %v to %v; the running listener keeps %v%s until sluice restarts or the listen address changes.",
				s.name, was, now, was, s.note)))
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int { return a.Subject.Start.Byte - b.Subject.Start.Byte })
	return diags
}

// sameAddress reports whether a configured address names the bound one.
func sameAddress(configured, bound string) bool {
	ch, cp, err1 := net.SplitHostPort(configured)
	bh, bp, err2 := net.SplitHostPort(bound)
	return err1 == nil && err2 == nil && cp == bp && (ch == bh || ch == "" || ch == "0.0.0.0" || ch == "::")
}

// shutdown stops the server and waits for old ones still draining.
func (f *front) shutdown(ctx context.Context) error {
	f.mu.Lock()
	srv := f.srv
	f.mu.Unlock()
	err := srv.Shutdown(ctx)
	f.draining.Wait()
	return err
}

// openListener opens the SMTP listener. Behind a load balancer (proxy_protocol)
// every connection must start with a PROXY header from a trusted address.
func openListener(l policy.Listen, log *slog.Logger) (net.Listener, error) {
	// No TCP keep-alive on accepted sessions: every SMTP state has its own
	// idle timeout (RFC 5321 §4.5.3.2), which ends a dead peer's session
	// sooner, and turning keep-alive on costs four setsockopt calls per
	// connection (RATIONALE.md, "Accepted sessions have no TCP keep-alive").
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", l.Address)
	if err != nil || !l.ProxyProtocol {
		return ln, err
	}
	return proxyprotocol.Proxy(ln, proxyprotocol.ProxyOptions{Trusted: l.ProxyTrusted, Logger: log}), nil
}
