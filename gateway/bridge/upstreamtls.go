package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/sluice-mail/sluice/gateway/internal/boundedfile"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

// upstreamTLS turns the policy's STARTTLS settings toward the downstream
// into the SMTP client's: the mode, and what to verify the server against.
// The CA file, if any, is read now, so that a bad one fails the build (and
// `sluice check`) rather than every delivery.
func upstreamTLS(u policy.Upstream) (upstream.TLSMode, *tls.Config, error) {
	var mode upstream.TLSMode
	switch u.TLS {
	case policy.UpstreamTLSOpportunistic:
		mode = upstream.TLSOpportunistic
	case policy.UpstreamTLSRequired:
		mode = upstream.TLSRequired
	default:
		return upstream.TLSNone, nil, nil
	}
	cfg := &tls.Config{ServerName: u.TLSServerName}
	if u.TLSCAFile != "" && mode == upstream.TLSRequired {
		pem, err := boundedfile.Read(u.TLSCAFile, maxCAFile)
		if err != nil {
			return mode, nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return mode, nil, fmt.Errorf("%s: %w", u.TLSCAFile, errNoCerts)
		}
		cfg.RootCAs = pool
	}
	return mode, cfg, nil
}

var errNoCerts = errors.New("no PEM certificate found")

// maxCAFile caps the CA file: a system bundle is a few hundred KiB.
const maxCAFile = 16 << 20
