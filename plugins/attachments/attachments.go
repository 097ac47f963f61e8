package main

import (
	"io"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/mime"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Reply to a message whose MIME structure exceeds the limits (docs/TESTPLAN.md row
// 20). RFC 3463 X.6.0: other or undefined media error.
const (
	limitCode     = 554
	limitEnhanced = "5.6.0"
	limitText     = "Message structure too complex"
)

// maxShownName bounds the file name quoted in a reply.
const maxShownName = 100

// OnData walks the message's MIME parts and rejects it when a part has a
// blocked file name or media type, or when the structure exceeds the limits
// and on_limit is "reject".
func (p *attachments) OnData(h sluice.Host) sluice.Verdict {
	body := make([]byte, h.BodySize())
	if _, err := io.ReadFull(sluice.Body(h), body); err != nil {
		// Never let a message through unchecked.
		sluice.Errorf(h, "reading the body: %v", err)
		return sluice.Tempfail(h, 451, "4.3.0", "Temporary failure, try again later")
	}
	parts, err := mime.Parse(mime.HostHeader(h), body, p.limits)
	for i := range parts {
		if v, blocked := p.check(h, &parts[i]); blocked {
			return v
		}
	}
	if err != nil {
		if p.accept {
			sluice.Warnf(h, "%s: only the first %d parts were checked (on_limit = accept)", mime.LimitReason(err), len(parts))
			return sluice.VerdictContinue
		}
		sluice.Warnf(h, "rejected: %s", mime.LimitReason(err))
		return sluice.Reject(h, limitCode, limitEnhanced, limitText)
	}
	return sluice.VerdictContinue
}

// check refuses the message if part has a blocked name or type.
func (p *attachments) check(h sluice.Host, part *mime.Part) (sluice.Verdict, bool) {
	names := part.Filenames()
	for _, name := range names {
		if ext, ok := p.blockedName(name); ok {
			sluice.Infof(h, "blocked attachment %q: extension %q", name, ext)
			return p.refuse(h, name), true
		}
	}
	if typ, ok := p.blockedType(part.MediaType); ok {
		shown := part.MediaType
		if len(names) > 0 {
			shown = names[0]
		}
		sluice.Infof(h, "blocked part %q: type %q matches %q", shown, part.MediaType, typ)
		return p.refuse(h, shown), true
	}
	return 0, false
}

func (p *attachments) refuse(h sluice.Host, shown string) sluice.Verdict {
	return sluice.Refuse(h, p.reply.Code, p.reply.Enhanced, p.reply.Text+": "+sanitize(shown))
}

// blockedName reports the configured extension a file name ends with. The
// name is compared case-insensitively after removing trailing dots and
// whitespace (which Windows drops when it saves a file), both as a whole and
// cut at its first control byte (a name such as "a.exe\x00.txt"). Only the
// end counts, so "invoice.pdf.exe" is caught by "exe" and "exe.txt" is not.
func (p *attachments) blockedName(name string) (string, bool) {
	candidates := []string{name}
	if i := strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		candidates = append(candidates, name[:i])
	}
	for _, c := range candidates {
		c = strings.ToLower(strings.TrimRight(c, ". \t\r\n\x00"))
		for _, ext := range p.exts {
			if strings.HasSuffix(c, "."+ext) {
				return ext, true
			}
		}
	}
	return "", false
}

// blockedType reports the configured type pattern a media type matches.
func (p *attachments) blockedType(mediaType string) (string, bool) {
	for _, t := range p.types {
		if strings.HasSuffix(t, "/") { // "type/*"
			if strings.HasPrefix(mediaType, t) {
				return t + "*", true
			}
		} else if mediaType == t {
			return t, true
		}
	}
	return "", false
}

// sanitize makes a file name safe for a reply: bytes other than printable
// ASCII become '?', and a name longer than maxShownName keeps its start and
// its end (where the extension is) around "...".
func sanitize(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		s = "?"
	}
	if len(s) > maxShownName {
		keep := (maxShownName - 3) / 2
		s = s[:keep] + "..." + s[len(s)-(maxShownName-3-keep):]
	}
	return s
}
