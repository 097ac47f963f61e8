package e2e

import (
	"fmt"
	"testing"
)

// benchChain is the plugin chain the benchmarks share, for an ed25519 key
// made in b's temp dir: access at RCPT, then extra (more plugin blocks, with
// a literal %BIN%), then tag and dkim-sign at end of DATA.
func benchChain(b *testing.B, extra string) string {
	keyFile, _ := keygen(b, "ed25519")
	return fmt.Sprintf(`
dkim_key "main" {
  domain           = "sluice.test"
  selector         = "s1"
  private_key_file = %q
}
plugin "access" {
  wasm   = "%%BIN%%/plugins/access.wasm"
  config = { deny_recipients = ["blocked@*"] }
}
%splugin "tag" {
  wasm   = "%%BIN%%/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "scanned" } }
}
plugin "dkim-sign" {
  wasm   = "%%BIN%%/plugins/dkim-sign.wasm"
  grants = ["dkim:main"]
}
`, keyFile, extra)
}
