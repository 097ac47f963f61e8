package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer accepts connections and hands each to serve, until the test
// ends.
func fakeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// address is the scanner address of addr for engine.
func address(engine, addr string) string {
	if engine == EngineRspamd {
		return "http://" + addr
	}
	return "tcp://" + addr
}

func newScanner(t *testing.T, c Config) Scanner {
	t.Helper()
	if c.Name == "" {
		c.Name = "fake"
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var engines = []string{EngineRspamd, EngineClamd, EngineSpamd}

// TestSlowScannerTimesOut: a scanner that accepts, reads and never answers
// is abandoned at the caller's deadline, and at the scanner's own timeout,
// with ErrTimeout.
func TestSlowScannerTimesOut(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	for _, engine := range engines {
		for _, which := range []string{"context", "timeout"} {
			t.Run(engine+"/"+which, func(t *testing.T) {
				c := Config{Engine: engine, Address: address(engine, addr), Timeout: time.Hour}
				ctx := context.Background()
				const limit = 300 * time.Millisecond
				if which == "context" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, limit)
					defer cancel()
				} else {
					c.Timeout = limit
				}
				s := newScanner(t, c)
				start := time.Now()
				_, err := s.Scan(ctx, testEnv, mail("minutes", plainBody))
				took := time.Since(start)
				if !errors.Is(err, ErrTimeout) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
				if took > limit+2*time.Second {
					t.Fatalf("took %s for a %s deadline", took, limit)
				}
			})
		}
	}
}

// TestGarbageIsProtocolError: replies that are not of the protocol.
func TestGarbageIsProtocolError(t *testing.T) {
	cases := map[string][]string{
		EngineRspamd: {
			"SSH-2.0-OpenSSH_9.2\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
			"HTTP/1.1 200 OK\r\nContent-Length: 35\r\n\r\n{\"action\":\"delete all\",\"score\":1.0}",
			"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 17\r\n\r\n{\"error\":\"oops\"}\n",
		},
		EngineClamd: {
			"hello\x00",
			"stream: \x00",
			"stream: two words FOUND\x00",
			"Can't allocate memory ERROR\x00",
			"\xff\xfe\x00",
		},
		EngineSpamd: {
			"hello\r\n\r\n",
			"SPAMD/1.1 76 Bad header line\r\n\r\n",
			"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n",
			"SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n",
			"SPAMD/1.1 0 EX_OK\r\nSpam: True ; x / 5\r\n\r\n",
		},
	}
	for _, engine := range engines {
		for i, reply := range cases[engine] {
			t.Run(fmt.Sprintf("%s/%d", engine, i), func(t *testing.T) {
				addr := fakeServer(t, func(c net.Conn) {
					defer c.Close()
					// The whole request first: a reply while the client
					// still writes makes net/http report either the
					// write or the read error.
					if engine == EngineRspamd {
						if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
							_, _ = io.Copy(io.Discard, req.Body)
						}
					} else {
						readRequest(c, engine)
					}
					_, _ = io.WriteString(c, reply)
					if tc, ok := c.(*net.TCPConn); ok {
						_ = tc.CloseWrite()
					}
					_, _ = io.Copy(io.Discard, c) // until the client closes
				})
				s := newScanner(t, Config{Engine: engine, Address: address(engine, addr), Timeout: 10 * time.Second})
				_, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("reply %q: err = %v, want ErrProtocol", reply, err)
				}
			})
		}
	}
}

// TestClosedWithoutReplyIsUnreachable: a daemon that hangs up, or is not
// there at all.
func TestClosedWithoutReplyIsUnreachable(t *testing.T) {
	hangup := fakeServer(t, func(c net.Conn) { c.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close()
	for _, engine := range engines {
		for name, addr := range map[string]string{"hangup": hangup, "refused": nobody} {
			t.Run(engine+"/"+name, func(t *testing.T) {
				s := newScanner(t, Config{Engine: engine, Address: address(engine, addr), Timeout: 10 * time.Second})
				_, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
				if !errors.Is(err, ErrUnreachable) {
					t.Fatalf("err = %v, want ErrUnreachable", err)
				}
			})
		}
	}
	t.Run("unix", func(t *testing.T) {
		s := newScanner(t, Config{Engine: EngineClamd, Address: "unix:" + t.TempDir() + "/none.sock"})
		if _, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody)); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
	})
}

// TestMaxSizeSkips: a message over max_size is not sent at all (the scanner
// here would time out) and comes back skipped, without error.
func TestMaxSizeSkips(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			msg := mail("minutes", plainBody)
			s := newScanner(t, Config{Engine: engine, Address: address(engine, addr), Timeout: 5 * time.Second, MaxSize: int64(len(msg) - 1)})
			res, err := s.Scan(context.Background(), testEnv, msg)
			if err != nil || res.Skipped != SkippedTooLarge || res.Engine != engine {
				t.Fatalf("res = %+v, err = %v", res, err)
			}
			if v, _ := res.Value("skipped"); v != "too large" {
				t.Fatalf("Value(skipped) = %q", v)
			}
		})
	}
}

// TestRspamdRequest: the envelope goes in rspamd's headers, one Rcpt per
// recipient, with the password, and the message is the body.
func TestRspamdRequest(t *testing.T) {
	type seen struct {
		path string
		h    http.Header
		body string
	}
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, r.Header.Clone(), string(b)}
		_, _ = io.WriteString(w, `{"action":"no action","score":0.5,"required_score":15}`)
	}))
	defer srv.Close()
	s := newScanner(t, Config{Engine: EngineRspamd, Address: srv.URL + "/", Password: "s3cret"})
	env := testEnv
	env.User = "alice"
	msg := mail("minutes", plainBody)
	for range 2 {
		if _, err := s.Scan(context.Background(), env, msg); err != nil {
			t.Fatal(err)
		}
		r := <-got
		want := map[string][]string{
			"Ip": {"192.0.2.10"}, "Helo": {"client.example.org"}, "From": {"alice@example.org"},
			"Rcpt": {"bob@example.net", "carol@example.net"}, "Hostname": {"client.example.org"},
			"Queue-Id": {"4XyZ1abc"}, "User": {"alice"}, "Password": {"s3cret"},
		}
		for k, v := range want {
			if !slices.Equal(r.h[k], v) {
				t.Errorf("header %s = %q, want %q", k, r.h[k], v)
			}
		}
		if r.path != "/checkv2" || r.body != string(msg) || r.h["X-Idempotency-Key"] != nil {
			t.Fatalf("path %q, body %d bytes (want %d), headers %v", r.path, len(r.body), len(msg), r.h)
		}
	}
	// The null sender of a transaction is "<>".
	if _, err := s.Scan(context.Background(), Envelope{Recipients: []string{"bob@example.net"}}, msg); err != nil {
		t.Fatal(err)
	}
	if r := <-got; !slices.Equal(r.h["From"], []string{"<>"}) {
		t.Fatalf("null sender: From %q", r.h["From"])
	}
	// Empty envelope members are not sent.
	if _, err := s.Scan(context.Background(), Envelope{}, msg); err != nil {
		t.Fatal(err)
	}
	r := <-got
	for _, k := range []string{"Ip", "Helo", "From", "Rcpt", "Hostname", "Queue-Id", "User"} {
		if _, ok := r.h[k]; ok {
			t.Errorf("empty %s sent: %q", k, r.h[k])
		}
	}
}

func TestNewRefusesBadAddresses(t *testing.T) {
	for _, c := range []Config{
		{Engine: EngineRspamd, Address: "127.0.0.1:11333"},
		{Engine: EngineRspamd, Address: "ftp://127.0.0.1/"},
		{Engine: EngineClamd, Address: "127.0.0.1:3310"},
		{Engine: EngineClamd, Address: "unix:relative.sock"},
		{Engine: EngineSpamd, Address: "tcp://nohost"},
		{Engine: "sophos", Address: "tcp://127.0.0.1:1"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v: accepted", c)
		} else if !strings.Contains(err.Error(), c.Address) && c.Engine != "sophos" {
			t.Errorf("%+v: error %q does not name the address", c, err)
		}
	}
}

// TestRspamdPool: connections are kept alive between scans when the server
// allows it (Debian 12's rspamd 3.4 answers "Connection: close", newer
// versions and proxies may not), and never more than MaxConns are open at
// once however many scans run.
func TestRspamdPool(t *testing.T) {
	var mu sync.Mutex
	open, peak := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond) // let scans pile up
		_, _ = io.WriteString(w, `{"action":"no action","score":0,"required_score":15}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch st {
		case http.StateNew:
			open++
			peak = max(peak, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	srv.Start()
	defer srv.Close()
	s := newScanner(t, Config{Engine: EngineRspamd, Address: srv.URL, MaxConns: 2})
	var reused []bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
	})
	for range 3 {
		if _, err := s.Scan(ctx, testEnv, mail("minutes", plainBody)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(reused, []bool{false, true, true}) {
		t.Fatalf("connections reused: %v", reused)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if peak > 2 {
		t.Fatalf("%d connections open at once, MaxConns is 2", peak)
	}
}

// TestStreamScannersBoundConnections: clamd and spamd scans beyond MaxConns
// wait for a free connection rather than opening more.
func TestStreamScannersBoundConnections(t *testing.T) {
	for _, engine := range []string{EngineClamd, EngineSpamd} {
		t.Run(engine, func(t *testing.T) {
			var mu sync.Mutex
			open, peak := 0, 0
			reply := map[string]string{EngineClamd: "stream: OK\x00", EngineSpamd: "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"}[engine]
			addr := fakeServer(t, func(c net.Conn) {
				defer c.Close()
				mu.Lock()
				open++
				peak = max(peak, open)
				mu.Unlock()
				readRequest(c, engine)
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				open-- // before the reply, which frees the client's slot
				mu.Unlock()
				_, _ = io.WriteString(c, reply)
			})
			s := newScanner(t, Config{Engine: engine, Address: address(engine, addr), MaxConns: 2, Timeout: 20 * time.Second})
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					if _, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if peak > 2 {
				t.Fatalf("%d connections open at once, MaxConns is 2", peak)
			}
		})
	}
}

// readRequest reads a whole clamd (up to the zero-length chunk) or spamd
// (up to the client's half-close) request, so closing does not reset.
func readRequest(c net.Conn, engine string) {
	var got []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || (engine == EngineClamd && len(got) > 14 && string(got[len(got)-4:]) == "\x00\x00\x00\x00") {
			return
		}
	}
}

// watched is a message that counts the WriteTo calls in progress.
type watched struct {
	Bytes
	active atomic.Int32
}

// WriteTo takes its time to give up after a failed write, like a message
// read from a slow disk: a scanner returning before WriteTo does would
// leave it reading.
func (w *watched) WriteTo(dst io.Writer) (int64, error) {
	w.active.Add(1)
	defer w.active.Add(-1)
	n, err := w.Bytes.WriteTo(dst)
	if err != nil {
		time.Sleep(200 * time.Millisecond)
	}
	return n, err
}

// TestMessageNotReadAfterScan: when Scan returns (here at its deadline, the
// scanner reading nothing), nothing reads the message any more, so the host
// may change it for the next plugin.
func TestMessageNotReadAfterScan(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {}) // accepts, never reads
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			msg := &watched{Bytes: mail("big", strings.Repeat("x", 16<<20))}
			s := newScanner(t, Config{Engine: engine, Address: address(engine, addr), Timeout: 300 * time.Millisecond})
			_, err := s.Scan(context.Background(), testEnv, msg)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if n := msg.active.Load(); n != 0 {
				t.Fatalf("%d writers still reading the message after Scan returned", n)
			}
		})
	}
}
