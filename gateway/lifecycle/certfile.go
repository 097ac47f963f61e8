package lifecycle

import (
	"crypto/tls"

	"github.com/sluice-mail/sluice/gateway/internal/boundedfile"
)

// maxPEMFile caps the listener's certificate chain and key files.
const maxPEMFile = 16 << 20

// loadKeyPair is tls.LoadX509KeyPair reading only regular files of at
// most maxPEMFile bytes, so that a policy naming a device or a FIFO cannot
// hang start-up or a reload.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := boundedfile.Read(certFile, maxPEMFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := boundedfile.Read(keyFile, maxPEMFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}
