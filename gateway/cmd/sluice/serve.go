package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/proxy"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// drainTimeout bounds the wait for sessions in flight at shutdown.
const drainTimeout = 30 * time.Second

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf loadFlags
	lf.register(fs)
	policyPath := fs.String("policy", "", "policy file")
	listen := fs.String("listen", "", "override the policy's listen address")
	upAddr := fs.String("upstream", "", "override the policy's upstream with this SMTP address")
	admin := fs.String("admin", "", "serve /healthz, /readyz and POST /reload on this address")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if *policyPath == "" || len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: sluice serve --policy FILE [--listen ADDR] [--upstream ADDR] [--admin ADDR]")
		return 2
	}
	log := lf.logger(stderr)
	ctx := context.Background()
	eng, err := lf.engine(ctx, log)
	if err != nil {
		log.Error("cannot start the plugin engine", "err", err)
		return 1
	}
	defer eng.Close(ctx)

	override := func(p *policy.Policy) {
		if *listen != "" {
			p.Listen.Address = *listen
		}
		if *upAddr != "" {
			p.Upstream.Address, p.Upstream.Maildir = *upAddr, ""
		}
	}
	gen, diags := build(ctx, *policyPath, eng, log, override)
	policy.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		log.Error("policy has errors; not starting", "policy", *policyPath)
		return 1
	}
	g := &gateway{policyPath: *policyPath, engine: eng, log: log, override: override}
	g.backend = proxy.NewBackend(gen, log)
	srv, err := g.newServer(gen.Policy)
	if err != nil {
		log.Error("cannot configure the listener", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", gen.Policy.Listen.Address)
	if err != nil {
		log.Error("cannot listen", "address", gen.Policy.Listen.Address, "err", err)
		return 1
	}
	log.Info("sluice listening", "address", ln.Addr().String(), "policy", *policyPath, "plugins", len(gen.Policy.Plugins),
		"upstream", upstreamName(gen.Policy))

	if *admin != "" {
		if err := g.serveAdmin(*admin); err != nil {
			log.Error("cannot serve admin", "address", *admin, "err", err)
			return 1
		}
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("listener failed", "err", err)
				return 1
			}
			return 0
		case s := <-sigs:
			if s == syscall.SIGHUP {
				g.reload(ctx)
				continue
			}
			log.Info("shutting down", "signal", s.String(), "drain", drainTimeout)
			sctx, cancel := context.WithTimeout(ctx, drainTimeout)
			err := srv.Shutdown(sctx)
			cancel()
			g.backend.Close()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("shutdown", "err", err)
			}
			log.Info("stopped")
			return 0
		}
	}
}

func upstreamName(p *policy.Policy) string {
	if p.Upstream.Maildir != "" {
		return "maildir:" + p.Upstream.Maildir
	}
	return "smtp:" + p.Upstream.Address
}

// gateway is the running process: the backend and what a reload needs.
type gateway struct {
	policyPath string
	engine     *wasmhost.Engine
	log        *slog.Logger
	override   func(*policy.Policy)
	backend    *proxy.Backend
	reloadMu   sync.Mutex
}

func (g *gateway) newServer(p *policy.Policy) (*smtpd.Server, error) {
	l := p.Listen
	cfg := smtpd.Config{
		Hostname:            l.Hostname,
		MaxMessageSize:      l.MaxMessageSize,
		MaxRecipients:       l.MaxRecipients,
		MaxLineLength:       l.MaxLineLength,
		CommandTimeout:      l.CommandTimeout,
		DataTimeout:         l.DataTimeout,
		GreetDelay:          l.GreetDelay,
		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		Logger:              g.log,
	}
	if l.BareLF == "reject" {
		cfg.BareLF = smtp.BareLFReject
	}
	if l.EarlyTalker == "ignore" {
		cfg.EarlyTalker = smtpd.EarlyTalkerIgnore
	}
	if l.TLS != nil {
		cert, err := tls.LoadX509KeyPair(l.TLS.CertFile, l.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tlsVersion(l.TLS.MinVersion)}
	}
	return smtpd.New(cfg, g.backend), nil
}

func tlsVersion(s string) uint16 {
	switch s {
	case "1.3":
		return tls.VersionTLS13
	case "1.0":
		return tls.VersionTLS10
	case "1.1":
		return tls.VersionTLS11
	}
	return tls.VersionTLS12
}

// reload builds the policy beside the running one and swaps it in only when
// it built completely; on failure the old generation keeps serving.
func (g *gateway) reload(ctx context.Context) (ok bool, diagnostics string) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	gen, diags := build(ctx, g.policyPath, g.engine, g.log, g.override)
	var b strings.Builder
	policy.WriteDiagnostics(&b, diags)
	if diags.HasErrors() {
		g.log.Error("reload failed; the running policy keeps serving", "policy", g.policyPath, "diagnostics", b.String())
		return false, b.String()
	}
	g.backend.Swap(gen)
	g.log.Info("policy reloaded", "policy", g.policyPath, "plugins", len(gen.Policy.Plugins))
	return true, b.String()
}

func (g *gateway) serveAdmin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if g.backend.Current() == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		ok, diags := g.reload(r.Context())
		if !ok {
			http.Error(w, diags, http.StatusUnprocessableEntity)
			return
		}
		io.WriteString(w, "reloaded\n"+diags)
	})
	// Profiles for operators chasing CPU or memory (admin is loopback-only
	// by convention; see README "Operations").
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	g.log.Info("admin listening", "address", ln.Addr().String())
	return nil
}
