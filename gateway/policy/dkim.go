package policy

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// DKIMKey is a `dkim_key "NAME"` block: a private key plugins may sign with
// when granted "dkim:NAME" (sdk/ABI.md §4.10). The key file is read when
// the policy is built, not here; its contents never reach a plugin.
type DKIMKey struct {
	Name     string
	Domain   string // d=
	Selector string // s=
	KeyFile  string // absolute path of the PEM private key
	// DefRange is the block header; KeyFileRange the private_key_file
	// attribute, where an unreadable or invalid key is reported.
	DefRange     hcl.Range
	KeyFileRange hcl.Range
}

var dkimKeySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "domain", Required: true},
		{Name: "selector", Required: true},
		{Name: "private_key_file", Required: true},
	},
}

// dkimKeys decodes the dkim_key blocks; names must be unique.
func (d *decoder) dkimKeys(blocks hcl.Blocks) []DKIMKey {
	var out []DKIMKey
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		k := DKIMKey{Name: b.Labels[0], DefRange: b.DefRange}
		d.blockName(b, seen, "DKIM key", "key")
		c, diags := b.Body.Content(dkimKeySchema)
		d.diags = append(d.diags, diags...)
		if attr := c.Attributes["domain"]; d.str(attr, &k.Domain) {
			k.Domain = strings.TrimSuffix(strings.ToLower(k.Domain), ".")
			if !strings.Contains(k.Domain, ".") || !smtp.ValidHostName(k.Domain) {
				d.errorf(attr.Range, "Invalid DKIM domain", "%q is not a domain name (the d= of the signature, such as \"example.org\").", k.Domain)
			}
		}
		if attr := c.Attributes["selector"]; d.str(attr, &k.Selector) {
			if !smtp.ValidHostName(k.Selector) {
				d.errorf(attr.Range, "Invalid DKIM selector", "%q is not a selector: dot-separated labels of letters, digits and \"-\" (RFC 6376 §3.1).", k.Selector)
			}
		}
		if attr := c.Attributes["private_key_file"]; attr != nil {
			k.KeyFileRange = attr.Range
			d.path(attr, &k.KeyFile)
		}
		out = append(out, k)
	}
	return out
}

// isDKIMGrant reports whether g is a "dkim:NAME" grant and returns NAME.
func isDKIMGrant(g string) (string, bool) {
	return strings.CutPrefix(g, abi.GrantDKIMPrefix)
}

// KV is the optional `kv` block: where the key/value store behind the "kv"
// grant (sdk/ABI.md §4.8) is kept: on disk (path) or in a Redis or Valkey
// server that several gateways share (redis). It is read at start-up; a
// reload does not move the store.
type KV struct {
	// Path is the file the store is loaded from and saved to; "" keeps it
	// in memory only.
	Path string
	// Redis is the URL of a shared store (redis://, rediss:// or unix:);
	// exclusive with Path.
	Redis string
	// PasswordFile holds the Redis password, or "USER PASSWORD" for an
	// ACL user, on its first line.
	PasswordFile string
	// Prefix starts every Redis key ("" means "sluice:").
	Prefix string
	// Timeout bounds each Redis call (0 means the store's default, 250ms).
	Timeout  time.Duration
	URLRange hcl.Range // the redis attribute, where a bad URL is reported
	// SaveInterval is how often the store is saved; 0 means the store's
	// default.
	SaveInterval time.Duration
	Range        hcl.Range // the block header; zero when there is no block
	// PathRange is the path attribute, where a directory that does not
	// exist or cannot be written is reported.
	PathRange hcl.Range
}

var kvSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"},
		{Name: "save_interval"},
		{Name: "redis"},
		{Name: "password_file"},
		{Name: "prefix"},
		{Name: "timeout"},
	},
}

// kvBlock decodes the optional, single kv block.
func (d *decoder) kvBlock(blocks hcl.Blocks) KV {
	var kv KV
	c, defRange, ok := d.optionalContent(blocks, "kv", kvSchema)
	if !ok {
		return kv
	}
	kv.Range = defRange
	if attr := c.Attributes["path"]; d.path(attr, &kv.Path) {
		kv.PathRange = attr.Range
	}
	d.duration(c.Attributes["save_interval"], &kv.SaveInterval, true, 24*time.Hour)
	if attr := c.Attributes["redis"]; d.str(attr, &kv.Redis) {
		kv.URLRange = attr.Range
		if kv.Path != "" {
			d.errorf(attr.Range, "Conflicting kv settings", "a kv block has either path (a file) or redis (a shared server), not both.")
		}
		if !strings.HasPrefix(kv.Redis, "redis://") && !strings.HasPrefix(kv.Redis, "rediss://") && !strings.HasPrefix(kv.Redis, "unix:") {
			d.errorf(attr.Range, "Invalid Redis URL", "redis is %q; use redis://HOST:PORT/DB, rediss://HOST:PORT/DB (TLS) or unix:/PATH.", kv.Redis)
		}
	}
	if kv.Path == "" && kv.Redis == "" && c.Attributes["path"] == nil && c.Attributes["redis"] == nil {
		d.errorf(defRange, "Incomplete kv block", "a kv block needs path (a file) or redis (a shared server).")
	}
	d.path(c.Attributes["password_file"], &kv.PasswordFile)
	d.str(c.Attributes["prefix"], &kv.Prefix)
	d.duration(c.Attributes["timeout"], &kv.Timeout, true, time.Minute)
	for _, n := range []string{"password_file", "prefix", "timeout"} {
		if attr := c.Attributes[n]; attr != nil && kv.Redis == "" {
			d.errorf(attr.Range, "Setting without redis", "%s applies to a Redis store only; set redis too.", n)
		}
	}
	return kv
}
