// Command tag is a Sluice plugin that marks messages: it adds configured
// header fields and prefixes the Subject.
//
// Policy configuration (HCL, handed to the plugin as JSON):
//
//	config = {
//	  headers        = { "X-Scanned-By" = "sluice", "X-Org" = "example" }
//	  subject_prefix = "[EXTERNAL] "
//	}
//
// Header fields are appended at the end of the header in sorted name order,
// so the output is deterministic. A field is not added again when the message
// already has a field of that name with exactly that value, so a message that
// passes the gateway twice is not tagged twice.
//
// The prefix goes in front of the first Subject field's text, after any
// leading folding whitespace, so the rest of the field, folding included, is
// kept byte for byte. It is not added when the text already starts with the
// prefix (compared case-insensitively, ignoring the prefix's trailing
// whitespace). A message without a Subject field is left without one: the
// plugin marks subjects, it does not invent them. A line the prefix makes
// longer than 998 bytes is folded by the host (sdk/ABI.md §4.4), so a
// Subject of any length is tagged.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tag.wasm ./plugins/tag
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&tagger{}) }

func main() {}
