// Package mime is the small MIME walker the first-party plugins share. It
// splits a message body into its MIME parts (RFC 2045, RFC 2046) and reports
// each part's byte offsets in the raw body, so a plugin can read a part or
// rewrite it while every other byte stays exactly as received.
//
// The walker never recurses: it keeps an explicit stack, and it stops at
// configurable limits on nesting depth, part count and boundary length
// (docs/TESTPLAN.md row 20), returning the parts found so far with an error that
// says which limit was hit. Work is linear in the body size times the nesting
// depth.
//
// Header parameters are read with the standard library's mime.ParseMediaType
// when it accepts them, and with a lenient parser as well, because mail
// readers accept more than the RFCs allow and a filter must see what the
// reader will see (see Filenames).
package mime
