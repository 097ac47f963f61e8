package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/deadline"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Default timeouts, shorter than RFC 5321 §4.5.3.2's because a client waits
// on every downstream reply: the wait for the final reply after DATA ends
// before Postfix's default 100 s smtpd_proxy_timeout, so in proxy-filter
// mode Postfix hears a reply from us rather than timing out. They are the
// policy's defaults too (gateway/policy reads them from here).
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultCommandTimeout = 60 * time.Second
	DefaultDataTimeout    = 90 * time.Second
)

// quitTimeout bounds the QUIT exchange in Close.
const quitTimeout = 5 * time.Second

// SMTPConfig configures an SMTP upstream.
type SMTPConfig struct {
	Address string // host:port of the downstream server
	Helo    string // name sent in EHLO/HELO; "localhost" when empty

	ConnectTimeout time.Duration // TCP connect; DefaultConnectTimeout when 0
	CommandTimeout time.Duration // greeting and each command's reply; DefaultCommandTimeout when 0
	DataTimeout    time.Duration // message transfer and the end-of-data reply; DefaultDataTimeout when 0

	// XClient passes the client's identity with XCLIENT after EHLO
	// (Postfix XCLIENT_README), so that the downstream's access and relay
	// rules judge the real client rather than Sluice. Open fails, wrapping
	// ErrUnreachable, when the server does not offer XCLIENT to us: falling
	// back to plain SMTP would make every client look like Sluice's own
	// address, an open relay if that address is trusted. Connections then
	// belong to one client and a Pool never reuses them.
	XClient bool
	// XForward passes the client's identity with XFORWARD before each MAIL
	// when the server offers it (Postfix XFORWARD_README). It only changes
	// what the downstream logs, and the downstream forgets it after each
	// transaction, so such connections may be pooled.
	XForward bool

	// TLS is the STARTTLS policy (RFC 3207); TLSNone by default. See
	// TLSMode for what each mode does when STARTTLS cannot be had.
	TLS TLSMode
	// TLSConfig is the base of the client TLS configuration. Under
	// TLSRequired it says what to trust: RootCAs (nil: the system's roots)
	// and ServerName, the name the certificate must carry (empty: the host
	// of Address). Under TLSOpportunistic only ServerName is used, for SNI.
	// MinVersion is raised to TLS 1.2 (RFC 8996). nil: all defaults.
	TLSConfig *tls.Config

	Logger *slog.Logger // nil discards
}

// SMTP delivers to a downstream SMTP server, one connection per Open. It is
// safe for concurrent use.
type SMTP struct {
	cfg SMTPConfig
	tls *tls.Config // the client TLS configuration of cfg.TLS; nil for TLSNone
}

var _ Upstream = (*SMTP)(nil)

// NewSMTP returns an SMTP upstream; zero fields of cfg get their defaults.
func NewSMTP(cfg SMTPConfig) *SMTP {
	if cfg.Helo == "" {
		cfg.Helo = "localhost"
	}
	cfg.ConnectTimeout = positiveOr(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.CommandTimeout = positiveOr(cfg.CommandTimeout, DefaultCommandTimeout)
	cfg.DataTimeout = positiveOr(cfg.DataTimeout, DefaultDataTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &SMTP{cfg: cfg, tls: clientTLS(cfg)}
}

// Open connects, reads the greeting and introduces itself with EHLO, or HELO
// when EHLO is refused with a 5xx (RFC 5321 §3.2), then starts TLS as
// SMTPConfig.TLS says and passes the client's identity with XCLIENT when
// configured. Every failure up to there, a 4xx/5xx greeting included, is
// returned wrapping ErrUnreachable. When TLS is required and cannot be had,
// the error also unwraps to smtp.ReplyTLSUnavailable or smtp.ReplyTLSFailed,
// the reply the client should get.
func (s *SMTP) Open(ctx context.Context, id Identity) (Conn, error) {
	log := s.cfg.Logger.With("session", id.SessionID, "upstream", s.cfg.Address)
	c, err := s.open(ctx, id, s.cfg.TLS, log)
	var te *tlsError
	if err != nil && s.cfg.TLS == TLSOpportunistic && errors.As(err, &te) && te.handshake && ctx.Err() == nil {
		// Postfix's "may": a server whose TLS is broken still gets the
		// mail, in plaintext, on a new connection (the failed handshake
		// left the old one unusable).
		log.Warn("upstream TLS handshake failed; retrying without TLS", "err", err)
		c, err = s.open(ctx, id, TLSNone, log)
	}
	return c, err
}

// open makes one connection attempt with the given TLS mode.
func (s *SMTP) open(ctx context.Context, id Identity, mode TLSMode, log *slog.Logger) (Conn, error) {
	d := net.Dialer{Timeout: s.cfg.ConnectTimeout}
	nc, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		log.Warn("upstream connect failed", "err", err)
		return nil, fmt.Errorf("%w: connect %s: %w", ErrUnreachable, s.cfg.Address, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		// Nagle's algorithm would hold back each short command (docs/DESIGN.md §6).
		_ = tc.SetNoDelay(true)
	}
	c := &smtpConn{
		cfg: &s.cfg,
		id:  id,
		log: log,
		raw: nc,
		nc:  nc,
		br:  bufio.NewReaderSize(nc, smtp.MaxReplyLineLength+2),
		bw:  bufio.NewWriterSize(nc, 32<<10),
	}
	c.dl = deadline.New(func(t time.Time) error { return c.nc.SetDeadline(t) })
	if err := c.greet(ctx); err != nil {
		c.closeNet()
		log.Warn("upstream greeting failed", "err", err)
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, s.cfg.Address, err)
	}
	if mode != TLSNone {
		if err := c.startTLS(ctx, mode, s.tls); err != nil {
			c.closeNet()
			level := slog.LevelError // mail waits until TLS works
			if mode == TLSOpportunistic {
				level = slog.LevelWarn
			}
			log.Log(ctx, level, "upstream STARTTLS failed", "mode", mode.String(), "err", err)
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, s.cfg.Address, err)
		}
	}
	if s.cfg.XClient {
		if err := c.xclient(ctx); err != nil {
			c.closeNet()
			log.Error("upstream XCLIENT failed", "err", err)
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, s.cfg.Address, err)
		}
	} else if s.cfg.XForward && !c.has("XFORWARD") {
		log.Warn("downstream does not offer XFORWARD to us: it will log Sluice as the client (add our address to smtpd_authorized_xforward_hosts)")
	}
	return c, nil
}

// identityBound reports whether connections carry one client's identity for
// their whole life (XCLIENT), which a Pool must not hand to another session.
func (s *SMTP) identityBound() bool { return s.cfg.XClient }

// greetingError is a downstream that answered the greeting or HELO with an
// error reply. It keeps the reply for logs; it deliberately does not unwrap
// to *smtp.Reply, which would read as an answer to a client command.
type greetingError struct {
	stage string
	reply *smtp.Reply
}

func (e *greetingError) Error() string {
	r := e.reply.Sanitized()
	return fmt.Sprintf("%s refused: %d %s %s", e.stage, r.Code, r.Enhanced, strings.Join(r.Lines, " / "))
}

// greet reads the 220 greeting (RFC 5321 §4.3.1) and sends EHLO, falling back
// to HELO on a 5xx.
func (c *smtpConn) greet(ctx context.Context) error {
	if !cleanArg(c.cfg.Helo) {
		return errors.New("HELO name contains control characters")
	}
	stop := c.watch(ctx)
	defer stop()
	c.setDeadline(ctx, c.cfg.CommandTimeout)
	r, err := smtp.ReadReply(c.br)
	if err != nil {
		return c.lost(ctx, err)
	}
	if r.Code != 220 {
		return &greetingError{stage: "greeting", reply: r}
	}
	r, err = c.exchange(ctx, c.cfg.CommandTimeout, "EHLO "+c.cfg.Helo)
	if err != nil {
		return err
	}
	if r.Class() == 2 {
		c.ext = parseExtensions(r)
		return nil
	}
	if r.Class() != 5 {
		return &greetingError{stage: "EHLO", reply: r}
	}
	r, err = c.exchange(ctx, c.cfg.CommandTimeout, "HELO "+c.cfg.Helo)
	if err != nil {
		return err
	}
	if r.Class() != 2 {
		return &greetingError{stage: "HELO", reply: r}
	}
	c.ext = map[string]string{}
	return nil
}

// parseExtensions reads the EHLO keywords (RFC 5321 §4.1.1.1): every line
// after the first is "KEYWORD [params]". Keywords are upper-cased.
func parseExtensions(r *smtp.Reply) map[string]string {
	ext := make(map[string]string, len(r.Lines))
	for _, l := range r.Lines[1:] {
		kw, params, _ := strings.Cut(l, " ")
		if kw != "" {
			ext[strings.ToUpper(kw)] = params
		}
	}
	return ext
}
