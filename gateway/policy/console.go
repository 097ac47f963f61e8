package policy

import "github.com/hashicorp/hcl/v2"

// Console is the optional `console` block: the admin console's settings
// (docs/console.md). It is read once, at start-up: the console's recorder
// keeps its ring under one rule for the life of the process, so a reload
// that changes the block is told it needs a restart. `sluice serve`'s
// --console flags, when given, override it.
type Console struct {
	// Enabled serves the console on the admin address (true when absent).
	Enabled bool
	// Size is the transactions the console keeps; 0 (the attribute is
	// absent) means the console's own default, console.DefaultSize.
	Size int
	// HashAddresses shows envelope addresses as a keyed hash of the local
	// part, the domain in clear.
	HashAddresses bool
	// Headers keeps each message's header fields (bodies are never kept).
	Headers bool

	Range hcl.Range // the block header; zero when there is no block
	// Ranges are the attributes set in the block, by name: where a reload
	// reports a change it cannot apply.
	Ranges map[string]hcl.Range
}

// MaxConsoleSize bounds the console's ring (`size`, serve --console-size):
// an entry is about a kilobyte.
const MaxConsoleSize = 100000

var consoleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "enabled"},
		{Name: "size"},
		{Name: "hash_addresses"},
		{Name: "headers"},
	},
}

// consoleBlock decodes the optional, single console block.
func (d *decoder) consoleBlock(blocks hcl.Blocks) Console {
	c := Console{Enabled: true}
	content, defRange, ok := d.optionalContent(blocks, "console", consoleSchema)
	if !ok {
		return c
	}
	c.Range = defRange
	d.boolean(content.Attributes["enabled"], &c.Enabled)
	d.integer(content.Attributes["size"], &c.Size, 1, MaxConsoleSize)
	d.boolean(content.Attributes["hash_addresses"], &c.HashAddresses)
	d.boolean(content.Attributes["headers"], &c.Headers)
	for name, attr := range content.Attributes {
		if c.Ranges == nil {
			c.Ranges = map[string]hcl.Range{}
		}
		c.Ranges[name] = attr.Range
	}
	return c
}
