package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/mime"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	BlockExtensions []string `json:"block_extensions"`
	BlockTypes      []string `json:"block_types"`
	MaxDepth        int      `json:"max_depth"`
	MaxParts        int      `json:"max_parts"`
	Code            int      `json:"code"`
	Enhanced        string   `json:"enhanced"`
	Message         string   `json:"message"`
	OnLimit         string   `json:"on_limit"`
}

// Limits of the configuration itself.
const (
	maxMessageLen = 290 // 400 bytes of reply text, less ": " and a 100-byte name
)

// attachments is the plugin; Configure fills it once per instance.
type attachments struct {
	exts   []string // lower-case, without the leading dot
	types  []string // lower-case "type/subtype" or "type/" for "type/*"
	limits mime.Limits
	reply  sluice.Reply // the reject or tempfail reply
	accept bool         // on_limit = "accept"
}

func (p *attachments) Configure(h sluice.Host) error {
	if err := sluice.LoadConfig(h, p.load); err != nil {
		return err
	}
	if len(p.exts)+len(p.types) == 0 {
		h.Log(sluice.LevelWarn, "config has no block_extensions and no block_types: only the structure limits apply")
	}
	return nil
}

func (p *attachments) load(c config) error {
	p.exts = p.exts[:0]
	for _, e := range c.BlockExtensions {
		ext, err := normalExtension(e)
		if err != nil {
			return fmt.Errorf("block_extensions: %q: %w", e, err)
		}
		p.exts = append(p.exts, ext)
	}
	p.types = p.types[:0]
	for _, t := range c.BlockTypes {
		typ, err := normalType(t)
		if err != nil {
			return fmt.Errorf("block_types: %q: %w", t, err)
		}
		p.types = append(p.types, typ)
	}

	var err error
	if p.limits, err = mime.ConfigLimits(c.MaxDepth, c.MaxParts); err != nil {
		return err
	}

	switch c.OnLimit {
	case "", "reject":
		p.accept = false
	case "accept":
		p.accept = true
	default:
		return fmt.Errorf("on_limit %q: must be \"reject\" or \"accept\"", c.OnLimit)
	}

	p.reply, err = sluice.ConfigReply(sluice.Reply{Code: c.Code, Enhanced: c.Enhanced, Text: c.Message},
		sluice.Reply{Code: 554, Enhanced: "5.7.1", Text: "Attachment not allowed"}, maxMessageLen)
	return err
}

// normalExtension lower-cases an extension and removes one leading dot.
// Inner dots are allowed ("tar.gz"); whitespace, slashes and control bytes
// are not.
func normalExtension(e string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(e, "."))
	if ext == "" || len(ext) > 64 {
		return "", errors.New("must be 1 to 64 bytes")
	}
	if strings.HasPrefix(ext, ".") || strings.HasSuffix(ext, ".") || strings.Contains(ext, "..") {
		return "", errors.New("misplaced dot")
	}
	for i := 0; i < len(ext); i++ {
		if c := ext[i]; c <= ' ' || c == 0x7f || c == '/' || c == '\\' || c == '*' {
			return "", fmt.Errorf("contains byte 0x%02x", c)
		}
	}
	return ext, nil
}

// normalType checks a media type pattern, "type/subtype" or "type/*"
// (RFC 2045 §5.1 tokens), and returns it lower-cased, "type/*" as "type/".
func normalType(t string) (string, error) {
	typ, sub, ok := strings.Cut(strings.ToLower(t), "/")
	if !ok || !isToken(typ) {
		return "", errors.New(`not "type/subtype" or "type/*"`)
	}
	if sub == "*" {
		return typ + "/", nil
	}
	if !isToken(sub) {
		return "", errors.New(`not "type/subtype" or "type/*"`)
	}
	return typ + "/" + sub, nil
}

// isToken reports whether s is an RFC 2045 §5.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=*`, c) >= 0 {
			return false
		}
	}
	return true
}
