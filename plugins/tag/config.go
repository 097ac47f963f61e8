package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	Headers       map[string]string `json:"headers"`
	SubjectPrefix string            `json:"subject_prefix"`
}

// field is one header field to add.
type field struct{ name, value string }

// tagger is the plugin; Configure fills it once per instance.
type tagger struct {
	fields []field // sorted by name
	prefix string
	// match is prefix without trailing whitespace: the text a subject that
	// is already tagged starts with.
	match string
}

// Configure decodes and checks the configuration; any problem refuses it, so
// a policy with a bad tag never loads.
func (p *tagger) Configure(h sluice.Host) error {
	if err := sluice.LoadConfig(h, p.load); err != nil {
		return err
	}
	if len(p.fields) == 0 && p.prefix == "" {
		h.Log(sluice.LevelWarn, "config sets no headers and no subject_prefix: messages pass unchanged")
	}
	return nil
}

func (p *tagger) load(c config) error {
	names := make([]string, 0, len(c.Headers))
	for name := range c.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	p.fields = p.fields[:0]
	for _, name := range names {
		value := c.Headers[name]
		if err := validName(name); err != nil {
			return fmt.Errorf("headers: %q: %w", name, err)
		}
		if err := validText(value); err != nil {
			return fmt.Errorf("headers: %q: value %w", name, err)
		}
		// RFC 5322 §2.1.1: a line is at most 998 bytes; "Name: value".
		if len(name)+2+len(value) > 998 {
			return fmt.Errorf("headers: %q: field longer than 998 bytes", name)
		}
		p.fields = append(p.fields, field{name, value})
	}
	if err := validText(c.SubjectPrefix); err != nil {
		return fmt.Errorf("subject_prefix %w", err)
	}
	if c.SubjectPrefix != "" && strings.TrimRight(c.SubjectPrefix, " \t") == "" {
		return errors.New("subject_prefix is only whitespace")
	}
	if len(c.SubjectPrefix) > 200 {
		return errors.New("subject_prefix longer than 200 bytes")
	}
	p.prefix = c.SubjectPrefix
	p.match = strings.TrimRight(c.SubjectPrefix, " \t")
	return nil
}

// validName checks a field name: 1 to 76 printable ASCII bytes other than
// ':' (RFC 5322 §3.6.8, and the limit the host enforces).
func validName(name string) error {
	if len(name) == 0 || len(name) > 76 {
		return errors.New("name must be 1 to 76 bytes")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("name contains byte 0x%02x", c)
		}
	}
	return nil
}

// validText checks configured text that goes into a header: no control
// characters (CR, LF and NUL in particular), tab allowed. Bytes from 0x80 on
// are passed through (UTF-8 headers, RFC 6532).
func validText(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("contains control byte 0x%02x", c)
		}
	}
	return nil
}
