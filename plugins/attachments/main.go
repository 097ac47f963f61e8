// Command attachments is a Sluice plugin that rejects messages carrying
// blocked file types. See README.md for the configuration.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o attachments.wasm ./plugins/attachments
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&attachments{}) }

func main() {}
