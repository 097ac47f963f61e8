package main

import (
	"context"
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
	"syscall"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/console"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs, lf := newLoadFlagSet("serve", stderr)
	policyPath := fs.String("policy", "", "policy file")
	listen := fs.String("listen", "", "override the policy's listen address")
	upAddr := fs.String("upstream", "", "override the policy's upstream with this SMTP address")
	admin := fs.String("admin", "", "serve /metrics, /healthz, /readyz and POST /reload on this address")
	adminToken := fs.String("admin-token-file", "", "file holding the bearer token the admin server requires (needed off loopback)")
	pprofOn := fs.Bool("pprof", false, "serve Go's /debug/pprof/ profiles on the admin address")
	watch := fs.Bool("watch", true, "reload when the policy or a file it names changes on disk")
	var cf consoleFlags
	cf.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if *policyPath == "" || len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: sluice serve --policy FILE [--listen ADDR] [--upstream ADDR] [--admin ADDR [--admin-token-file FILE] [--pprof] [--console=false] [--console-size N] [--console-hash-addresses] [--console-headers]]")
		return 2
	}
	access, err := newAdminAccess(*admin, *adminToken, *pprofOn)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 2
	}
	if *cf.size < 1 || *cf.size > console.MaxSize {
		fmt.Fprintf(stderr, "sluice: --console-size must be 1 to %d\n", console.MaxSize)
		return 2
	}
	log := lf.logger(stderr)
	ctx := context.Background()
	met := metrics.New()
	// The console's recorder only exists with an admin address to see it
	// on; lifecycle makes it from the start-up policy's console block.
	var rec *console.Recorder
	var newRecorder func(policy.Console) bridge.Recorder
	if *admin != "" {
		newRecorder = func(c policy.Console) bridge.Recorder {
			if !c.Enabled {
				return nil
			}
			rec = console.NewRecorder(console.OptionsOf(c))
			return rec
		}
	}
	gw, diags, err := lifecycle.Start(ctx, lifecycle.Options{
		Path: *policyPath, Logger: log, Metrics: met, Watch: *watch, NewRecorder: newRecorder,
		NewEngine: func(ctx context.Context, store kv.Store) (*wasmhost.Engine, error) { return lf.engine(ctx, log, store) },
		Override: func(p *policy.Policy) {
			if *listen != "" {
				p.Listen.Address = *listen
			}
			if *upAddr != "" {
				p.Upstream.Address, p.Upstream.Maildir = *upAddr, ""
			}
			cf.override(fs, &p.Console)
		},
	})
	policy.WriteDiagnostics(stderr, diags)
	switch {
	case errors.Is(err, lifecycle.ErrPolicy):
		log.Error("policy has errors; not starting", "policy", *policyPath)
		return 1
	case err != nil:
		log.Error("cannot start", "err", err)
		return 1
	}
	if *admin != "" {
		var con *console.Console
		if rec != nil {
			con = console.New(gw, rec)
		}
		if err := serveAdmin(*admin, access, gw, met, log, con); err != nil {
			log.Error("cannot serve admin", "address", *admin, "err", err)
			gw.Shutdown()
			return 1
		}
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-gw.Failed():
			log.Error("listener failed", "err", err)
			gw.Shutdown()
			return 1
		case s := <-sigs:
			if s == syscall.SIGHUP {
				gw.RequestReload()
				continue
			}
			log.Info("shutting down", "signal", s.String(), "drain", lifecycle.DrainTimeout)
			gw.Shutdown()
			log.Info("stopped")
			return 0
		}
	}
}

// consoleFlags are serve's console flags. Each one given on the command
// line overrides the matching attribute of the policy's console block
// (docs/policy.md); the others leave the policy's value.
type consoleFlags struct {
	on, hash, headers *bool
	size              *int
}

func (cf *consoleFlags) register(fs *flag.FlagSet) {
	cf.on = fs.Bool("console", true, "serve the web console at / and its JSON API under /api/ on the admin address (docs/console.md); overrides the policy's console enabled")
	cf.size = fs.Int("console-size", console.DefaultSize, "transactions the console keeps; overrides the policy's console size")
	cf.hash = fs.Bool("console-hash-addresses", false, "show envelope addresses hashed in the console (domains in clear); overrides the policy's console hash_addresses")
	cf.headers = fs.Bool("console-headers", false, "keep each message's header fields for the console (bodies are never kept); overrides the policy's console headers")
}

// override applies the flags given on fs's command line to c, and gives a
// size left 0 its value, DefaultSize, so that a reload spelling the
// default out is no change.
func (cf *consoleFlags) override(fs *flag.FlagSet, c *policy.Console) {
	if c.Size == 0 {
		c.Size = console.DefaultSize
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "console":
			c.Enabled = *cf.on
		case "console-size":
			c.Size = *cf.size
		case "console-hash-addresses":
			c.HashAddresses = *cf.hash
		case "console-headers":
			c.Headers = *cf.headers
		}
	})
}

// adminTarget is what the admin server acts on (lifecycle.Gateway).
type adminTarget interface {
	Ready() bool
	KVErr() error // a shared key/value store that is down, or nil
	Reload(ctx context.Context) lifecycle.Result
}

// serveAdmin serves the admin endpoints, and the console if con is not nil.
func serveAdmin(addr string, access adminAccess, g adminTarget, met *metrics.Metrics, log *slog.Logger, con *console.Console) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !g.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		// ?kv=optional: a load balancer's check, which must not drain
		// every gateway of a fleet because their shared store is down.
		if r.URL.Query().Get("kv") != "optional" {
			if err := g.KVErr(); err != nil {
				http.Error(w, "not ready: key/value store down: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", met.Handler())
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		// Ends when the client gives up or the gateway shuts down.
		res := g.Reload(r.Context())
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
	if con != nil {
		con.Register(mux)
	}
	srv := &http.Server{Handler: access.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("admin listening", "address", ln.Addr().String())
	return nil
}
