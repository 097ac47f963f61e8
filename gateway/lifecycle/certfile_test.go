package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/testcert"
)

// The listener's certificate and key are read capped, like modules: a
// device is refused at once; a real pair loads.
func TestLoadKeyPairBounded(t *testing.T) {
	start := time.Now()
	if _, err := loadKeyPair("/dev/zero", "/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("loadKeyPair(/dev/zero) = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	cert, key := testcert.NewCA(t, "ca").Issue("mx.example.org").Write(t, t.TempDir(), "mx")
	if _, err := loadKeyPair(cert, key); err != nil {
		t.Errorf("a valid pair: %v", err)
	}
}
