package policy

import (
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "locals"},
		{Type: "listen"},
		{Type: "upstream"},
		{Type: "resolver"},
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "dkim_key", LabelNames: []string{"name"}},
		{Type: "scanner", LabelNames: []string{"name"}},
		{Type: "kv"},
		{Type: "milter"},
		{Type: "console"},
	},
}

// decodeFile parses and decodes one policy file. It returns nil only when
// the source is not valid HCL syntax.
func decodeFile(src []byte, filename string) (*Policy, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	abs := absFile(filename)
	d := &decoder{file: filename, dir: filepath.Dir(abs), diags: diags}
	p := &Policy{File: abs}

	content, cdiags := f.Body.Content(fileSchema)
	d.diags = append(d.diags, cdiags...)

	var locals, listens, upstreams, resolvers, plugins, dkimKeys, scanners, kvs, milters, consoles hcl.Blocks
	byType := map[string]*hcl.Blocks{"locals": &locals, "listen": &listens, "upstream": &upstreams,
		"resolver": &resolvers, "plugin": &plugins, "dkim_key": &dkimKeys, "scanner": &scanners, "kv": &kvs,
		"milter": &milters, "console": &consoles}
	for _, b := range content.Blocks {
		if list := byType[b.Type]; list != nil {
			*list = append(*list, b)
		}
	}
	d.ctx = d.evalContext(locals)

	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	p.Milter = d.milterBlock(milters)
	// A policy serves SMTP (listen), milter, or both; only the SMTP front
	// end forwards mail, so only it needs an upstream.
	if len(listens) == 0 && p.Milter != nil {
		p.NoListen = true
		p.Listen = defaultListen()
	} else if b := d.single(listens, start, "listen", "A policy needs a listen block saying where to accept mail (or a milter block, for milter mode)."); b != nil {
		p.Listen = d.listen(b)
	} else {
		p.Listen = defaultListen()
	}
	if len(upstreams) == 0 && p.NoListen {
		p.Upstream = defaultUpstream(p.Listen.Hostname)
	} else if b := d.single(upstreams, start, "upstream", "A policy needs an upstream block saying where to forward accepted mail (address) or where to store it (maildir)."); b != nil {
		p.Upstream = d.upstream(b, &p.Listen)
	} else {
		p.Upstream = defaultUpstream(p.Listen.Hostname)
	}
	p.Resolver = d.resolvers(resolvers)
	p.KV = d.kvBlock(kvs)
	p.Console = d.consoleBlock(consoles)
	p.DKIMKeys = d.dkimKeys(dkimKeys)
	d.keyNames = make(map[string]bool, len(p.DKIMKeys))
	for _, k := range p.DKIMKeys {
		d.keyNames[k.Name] = true
	}
	p.Scanners = d.scanners(scanners)
	d.scannerNames = make(map[string]bool, len(p.Scanners))
	for _, s := range p.Scanners {
		d.scannerNames[s.Name] = true
	}
	p.Plugins = d.plugins(plugins)
	return p, d.diags
}

// single returns the one block of a kind the policy must have exactly once,
// reporting a missing block at missing and every extra block at its header.
func (d *decoder) single(blocks hcl.Blocks, missing hcl.Range, kind, why string) *hcl.Block {
	if len(blocks) == 0 {
		d.errorf(missing, "Missing "+kind+" block", "%s", why)
		return nil
	}
	for _, extra := range blocks[1:] {
		d.errorf(extra.DefRange, "Duplicate "+kind+" block",
			"A policy has one %s block; the first is at %s.", kind, pos(blocks[0].DefRange))
	}
	return blocks[0]
}

// optional returns the block of a kind a policy may have at most once, or
// nil, reporting every extra block at its header.
func (d *decoder) optional(blocks hcl.Blocks, kind string) *hcl.Block {
	if len(blocks) == 0 {
		return nil
	}
	for _, extra := range blocks[1:] {
		d.errorf(extra.DefRange, "Duplicate "+kind+" block",
			"A policy has at most one %s block; the first is at %s.", kind, pos(blocks[0].DefRange))
	}
	return blocks[0]
}

// optionalContent decodes the optional, single block of kind against
// schema: its content and header range, or ok false when there is none.
func (d *decoder) optionalContent(blocks hcl.Blocks, kind string, schema *hcl.BodySchema) (c *hcl.BodyContent, defRange hcl.Range, ok bool) {
	b := d.optional(blocks, kind)
	if b == nil {
		return nil, hcl.Range{}, false
	}
	c, diags := b.Body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c, b.DefRange, true
}
