// Package scanverdict holds what the content-scanning plugins (rspamd,
// clamav, spamassassin) share: the scanner and on_error settings, the
// verdict for a scanner that failed, and making scanner text safe for a
// reply or a header field.
package scanverdict

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/toggle"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Config is the part of each plugin's configuration about the scanner.
type Config struct {
	// Scanner names the policy's scanner block; the plugin block needs
	// grants = ["scan:NAME"].
	Scanner string `json:"scanner"`
	// OnError is what a failed scan (scanner down, timed out, garbage)
	// does: "tempfail" (default) or "continue" (pass the message
	// unscanned).
	OnError string `json:"on_error"`
}

// Check validates c and returns whether a failed scan continues.
func (c Config) Check() (continueOnError bool, err error) {
	if c.Scanner == "" {
		return false, errors.New(`scanner: required: the name of a scanner block (and grants = ["scan:NAME"])`)
	}
	for i := 0; i < len(c.Scanner); i++ {
		b := c.Scanner[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false, fmt.Errorf("scanner: %q is not a scanner name", c.Scanner)
		}
	}
	return toggle.Parse("on_error", c.OnError, "tempfail", "continue")
}

// Scanner is a plugin's configured scanner, kept by Load; plugins embed it.
type Scanner struct {
	name            string
	continueOnError bool
}

// Load checks c and keeps its scanner and on_error setting.
func (s *Scanner) Load(c Config) error {
	var err error
	s.continueOnError, err = c.Check()
	s.name = c.Scanner
	return err
}

// Scan asks the scanner about the message.
func (s *Scanner) Scan(h sluice.Host) (*sluice.ScanResult, error) {
	return h.Scan(s.name)
}

// Fail is the verdict for a scan that failed with err (see Failed).
func (s *Scanner) Fail(h sluice.Host, err error) sluice.Verdict {
	return Failed(h, s.continueOnError, s.name, err)
}

// Failed is the verdict for a scan that failed with err: 451 4.7.1, or
// Continue (logged as a warning) when continueOnError is set.
func Failed(h sluice.Host, continueOnError bool, scanner string, err error) sluice.Verdict {
	if continueOnError {
		h.Log(sluice.LevelWarn, "scanner "+scanner+" failed, message passed unscanned (on_error = continue): "+err.Error())
		return sluice.VerdictContinue
	}
	h.Log(sluice.LevelWarn, "scanner "+scanner+" failed, message deferred: "+err.Error())
	return sluice.Tempfail(h, 451, "4.7.1", "Content scanner unavailable, try again later")
}

// ReplyText is s as reply text (printable ASCII; runs of anything else
// become one space; at most 400 bytes), or def when nothing is left.
func ReplyText(s, def string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		if b.Len()+1+len(w) > 400 {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	if b.Len() == 0 {
		return def
	}
	return b.String()
}

// HeaderValue is s with CR, LF and NUL as spaces (the host folds long
// values), trimmed.
func HeaderValue(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s))
}

// ValidName reports whether s is a header field name (RFC 5322 §3.6.8).
func ValidName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// DeleteAll removes every field called name.
func DeleteAll(h sluice.Host, name string) {
	for {
		i, ok := h.FindHeader(name, 0)
		if !ok {
			return
		}
		h.DeleteHeader(i)
	}
}

// SetHeader replaces every field called name with one field name: value.
func SetHeader(h sluice.Host, name, value string) {
	DeleteAll(h, name)
	h.AddHeader(name, value)
}
