package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/zclconf/go-cty/cty"
)

var pluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "wasm"},
		{Name: "config"},
		{Name: "timeout"},
		{Name: "memory"},
		{Name: "on_error"},
		{Name: "grants"},
		{Name: "kv_quota"},
		{Name: "breaker_threshold"},
		{Name: "breaker_window"},
		{Name: "breaker_fault_rate"},
		{Name: "breaker_backoff"},
		{Name: "breaker_max_backoff"},
		{Name: "init_timeout"},
	},
}

// Plugin limits. A call may run at most maxPluginTimeout (Postfix's milter
// command timeout is 30s, and a client waits for us); memory is a wasm32
// linear memory, which cannot exceed 4GiB.
//
// The defaults are the plugin host's own (package wasmhost defines them
// once): a policy that leaves a setting out gets what wasmhost does with a
// zero Spec field.
const (
	defaultPluginTimeout = wasmhost.DefaultTimeout
	maxPluginTimeout     = 30 * time.Second
	defaultPluginMemory  = wasmhost.DefaultMemoryLimit
	minPluginMemory      = 1 * MiB
	maxPluginMemory      = 4 * GiB
	// The key/value quota (sdk/ABI.md §4.8).
	defaultKVQuota = wasmhost.DefaultKVQuota
	minKVQuota     = 64 * KiB
	maxKVQuota     = 64 * GiB

	defaultBreakerThreshold  = wasmhost.DefaultBreakerThreshold
	defaultBreakerWindow     = wasmhost.DefaultBreakerWindow
	maxBreakerWindow         = 10000
	defaultBreakerFaultRate  = wasmhost.DefaultBreakerFaultRate
	defaultBreakerBackoff    = wasmhost.DefaultBreakerBackoff
	defaultBreakerMaxBackoff = wasmhost.DefaultBreakerMaxBackoff
	maxBreakerBackoff        = time.Hour

	// init_timeout bounds a plugin's start-up at load: a policy check,
	// start or reload never waits longer for it.
	defaultPluginInitTimeout = wasmhost.DefaultInitTimeout
	maxPluginInitTimeout     = time.Minute
)

// plugins decodes the plugin blocks in order. A plugin whose name is invalid
// or taken is reported and left out; one with other errors is kept with the
// valid part of its settings, so tools can still report on it.
func (d *decoder) plugins(blocks hcl.Blocks) []Plugin {
	var out []Plugin
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		if !validPluginName(name) {
			d.errorf(b.LabelRanges[0], "Invalid plugin name",
				"%q is not a plugin name: use lower-case letters, digits, \"_\" and \"-\", starting with a letter or digit.", name)
			d.plugin(b) // still check its body
			continue
		}
		if first, dup := seen[name]; dup {
			d.errorf(b.DefRange, "Duplicate plugin",
				"A plugin named %q is already declared at %s; each plugin needs its own name.", name, pos(first))
			d.plugin(b)
			continue
		}
		seen[name] = b.DefRange
		out = append(out, d.plugin(b))
	}
	return out
}

func (d *decoder) plugin(b *hcl.Block) Plugin {
	p := Plugin{
		Name:     b.Labels[0],
		Config:   []byte("{}"),
		Timeout:  defaultPluginTimeout,
		Memory:   defaultPluginMemory,
		KVQuota:  defaultKVQuota,
		OnError:  OnErrorTempfail,
		DefRange: b.DefRange,

		BreakerThreshold:  defaultBreakerThreshold,
		BreakerWindow:     defaultBreakerWindow,
		BreakerFaultRate:  defaultBreakerFaultRate,
		BreakerBackoff:    defaultBreakerBackoff,
		BreakerMaxBackoff: defaultBreakerMaxBackoff,
		InitTimeout:       defaultPluginInitTimeout,
	}
	c, diags := b.Body.Content(pluginSchema)
	d.diags = append(d.diags, diags...)
	a := c.Attributes

	if attr := a["wasm"]; attr == nil {
		d.errorf(b.DefRange, "Missing required argument",
			"The argument \"wasm\" is required, but no definition was found.")
	} else {
		p.WasmRange = attr.Range
		d.path(attr, &p.Wasm)
	}
	if attr := a["config"]; attr != nil {
		p.ConfigRange = attr.Range
		if v, ok := d.value(attr); ok {
			js, err := configJSON(v)
			if err != nil {
				d.errorf(attr.Range, "Invalid plugin configuration", "The configuration cannot be passed to the plugin as JSON: %s.", err)
			} else {
				p.Config = js
			}
		}
	}
	d.duration(a["timeout"], &p.Timeout, true, maxPluginTimeout)
	memory := int64(p.Memory)
	d.size(a["memory"], &memory, minPluginMemory, maxPluginMemory)
	p.Memory = uint64(memory)
	d.size(a["kv_quota"], &p.KVQuota, minKVQuota, maxKVQuota)
	d.enum(a["on_error"], &p.OnError, OnErrorTempfail, OnErrorContinue, OnErrorReject)
	if attr := a["grants"]; attr != nil {
		p.GrantsRange = attr.Range
		d.stringList(attr, &p.Grants)
		d.grants(attr, p.Grants)
	}
	d.duration(a["init_timeout"], &p.InitTimeout, true, maxPluginInitTimeout)
	d.integer(a["breaker_threshold"], &p.BreakerThreshold, 0, 1000)
	d.integer(a["breaker_window"], &p.BreakerWindow, 1, maxBreakerWindow)
	d.fraction(a["breaker_fault_rate"], &p.BreakerFaultRate)
	d.duration(a["breaker_backoff"], &p.BreakerBackoff, true, maxBreakerBackoff)
	d.duration(a["breaker_max_backoff"], &p.BreakerMaxBackoff, true, maxBreakerBackoff)
	if p.BreakerMaxBackoff < p.BreakerBackoff {
		if attr := a["breaker_max_backoff"]; attr != nil {
			d.errorf(attr.Range, "Value out of range", "breaker_max_backoff (%s) must not be below breaker_backoff (%s).",
				p.BreakerMaxBackoff, p.BreakerBackoff)
		} else {
			p.BreakerMaxBackoff = p.BreakerBackoff
		}
	}
	return p
}

// fraction decodes a number in (0, 1], such as a rate. A percentage
// (50 or "50%") gets a hint.
func (d *decoder) fraction(attr *hcl.Attribute, dst *float64) {
	v, ok := d.typed(attr, cty.Number)
	if !ok {
		return
	}
	f, _ := v.AsBigFloat().Float64()
	switch {
	case f > 1 && f <= 100:
		d.errorf(attr.Range, "Value out of range", "%s is a fraction between 0 and 1, not %s; write %s for %s%%.",
			attr.Name, numberText(v.AsBigFloat()), strconv.FormatFloat(f/100, 'f', -1, 64), numberText(v.AsBigFloat()))
	case !(f > 0 && f <= 1):
		d.errorf(attr.Range, "Value out of range", "%s must be greater than 0 and at most 1, not %s.",
			attr.Name, numberText(v.AsBigFloat()))
	default:
		*dst = f
	}
}

// knownGrants are the capabilities this Sluice can give a plugin
// (sdk/ABI.md §4.6, §4.8, §4.9).
var knownGrants = []string{abi.GrantKV, abi.GrantDNS, abi.GrantEnvelope}

// grants checks that every grant names a known capability; the host
// refuses a module importing a function whose grant is missing.
func (d *decoder) grants(attr *hcl.Attribute, grants []string) {
	for i, g := range grants {
		if name, ok := isDKIMGrant(g); ok {
			if !d.keyNames[name] {
				d.errorf(attr.Range, "Unknown DKIM key", "grants[%d] is %q, but no dkim_key block is named %q; declare dkim_key %q { domain, selector, private_key_file }.",
					i, g, name, name)
			}
			continue
		}
		if name, ok := strings.CutPrefix(g, abi.GrantScanPrefix); ok {
			if !d.scannerNames[name] {
				d.errorf(attr.Range, "Unknown scanner", "grants[%d] is %q, but no scanner block is named %q; declare scanner %q { rspamd = \"http://127.0.0.1:11333\" } (or clamd, spamd: see docs/scanners.md).",
					i, g, name, name)
			}
			continue
		}
		if !slices.Contains(knownGrants, g) {
			d.errorf(attr.Range, "Unknown grant", "grants[%d] is %q, which is not a capability this Sluice can grant; known grants: %s, \"dkim:NAME\" for a dkim_key block and \"scan:NAME\" for a scanner block.",
				i, g, quotedList(knownGrants))
		}
	}
}

// quotedList renders names as "a", "b".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// validPluginName reports whether s matches [a-z0-9][a-z0-9_-]*. Names
// appear in logs, metrics labels and `sluice test` output.
// blockName reports a named block whose name is invalid or was declared
// before, as recorded in seen; a new valid name is recorded. title names the
// kind of block in the diagnostics' summaries ("DKIM key"), noun in their
// details ("key").
func (d *decoder) blockName(b *hcl.Block, seen map[string]hcl.Range, title, noun string) {
	name := b.Labels[0]
	if !validPluginName(name) {
		d.errorf(b.LabelRanges[0], "Invalid "+title+" name",
			"%q is not a %s name: use lower-case letters, digits, \"_\" and \"-\", starting with a letter or digit.", name, noun)
	} else if first, dup := seen[name]; dup {
		d.errorf(b.DefRange, "Duplicate "+title,
			"A %s named %q is already declared at %s.", b.Type, name, pos(first))
	} else {
		seen[name] = b.DefRange
	}
}

func validPluginName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
