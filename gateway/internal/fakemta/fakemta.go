// Package fakemta is a programmable downstream MTA for tests. By default it
// is go-smtp's server with a recording backend; faults that go-smtp cannot
// produce (a silent or failing greeting, garbage or endless replies, a 421
// that closes, custom EHLO keywords) switch it to a small raw SMTP responder
// in this package. Both modes record what they receive the same way.
//
// Everything listens on 127.0.0.1 and is shut down by t.Cleanup, which waits
// for every goroutine it started.
package fakemta

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Hostname is the name the MTA greets with.
const Hostname = "fakemta.test"

// Message is one message received and accepted at end of data.
type Message struct {
	From  string
	Rcpts []string
	Data  []byte // exactly as received, after dot-unstuffing
	TLS   bool   // received after a successful STARTTLS (raw mode)
}

// Option configures an MTA.
type Option func(*config)

type config struct {
	on      map[Step]Action
	nth     map[Step]map[int]Action
	ext     []string
	extSet  bool
	rawMode bool
	tls     *tls.Config
}

// On sets the action for every occurrence of step.
func On(step Step, a Action) Option {
	return func(c *config) { c.on[step] = a }
}

// OnNth sets the action for the nth occurrence (from 1) of step, counted
// over all connections. It takes precedence over On.
func OnNth(step Step, n int, a Action) Option {
	return func(c *config) {
		if c.nth[step] == nil {
			c.nth[step] = map[int]Action{}
		}
		c.nth[step][n] = a
	}
}

// Extensions sets the EHLO keywords advertised, replacing the default
// "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 52428800". It uses
// the raw mode.
func Extensions(kw ...string) Option {
	return func(c *config) { c.ext, c.extSet = kw, true }
}

// TLS offers STARTTLS (RFC 3207) with cfg's certificate: "STARTTLS" is
// added to the EHLO keywords, and an accepted STARTTLS step answers 220 and
// runs the server side of the handshake. Without this option, a STARTTLS
// listed with Extensions is answered 220 and the connection closed, a
// handshake that fails. It uses the raw mode.
func TLS(cfg *tls.Config) Option {
	return func(c *config) { c.tls = cfg }
}

// RawMode uses the raw responder even when go-smtp could do the job.
func RawMode() Option {
	return func(c *config) { c.rawMode = true }
}

var defaultExtensions = []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 52428800"}

// MTA is a running fake downstream server.
type MTA struct {
	t       testing.TB
	cfg     config
	ln      net.Listener
	srv     *gosmtp.Server // nil in raw mode
	release chan struct{}  // closed at cleanup: hung steps give up
	wg      sync.WaitGroup // the accept loop and raw handlers

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	nconn   int
	counts  [numSteps]int
	reached [numSteps]chan struct{}
	txns    int
	msgs    []Message
	cmds    []string
	reads   int
}

// Start starts an MTA on 127.0.0.1:0.
func Start(t testing.TB, opts ...Option) *MTA {
	t.Helper()
	m := &MTA{
		t:       t,
		cfg:     config{on: map[Step]Action{}, nth: map[Step]map[int]Action{}},
		release: make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}
	for _, o := range opts {
		o(&m.cfg)
	}
	if !m.cfg.extSet {
		m.cfg.ext = defaultExtensions
	}
	if m.cfg.tls != nil && !slices.ContainsFunc(m.cfg.ext, func(kw string) bool { return strings.EqualFold(kw, "STARTTLS") }) {
		m.cfg.ext = append(slices.Clip(m.cfg.ext), "STARTTLS")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakemta: %v", err)
	}
	m.ln = ln
	if m.needsRaw() {
		m.wg.Add(1)
		go m.acceptRaw()
	} else {
		m.srv = gosmtp.NewServer(backend{m})
		m.srv.Domain = Hostname
		m.srv.MaxLineLength = 0 // record long lines instead of refusing them
		m.srv.ErrorLog = log.New(io.Discard, "", 0)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			_ = m.srv.Serve(&trackListener{Listener: ln, m: m})
		}()
	}
	t.Cleanup(m.close)
	return m
}

// Addr returns "127.0.0.1:port".
func (m *MTA) Addr() string { return m.ln.Addr().String() }

// Messages returns the messages accepted so far, in order.
func (m *MTA) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.msgs...)
}

// Transactions returns how many MAIL commands were received, whatever the
// reply.
func (m *MTA) Transactions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.txns
}

// Conns returns how many connections were accepted.
func (m *MTA) Conns() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nconn
}

// Commands returns every command line received, without its CRLF, from all
// connections in arrival order; message content is not included.
func (m *MTA) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.cmds...)
}

// Reads returns how many reads of the connections returned data, over all
// connections: a client that sends several commands in one write and waits
// for their replies makes one read here, lock-step makes one per command.
func (m *MTA) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

func (m *MTA) countRead() {
	m.mu.Lock()
	m.reads++
	m.mu.Unlock()
}

// Reached returns a channel closed once step has occurred, before the MTA
// acts on it: a test can wait for a hung step instead of sleeping.
func (m *MTA) Reached(step Step) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reached[step] == nil {
		m.reached[step] = make(chan struct{})
		if m.counts[step] > 0 {
			close(m.reached[step])
		}
	}
	return m.reached[step]
}

func (m *MTA) needsRaw() bool {
	if m.cfg.rawMode || m.cfg.extSet || m.cfg.tls != nil {
		return true
	}
	for step, a := range m.cfg.on {
		if a.needsRaw(step) {
			return true
		}
	}
	for step, byN := range m.cfg.nth {
		for _, a := range byN {
			if a.needsRaw(step) {
				return true
			}
		}
	}
	return false
}

// action counts one occurrence of step and returns what to do.
func (m *MTA) action(step Step) Action {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[step]++
	if ch := m.reached[step]; ch != nil && m.counts[step] == 1 {
		close(ch)
	}
	if a, ok := m.cfg.nth[step][m.counts[step]]; ok {
		return a
	}
	return m.cfg.on[step]
}

func (m *MTA) recordCommand(line string) {
	m.mu.Lock()
	m.cmds = append(m.cmds, line)
	m.mu.Unlock()
}

func (m *MTA) recordMail() {
	m.mu.Lock()
	m.txns++
	m.mu.Unlock()
}

func (m *MTA) recordMessage(msg Message) {
	m.mu.Lock()
	m.msgs = append(m.msgs, msg)
	m.mu.Unlock()
}

// track registers an accepted connection; it returns false once the MTA is
// shutting down, and then closes c.
func (m *MTA) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		c.Close()
		return false
	}
	m.conns[c] = struct{}{}
	m.nconn++
	return true
}

func (m *MTA) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// close stops everything and waits for the goroutines.
func (m *MTA) close() {
	close(m.release)
	m.mu.Lock()
	m.closed = true
	for c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.srv != nil {
		// Closes the listener and waits for go-smtp's handlers, whose
		// connections are closed above.
		if err := m.srv.Shutdown(ctx); err != nil {
			m.t.Errorf("fakemta: shutdown: %v", err)
		}
	}
	m.ln.Close() // also when Serve had not registered it yet
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		m.t.Errorf("fakemta: goroutines did not stop")
	}
}

// trackListener registers the connections go-smtp accepts and taps them.
type trackListener struct {
	net.Listener
	m *MTA
}

func (l *trackListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.m.track(c) {
			return &tapConn{Conn: c, m: l.m}, nil
		}
	}
}

var errStopped = errors.New("fakemta: stopped")
