package main

import (
	"errors"
	"fmt"
	"html"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/mime"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	Text     string `json:"text"`
	HTML     string `json:"html"`
	MaxDepth int    `json:"max_depth"`
	MaxParts int    `json:"max_parts"`
}

// Limits of the configuration itself.
const (
	maxFooterLen = 16 * 1024 // bytes of text or html
	maxLineLen   = 998       // RFC 5322 §2.1.1, the host's body rule
)

// footer is the plugin; Configure fills it once per instance.
type footer struct {
	text, html           string // CRLF line endings, no final line break
	textASCII, htmlASCII bool
	limits               mime.Limits
}

func (p *footer) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *footer) load(c config) error {
	var err error
	if p.text, err = normalText(c.Text); err != nil {
		return fmt.Errorf("text: %w", err)
	}
	if p.text == "" {
		return errors.New("text: must not be empty")
	}
	if p.html, err = normalText(c.HTML); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	if p.html == "" {
		p.html = htmlFromText(p.text)
		if err := checkLines(p.html); err != nil {
			return fmt.Errorf("text, escaped for HTML: %w", err)
		}
	}
	p.textASCII, p.htmlASCII = isASCII(p.text), isASCII(p.html)

	p.limits, err = mime.ConfigLimits(c.MaxDepth, c.MaxParts)
	return err
}

// normalText checks configured footer text and gives it CRLF line endings
// (LF or CRLF accepted) without trailing line breaks. Tabs are allowed,
// other control bytes are not; every line fits the 998-byte limit.
func normalText(s string) (string, error) {
	if len(s) > maxFooterLen {
		return "", fmt.Errorf("longer than %d bytes", maxFooterLen)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
			return "", fmt.Errorf("contains control byte 0x%02x", c)
		}
	}
	s = strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\r\n")
	if err := checkLines(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkLines checks that every CRLF-separated line of s fits the 998-byte
// limit.
func checkLines(s string) error {
	for i, l := range strings.Split(s, "\r\n") {
		if len(l) > maxLineLen {
			return fmt.Errorf("line %d is longer than %d bytes", i+1, maxLineLen)
		}
	}
	return nil
}

// htmlFromText is the HTML footer used when only text is configured: the
// text escaped, one <br> per line break, in a paragraph.
func htmlFromText(text string) string {
	lines := strings.Split(text, "\r\n")
	for i, l := range lines {
		lines[i] = html.EscapeString(l)
	}
	return "<p>" + strings.Join(lines, "<br>\r\n") + "</p>"
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
