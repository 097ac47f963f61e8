// Command footer is a Sluice plugin that appends a disclaimer to the text
// of every message, MIME-aware. See README.md for the configuration.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o footer.wasm ./plugins/footer
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&footer{}) }

func main() {}
