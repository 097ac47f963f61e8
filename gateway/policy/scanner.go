package policy

import (
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Scanner is a `scanner "NAME"` block: a content scanner the host talks to
// (gateway/scan) and a plugin may use by name. Exactly one engine is set.
type Scanner struct {
	Name string
	// Engine is ScannerRspamd, ScannerClamd or ScannerSpamd: the attribute
	// that gave the address.
	Engine string
	// Address is rspamd's http(s) URL, or clamd's or spamd's
	// "tcp://host:port" or "unix:/path".
	Address string
	// Timeout bounds one scan; the calling hook's deadline may cut it
	// shorter.
	Timeout time.Duration
	// MaxSize: larger messages are not sent (the result says "skipped:
	// too large"); 0 means no limit but the listener's.
	MaxSize int64
	// PasswordFile is the absolute path of the file holding rspamd's
	// password; "" when none. It is read when the policy is built.
	PasswordFile string
	// DefRange is the block header; PasswordFileRange the password_file
	// attribute, where an unreadable file is reported.
	DefRange          hcl.Range
	PasswordFileRange hcl.Range
}

// Scanner engines: the attribute names of the scanner block.
const (
	ScannerRspamd = "rspamd"
	ScannerClamd  = "clamd"
	ScannerSpamd  = "spamd"
)

const (
	defaultScanTimeout = 30 * time.Second
	maxScanTimeout     = 10 * time.Minute
	maxScanSize        = 4 * GiB
)

var scannerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: ScannerRspamd},
		{Name: ScannerClamd},
		{Name: ScannerSpamd},
		{Name: "timeout"},
		{Name: "max_size"},
		{Name: "password_file"},
	},
}

// scanners decodes the scanner blocks; names must be unique.
func (d *decoder) scanners(blocks hcl.Blocks) []Scanner {
	var out []Scanner
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		s := Scanner{Name: b.Labels[0], DefRange: b.DefRange, Timeout: defaultScanTimeout}
		d.blockName(b, seen, "scanner", "scanner")
		c, diags := b.Body.Content(scannerSchema)
		d.diags = append(d.diags, diags...)
		var engines []*hcl.Attribute
		for _, e := range []string{ScannerRspamd, ScannerClamd, ScannerSpamd} {
			if a := c.Attributes[e]; a != nil {
				engines = append(engines, a)
			}
		}
		if len(engines) == 0 {
			d.errorf(b.DefRange, "Missing scanner engine",
				"scanner %q needs exactly one of rspamd = \"http://127.0.0.1:11333\", clamd = \"tcp://127.0.0.1:3310\" (or \"unix:/run/clamav/clamd.ctl\") or spamd = \"tcp://127.0.0.1:783\".", s.Name)
		} else {
			a := engines[0]
			s.Engine = a.Name
			if d.str(a, &s.Address) {
				if why := scannerAddressError(s.Engine, s.Address); why != "" {
					d.errorf(a.Range, "Invalid scanner address", "%s = %q: %s", a.Name, s.Address, why)
				}
			}
		}
		for _, a := range engines[min(1, len(engines)):] {
			d.errorf(a.Range, "Conflicting scanner engines",
				"scanner %q already names %s at %s; a scanner block names exactly one engine (declare another scanner block for %s).",
				s.Name, engines[0].Name, pos(engines[0].Range), a.Name)
		}
		d.duration(c.Attributes["timeout"], &s.Timeout, true, maxScanTimeout)
		d.size(c.Attributes["max_size"], &s.MaxSize, 1, maxScanSize)
		if a := c.Attributes["password_file"]; a != nil {
			s.PasswordFileRange = a.Range
			if s.Engine != "" && s.Engine != ScannerRspamd {
				d.errorf(a.Range, "Unsupported argument",
					"password_file is for rspamd; %s has no password.", s.Engine)
			} else {
				d.path(a, &s.PasswordFile)
			}
		}
		out = append(out, s)
	}
	return out
}

// scannerAddressError says what is wrong with an engine's address, or "".
func scannerAddressError(engine, addr string) string {
	if engine == ScannerRspamd {
		u, err := url.Parse(addr)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
			return `not an http:// URL of rspamd's normal worker (for example "http://127.0.0.1:11333")`
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return "the URL must not hold a user, a query or a fragment (put the password in password_file)"
		case u.Port() == "" || !validHostPort(u.Host, false):
			return `the URL needs a host and a port (for example "http://127.0.0.1:11333")`
		}
		return ""
	}
	if hp, ok := strings.CutPrefix(addr, "tcp://"); ok {
		if !validHostPort(hp, false) {
			return `not tcp://host:port (for example "tcp://127.0.0.1:3310")`
		}
		return ""
	}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		if !filepath.IsAbs(p) || strings.ContainsRune(p, 0) {
			return `not unix:/absolute/path (for example "unix:/run/clamav/clamd.ctl")`
		}
		return ""
	}
	return `use "tcp://host:port" or "unix:/path"`
}
