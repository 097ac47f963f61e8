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
		if !validPluginName(k.Name) {
			d.errorf(b.LabelRanges[0], "Invalid DKIM key name",
				"%q is not a key name: use lower-case letters, digits, \"_\" and \"-\", starting with a letter or digit.", k.Name)
		} else if first, dup := seen[k.Name]; dup {
			d.errorf(b.DefRange, "Duplicate DKIM key",
				"A dkim_key named %q is already declared at %s.", k.Name, pos(first))
		}
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
		if _, dup := seen[k.Name]; !dup {
			seen[k.Name] = b.DefRange
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
// grant (sdk/ABI.md §4.8) is kept on disk. It is read at start-up; a
// reload does not move the store.
type KV struct {
	// Path is the file the store is loaded from and saved to; "" keeps it
	// in memory only.
	Path string
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
		{Name: "path", Required: true},
		{Name: "save_interval"},
	},
}

// kvBlock decodes the optional, single kv block.
func (d *decoder) kvBlock(blocks hcl.Blocks) KV {
	var kv KV
	b := d.optional(blocks, "kv")
	if b == nil {
		return kv
	}
	kv.Range = b.DefRange
	c, diags := b.Body.Content(kvSchema)
	d.diags = append(d.diags, diags...)
	if attr := c.Attributes["path"]; d.path(attr, &kv.Path) {
		kv.PathRange = attr.Range
	}
	d.duration(c.Attributes["save_interval"], &kv.SaveInterval, true, 24*time.Hour)
	return kv
}
