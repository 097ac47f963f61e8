package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// TLSMode is the STARTTLS policy toward the downstream server (RFC 3207),
// after Postfix's smtp_tls_security_level.
type TLSMode int

const (
	// TLSNone never sends STARTTLS. It suits a downstream on the same host
	// or a trusted segment, where encryption costs a handshake per
	// connection and protects nothing.
	TLSNone TLSMode = iota
	// TLSOpportunistic sends STARTTLS when the server offers it, without
	// verifying its certificate (Postfix's "may"). When STARTTLS is not
	// offered or is refused, the session goes on in plaintext; when the
	// handshake fails, Open reconnects and delivers in plaintext. It
	// defeats passive eavesdropping only.
	TLSOpportunistic
	// TLSRequired sends STARTTLS and verifies the certificate (Postfix's
	// "secure"). When STARTTLS is not offered or refused, or the handshake
	// or the verification fails, Open fails and nothing is sent in
	// plaintext (docs/TESTPLAN.md row 15).
	TLSRequired
)

func (m TLSMode) String() string {
	switch m {
	case TLSNone:
		return "none"
	case TLSOpportunistic:
		return "opportunistic"
	case TLSRequired:
		return "required"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// tlsError is a STARTTLS that did not give a TLS session. It unwraps to
// the reply for the client, which only TLSRequired ever returns from Open.
type tlsError struct {
	reply     *smtp.Reply
	handshake bool // the handshake failed, which leaves the connection unusable
	err       error
}

func (e *tlsError) Error() string   { return "STARTTLS: " + e.err.Error() }
func (e *tlsError) Unwrap() []error { return []error{e.reply, e.err} }

var errNoSTARTTLS = errors.New("downstream does not offer STARTTLS")

// clientTLS is the TLS configuration of cfg.TLS, nil for TLSNone.
func clientTLS(cfg SMTPConfig) *tls.Config {
	if cfg.TLS == TLSNone {
		return nil
	}
	t := &tls.Config{}
	if cfg.TLSConfig != nil {
		t = cfg.TLSConfig.Clone()
	}
	if t.ServerName == "" {
		if host, _, err := net.SplitHostPort(cfg.Address); err == nil {
			t.ServerName = host
		}
	}
	t.MinVersion = max(t.MinVersion, tls.VersionTLS12)
	// Opportunistic TLS authenticates nobody: without a verified name there
	// is nothing to check a certificate against (RFC 7435 §1.3).
	t.InsecureSkipVerify = cfg.TLS == TLSOpportunistic
	return t
}

// startTLS upgrades the connection (RFC 3207 §4) and greets again with EHLO,
// since what the server said before TLS cannot be trusted (§4.2). A nil
// error with the connection still in plaintext means TLSOpportunistic met a
// server without STARTTLS or one that refused it.
func (c *smtpConn) startTLS(ctx context.Context, mode TLSMode, cfg *tls.Config) error {
	if !c.has("STARTTLS") {
		if mode == TLSRequired {
			return &tlsError{reply: smtp.ReplyTLSUnavailable, err: errNoSTARTTLS}
		}
		c.log.Debug("downstream does not offer STARTTLS; continuing without TLS")
		return nil
	}
	stop := c.watch(ctx)
	defer stop()
	// exchange reads the reply with readReply: bytes the server sent after
	// its 220, which would otherwise be read as if they had come through
	// TLS, lose the connection (docs/TESTPLAN.md row 16, CVE-2011-0411 in
	// reverse). Bytes that arrive later reach the handshake, which fails.
	r, err := c.exchange(ctx, c.cfg.CommandTimeout, "STARTTLS")
	if err != nil {
		if mode == TLSRequired {
			return &tlsError{reply: smtp.ReplyTLSFailed, err: err}
		}
		return err
	}
	if r.Code != 220 {
		var err error = &greetingError{stage: "STARTTLS", reply: r}
		if r.Class() != 4 && r.Class() != 5 {
			err = c.lost(ctx, fmt.Errorf("STARTTLS answered %d", r.Code))
		}
		switch {
		case mode == TLSRequired:
			return &tlsError{reply: smtp.ReplyTLSFailed, err: err}
		case r.Code == 421 || c.broken != nil: // closing (RFC 5321 §3.8), or out of step
			return err
		}
		c.log.Info("downstream refused STARTTLS; continuing without TLS", "code", r.Code)
		return nil
	}
	tc := tls.Client(c.nc, cfg)
	c.setDeadline(ctx, c.cfg.CommandTimeout)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.broken = fmt.Errorf("TLS handshake failed: %w", err)
		c.closeNet()
		return &tlsError{reply: smtp.ReplyTLSFailed, handshake: true, err: c.broken}
	}
	c.nc = tc
	c.br.Reset(tc)
	c.bw.Reset(tc)
	state := tc.ConnectionState()
	c.log.Debug("upstream TLS started", "version", tls.VersionName(state.Version),
		"cipher", tls.CipherSuiteName(state.CipherSuite), "verified", len(state.VerifiedChains) > 0)

	r, err = c.exchange(ctx, c.cfg.CommandTimeout, "EHLO "+c.cfg.Helo)
	if err != nil {
		return err
	}
	if r.Class() != 2 {
		return &greetingError{stage: "EHLO after STARTTLS", reply: r}
	}
	c.ext = parseExtensions(r)
	return nil
}
