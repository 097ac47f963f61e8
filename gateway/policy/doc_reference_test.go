package policy

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/kv"
)

// docSection is one block of docs/policy.md: its heading, the schema the
// decoder uses for it, and a policy in which the attribute line ATTR can be
// tried.
type docSection struct {
	heading string
	schema  *hcl.BodySchema
	policy  string
}

var docSections = []docSection{
	{"listen", listenSchema,
		"listen {\n  address = \"127.0.0.1:2525\"\n  ATTR\n}\nupstream { maildir = \"mail\" }\n"},
	{"listen.tls", tlsSchema,
		"listen {\n  address = \"127.0.0.1:2525\"\n  tls {\n    cert_file = \"c.pem\"\n    key_file = \"k.pem\"\n    ATTR\n  }\n}\nupstream { maildir = \"mail\" }\n"},
	{"upstream", upstreamSchema,
		"listen { address = \"127.0.0.1:2525\" }\nupstream {\n  address = \"127.0.0.1:10025\"\n  ATTR\n}\n"},
	{"plugin", pluginSchema,
		"listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\nplugin \"p\" {\n  wasm = \"p.wasm\"\n  ATTR\n}\n"},
	{"resolver", resolverSchema,
		"listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\nresolver {\n  ATTR\n}\n"},
	{"dkim_key", dkimKeySchema, ""},
	{"scanner", scannerSchema,
		"listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\nscanner \"s\" {\n  rspamd = \"http://127.0.0.1:11333\"\n  ATTR\n}\n"},
	{"kv", kvSchema,
		"listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\nkv {\n  path = \"kv.db\"\n  ATTR\n}\n"},
	{"console", consoleSchema,
		"listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\nconsole {\n  ATTR\n}\n"},
}

// docRow is an attribute row of a docs/policy.md table:
// | `name` | type | default | meaning |
var docRow = regexp.MustCompile("^\\| `([a-z_]+)` \\|([^|]*)\\|([^|]*)\\|")

// literalDefault is a default cell that is one HCL literal in backticks,
// such as `"25MiB"`, `1000` or `false`; other cells are prose.
var literalDefault = regexp.MustCompile("^`(\"[^\"`]*\"|-?[0-9][0-9.]*|true|false)`$")

// TestPolicyDocCoversSchema keeps docs/policy.md complete and right: every
// block of the file schema has a section, every attribute of each block's
// schema has a row (and every row names a real attribute), and every
// default written as a literal decodes to exactly what the attribute's
// absence gives.
func TestPolicyDocCoversSchema(t *testing.T) {
	src, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{} // heading -> attribute -> default cell
	section := ""
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "#") {
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		if m := docRow.FindStringSubmatch(line); m != nil {
			if rows[section] == nil {
				rows[section] = map[string]string{}
			}
			rows[section][m[1]] = strings.TrimSpace(m[3])
		}
	}

	for _, b := range fileSchema.Blocks {
		if _, ok := rows[b.Type]; !ok && b.Type != "locals" {
			t.Errorf("docs/policy.md has no \"## %s\" section with an attribute table", b.Type)
		}
	}
	if !strings.Contains(string(src), "\n## Functions and locals\n") {
		t.Error("docs/policy.md has no \"## Functions and locals\" section")
	}
	for name := range functions() {
		if !strings.Contains(string(src), "`"+name+"(") {
			t.Errorf("docs/policy.md does not document the function %s()", name)
		}
	}

	checked := 0
	for _, sec := range docSections {
		documented := rows[sec.heading]
		inSchema := map[string]bool{}
		for _, a := range sec.schema.Attributes {
			inSchema[a.Name] = true
			if _, ok := documented[a.Name]; !ok {
				t.Errorf("docs/policy.md, section %s: attribute %q is not documented", sec.heading, a.Name)
			}
		}
		for name, def := range documented {
			if !inSchema[name] {
				t.Errorf("docs/policy.md, section %s: %q is not an attribute of this block", sec.heading, name)
				continue
			}
			if m := literalDefault.FindStringSubmatch(def); m != nil && sec.policy != "" {
				checkDocDefault(t, sec, name, m[1])
				checked++
			}
		}
	}
	// A change of table layout must not silently skip the default checks.
	if checked < 30 {
		t.Errorf("only %d documented defaults were checked against the decoder; want at least 30", checked)
	}
}

// checkDocDefault decodes the section's policy without the attribute and
// with it set to the documented default, and requires the same result.
func checkDocDefault(t *testing.T, sec docSection, name, literal string) {
	t.Helper()
	without, diags := Parse([]byte(strings.Replace(sec.policy, "ATTR", "", 1)), "policy.hcl")
	if diags.HasErrors() {
		t.Fatalf("section %s: the base policy does not decode: %v", sec.heading, diags)
	}
	with, diags := Parse([]byte(strings.Replace(sec.policy, "ATTR", name+" = "+literal, 1)), "policy.hcl")
	if diags.HasErrors() {
		t.Errorf("docs/policy.md, section %s: the default %s = %s does not decode: %v", sec.heading, name, literal, diags)
		return
	}
	// The kv store's save interval is left 0 by the decoder: 0 is the
	// store's own default (kv.DefaultSaveInterval), which the doc states.
	if sec.heading == "kv" && name == "save_interval" && without.KV.SaveInterval == 0 {
		without.KV.SaveInterval = kv.DefaultSaveInterval
	}
	// The console's ring size is left 0 by the decoder: 0 is the
	// console's own default (console.DefaultSize), which gateway/console
	// cannot be imported here to give; its TestPolicyDocSizeDefault checks
	// this row against it.
	if sec.heading == "console" && name == "size" && without.Console.Size == 0 {
		without.Console.Size = with.Console.Size
	}
	zeroRanges(reflect.ValueOf(without).Elem())
	zeroRanges(reflect.ValueOf(with).Elem())
	if !reflect.DeepEqual(without, with) {
		t.Errorf("docs/policy.md, section %s: the documented default %s = %s is not the decoder's default:\nwithout: %+v\nwith:    %+v",
			sec.heading, name, literal, without, with)
	}
}

// zeroRanges clears every hcl.Range (source positions, which differ
// between the two decodings) and the source hash in v, recursively.
func zeroRanges(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			zeroRanges(v.Elem())
		}
	case reflect.Map:
		// Which attributes a block set (Listen.Ranges): differs by design.
		if v.Type().Elem() == reflect.TypeOf(hcl.Range{}) && v.CanSet() {
			v.SetZero()
		}
	case reflect.Slice:
		for i := range v.Len() {
			zeroRanges(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(hcl.Range{}) {
			if v.CanSet() {
				v.SetZero()
			}
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if v.Type().Field(i).Name == "Hash" {
				f.SetZero()
				continue
			}
			zeroRanges(f)
		}
	}
}
