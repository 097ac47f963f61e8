package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/console"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// nullUpstream accepts everything and sends nothing anywhere.
type nullUpstream struct{}

func (nullUpstream) Open(context.Context, upstream.Identity) (upstream.Conn, error) {
	return nullConn{}, nil
}

type nullConn struct{}

func (nullConn) Mail(context.Context, string, string) error { return nil }
func (nullConn) Rcpt(context.Context, string, string) error { return nil }
func (nullConn) Data(_ context.Context, m io.WriterTo) error {
	_, err := m.WriteTo(io.Discard)
	return err
}
func (nullConn) Reset(context.Context) error { return nil }
func (nullConn) LastReply() *smtp.Reply {
	return smtp.NewReply(250, "2.0.0", "Ok: queued as 4XyZ123")
}
func (nullConn) Close() error { return nil }

// BenchmarkSessionRecorder is the session path (a real SMTP client on
// loopback, smtpd, the access and tag plugins, a 10 KiB message) without
// and with the console's recorder, nobody watching: the recorder's share
// of the CPU per message (docs/console.md "Cost").
func BenchmarkSessionRecorder(b *testing.B) {
	for _, withRec := range []bool{false, true} {
		name := "without"
		if withRec {
			name = "with"
		}
		b.Run(name, func(b *testing.B) { benchSession(b, withRec) })
	}
}

func benchSession(b *testing.B, withRec bool) {
	ctx := context.Background()
	src := fmt.Sprintf(`listen { address = "127.0.0.1:0" }
upstream { maildir = "mail" }
plugin "access" {
  wasm   = %q
  config = { deny_senders = ["*@spam.example"] }
}
plugin "tag" {
  wasm   = %q
  config = { headers = { "X-Sluice" = "scanned" }, subject_prefix = "[tagged] " }
}
`, plugin("access"), plugin("tag"))
	p, diags := policy.Parse([]byte(src), filepath.Join(b.TempDir(), "policy.hcl"))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	eng, err := wasmhost.NewEngine(ctx, wasmhost.EngineOptions{CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	log := slog.New(slog.DiscardHandler)
	opts := bridge.Options{Engine: eng, Logger: log, Upstream: nullUpstream{}}
	var rec *console.Recorder
	if withRec {
		rec = console.NewRecorder(console.Options{})
		opts.Recorder = rec
	}
	gen, diags := bridge.Build(ctx, p, opts)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	backend := bridge.NewBackend(gen, log)
	defer backend.Close()
	srv := smtpd.New(smtpd.Config{Hostname: "sluice.test", Logger: log}, backend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	expect := func(code string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if !strings.HasPrefix(line, code) {
				b.Fatalf("got %q, want %s", line, code)
			}
			if len(line) < 4 || line[3] != '-' {
				return
			}
		}
	}
	expect("220")
	fmt.Fprintf(c, "EHLO client.test\r\n")
	expect("250")
	body := "Subject: bench\r\nFrom: a@example.org\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 128) + ".\r\n"
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for range b.N {
		fmt.Fprintf(c, "MAIL FROM:<a@example.org>\r\n")
		expect("250")
		fmt.Fprintf(c, "RCPT TO:<b@example.net>\r\n")
		expect("250")
		fmt.Fprintf(c, "DATA\r\n")
		expect("354")
		io.WriteString(c, body)
		expect("250")
	}
	b.StopTimer()
	if withRec {
		if n := rec.Stats().Recorded; n != uint64(b.N) {
			b.Fatalf("recorded %d of %d", n, b.N)
		}
	}
}
