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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/listener"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/proxy"
	"github.com/sluice-mail/sluice/gateway/reload"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
)

// drainTimeout bounds the wait for sessions in flight at shutdown.
const drainTimeout = 30 * time.Second

// reloadStopTimeout bounds the wait, at shutdown, for a reload that was
// building: shutdown cancels it, which stops its plugins' start-up at once;
// only compiling a large module goes on until it is done.
const reloadStopTimeout = 5 * time.Second

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf loadFlags
	lf.register(fs)
	policyPath := fs.String("policy", "", "policy file")
	listen := fs.String("listen", "", "override the policy's listen address")
	upAddr := fs.String("upstream", "", "override the policy's upstream with this SMTP address")
	admin := fs.String("admin", "", "serve /metrics, /healthz, /readyz and POST /reload on this address")
	adminToken := fs.String("admin-token-file", "", "file holding the bearer token the admin server requires (needed off loopback)")
	pprofOn := fs.Bool("pprof", false, "serve Go's /debug/pprof/ profiles on the admin address")
	watch := fs.Bool("watch", true, "reload when the policy or a file it names changes on disk")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if *policyPath == "" || len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: sluice serve --policy FILE [--listen ADDR] [--upstream ADDR] [--admin ADDR [--admin-token-file FILE] [--pprof]]")
		return 2
	}
	access, err := newAdminAccess(*admin, *adminToken, *pprofOn)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 2
	}
	log := lf.logger(stderr)
	ctx := context.Background()
	store, err := openKV(*policyPath, log)
	if err != nil {
		log.Error("cannot open the key/value store", "err", err)
		return 1
	}
	met := metrics.New()
	var kvStore kv.Store
	shared, err := openRedisKV(*policyPath, log, met)
	if err != nil {
		log.Error("cannot open the key/value store", "err", err)
		return 1
	}
	if shared != nil {
		kvStore = shared
		defer shared.Close()
	}
	if store != nil {
		kvStore = store
		defer func() { // after the engine is closed: save what plugins wrote
			if err := store.Close(); err != nil {
				log.Error("cannot save the key/value store", "err", err)
			}
		}()
	}
	eng, err := lf.engine(ctx, log, kvStore)
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
	buildGen := func(ctx context.Context) (*proxy.Generation, hcl.Diagnostics) {
		return build(ctx, *policyPath, eng, log, override, met, nil)
	}
	gen, diags := buildGen(ctx)
	policy.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		log.Error("policy has errors; not starting", "policy", *policyPath)
		return 1
	}
	met.SetGeneration(1)
	// life ends at shutdown: it cancels reloads in progress or queued
	// (SIGHUP, POST /reload, the file watcher), so a plugin that hangs in
	// its start-up cannot hold the process.
	life, stop := context.WithCancel(ctx)
	defer stop()
	g := &gateway{log: log, metrics: met, life: life}
	if shared != nil {
		g.kvErr = shared.Err
	}
	g.backend = proxy.NewBackend(gen, log)
	f := &front{g: g, log: log, failed: make(chan error, 1)}
	g.reloader = reload.New(*policyPath, reload.Options{Build: buildGen, Swap: g.backend.Swap, Logger: log,
		Report: func(r reload.Result) {
			met.Reload(r.Status, r.Generation)
			if r.Gen != nil {
				g.loadCert(r.Gen.Policy)
				f.rebind(r.Gen.Policy)
			}
		}})
	if err := f.start(gen.Policy); err != nil {
		log.Error("cannot listen", "address", gen.Policy.Listen.Address, "err", err)
		return 1
	}
	log.Info("sluice listening", "address", f.addr, "policy", *policyPath, "plugins", len(gen.Policy.Plugins),
		"upstream", upstreamName(gen.Policy), "proxy_protocol", gen.Policy.Listen.ProxyProtocol, "upstream_tls", gen.Policy.Upstream.TLS)

	if *admin != "" {
		if err := g.serveAdmin(*admin, access); err != nil {
			log.Error("cannot serve admin", "address", *admin, "err", err)
			return 1
		}
	}

	var reloads sync.WaitGroup // the watcher and the SIGHUP reloader
	if *watch {
		reloads.Add(1)
		go func() {
			defer reloads.Done()
			if err := g.reloader.Watch(life, 0); err != nil {
				log.Warn("policy file watching disabled", "err", err)
			}
		}()
	}
	// SIGHUP reloads run beside the signal loop, so SIGTERM is heard
	// during one; SIGHUPs arriving meanwhile make one more reload.
	hup := make(chan struct{}, 1)
	reloads.Add(1)
	go func() {
		defer reloads.Done()
		for {
			select {
			case <-life.Done():
				return
			case <-hup:
				g.reloader.Reload(life)
			}
		}
	}()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-f.failed:
			log.Error("listener failed", "err", err)
			return 1
		case s := <-sigs:
			if s == syscall.SIGHUP {
				select {
				case hup <- struct{}{}:
				default: // one is already queued
				}
				continue
			}
			log.Info("shutting down", "signal", s.String(), "drain", drainTimeout)
			stop()
			stopped := make(chan struct{})
			go func() { reloads.Wait(); close(stopped) }()
			sctx, cancel := context.WithTimeout(ctx, drainTimeout)
			err := f.shutdown(sctx)
			cancel()
			select {
			case <-stopped:
			case <-time.After(reloadStopTimeout):
				log.Warn("a policy reload is still building; exiting without waiting for it")
			}
			g.backend.Close()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("shutdown", "err", err)
			}
			log.Info("stopped")
			return 0
		}
	}
}

// front is the SMTP listener and its server. A reload that changes the
// listen address binds the new address first, then drains the old server
// (its sessions finish); any other listener setting takes effect at the
// next start.
type front struct {
	g        *gateway
	log      *slog.Logger
	failed   chan error // a server stopped for a reason other than shutdown
	mu       sync.Mutex
	srv      *smtpd.Server
	addr     string
	draining sync.WaitGroup
}

// start opens the listener of p and serves it.
func (f *front) start(p *policy.Policy) error {
	srv, err := f.g.newServer(p)
	if err != nil {
		return err
	}
	ln, err := openListener(p.Listen, f.log)
	if err != nil {
		return err
	}
	f.srv, f.addr = srv, ln.Addr().String()
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

// rebind moves to p's listen address if it changed.
func (f *front) rebind(p *policy.Policy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.Listen.Address == f.addr || sameAddress(p.Listen.Address, f.addr) {
		return
	}
	old, oldAddr := f.srv, f.addr
	if err := f.start(p); err != nil {
		f.log.Error("cannot listen on the new address; the old listener keeps serving", "address", p.Listen.Address, "err", err)
		return
	}
	f.log.Info("listen address changed", "from", oldAddr, "to", f.addr)
	f.draining.Add(1)
	go func() {
		defer f.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		old.Shutdown(ctx)
	}()
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
// Like the address, this is read at start only.
func openListener(l policy.Listen, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", l.Address)
	if err != nil || !l.ProxyProtocol {
		return ln, err
	}
	return listener.Proxy(ln, listener.ProxyOptions{Trusted: l.ProxyTrusted, Logger: log}), nil
}

func upstreamName(p *policy.Policy) string {
	if p.Upstream.Maildir != "" {
		return "maildir:" + p.Upstream.Maildir
	}
	return "smtp:" + p.Upstream.Address
}

// gateway is the running process: the backend, its reloader and metrics.
type gateway struct {
	log      *slog.Logger
	backend  *proxy.Backend
	reloader *reload.Reloader
	metrics  *metrics.Metrics
	cert     atomic.Pointer[tls.Certificate] // STARTTLS certificate, replaced on reload
	life     context.Context                 // ends at shutdown; bounds reloads
	kvErr    func() error                    // a shared kv store's health (nil: none); /readyz
}

// loadCert loads the policy's STARTTLS certificate; a failure keeps the old
// one (the reload already validated the policy).
func (g *gateway) loadCert(p *policy.Policy) error {
	if p.Listen.TLS == nil {
		return nil
	}
	cert, err := loadKeyPair(p.Listen.TLS.CertFile, p.Listen.TLS.KeyFile)
	if err != nil {
		g.log.Error("cannot load the TLS certificate; keeping the old one", "err", err)
		return err
	}
	g.cert.Store(&cert)
	return nil
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
		JunkCommandLimit:    l.JunkCommandLimit,
		HardErrorLimit:      l.HardErrorLimit,
		GreetDelay:          l.GreetDelay,
		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		XForwardPeers:       l.XForwardPeers,
		Logger:              g.log,
	}
	if l.BareLF == "reject" {
		cfg.BareLF = smtp.BareLFReject
	}
	if l.EarlyTalker == "ignore" {
		cfg.EarlyTalker = smtpd.EarlyTalkerIgnore
	}
	if l.TLS != nil {
		if err := g.loadCert(p); err != nil {
			return nil, err
		}
		cfg.TLSConfig = &tls.Config{MinVersion: tlsVersion(l.TLS.MinVersion),
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return g.cert.Load(), nil }}
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

func (g *gateway) serveAdmin(addr string, access adminAccess) error {
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
		// ?kv=optional: a load balancer's check, which must not drain
		// every gateway of a fleet because their shared store is down.
		if g.kvErr != nil && r.URL.Query().Get("kv") != "optional" {
			if err := g.kvErr(); err != nil {
				http.Error(w, "not ready: key/value store down: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", g.metrics.Handler())
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		// Ends when the client gives up or the gateway shuts down.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(g.life, cancel)()
		res := g.reloader.Reload(ctx)
		if res.Status == "failed" {
			http.Error(w, "reload failed; the running policy keeps serving\n"+res.Diagnostics, http.StatusUnprocessableEntity)
			return
		}
		fmt.Fprintf(w, "%s: generation %d\n%s", res.Status, res.Generation, res.Diagnostics)
	})
	// Profiles for operators chasing CPU or memory, only with --pprof.
	if access.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	}
	srv := &http.Server{Handler: access.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	g.log.Info("admin listening", "address", ln.Addr().String())
	return nil
}
