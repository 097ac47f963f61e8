// Package docsnippet finds the policies written in the repository's
// Markdown (```hcl blocks) and lays each out as `sluice check` would see it
// on an installed machine, so that tests can check every one and no example
// can rot.
//
// The fence's info string says how a block is checked:
//
//	```hcl                      a whole policy: checked as written
//	```hcl fragment             blocks of a policy (plugin, dkim_key, ...):
//	                            checked after a minimal listen and maildir
//	                            upstream are put before them
//	```hcl decode-only          a whole policy or (with fragment) blocks,
//	                            only decoded, not built: for policies naming
//	                            a module the reader builds (the SDK
//	                            tutorials' hello.wasm)
//
// Any other word after hcl is an error, so a typo cannot skip a block.
package docsnippet

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// Snippet is one ```hcl block.
type Snippet struct {
	File       string // relative to the repository root, slash-separated
	Line       int    // line of the first line inside the fence
	Fragment   bool
	DecodeOnly bool
	Source     string
}

func (s Snippet) String() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// wrapper comes before a fragment: the two blocks every policy needs.
const wrapper = "listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\n"

// WrapperLines is how many lines wrapper adds before a fragment.
const WrapperLines = 2

// Find returns the ```hcl blocks of README.md, docs/**/*.md, sdk/**/*.md,
// examples/**/*.md and plugins/*/README.md under root, in file order.
func Find(root string) ([]Snippet, error) {
	var files []string
	if _, err := os.Stat(filepath.Join(root, "README.md")); err == nil {
		files = append(files, "README.md")
	}
	for _, dir := range []string{"docs", "sdk", "examples", "plugins"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" || d.IsDir() && d.Name() == "target" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".md") || dir == "plugins" && d.Name() != "README.md" {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out []Snippet
	for _, f := range files {
		s, err := scan(root, f)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// scan returns the ```hcl blocks of one file.
func scan(root, file string) ([]Snippet, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(file)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Snippet
	var cur *Snippet
	var body strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.Source = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		case strings.HasPrefix(trimmed, "```"):
			words := strings.Fields(strings.TrimPrefix(trimmed, "```"))
			if len(words) == 0 || words[0] != "hcl" {
				// Another language's block: skip to its end.
				for sc.Scan() {
					n++
					if strings.TrimSpace(sc.Text()) == "```" {
						break
					}
				}
				continue
			}
			s := Snippet{File: file, Line: n + 1}
			for _, w := range words[1:] {
				switch w {
				case "fragment":
					s.Fragment = true
				case "decode-only":
					s.DecodeOnly = true
				default:
					return nil, fmt.Errorf("%s:%d: unknown word %q after ```hcl (known: fragment, decode-only)", file, n, w)
				}
			}
			cur = &s
			body.Reset()
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: ```hcl block is not closed", file, cur.Line-1)
	}
	return out, sc.Err()
}

// Policy is the policy source to check: the block itself, or a fragment
// after the wrapper (WrapperLines lines).
func (s Snippet) Policy() string {
	if s.Fragment {
		return wrapper + s.Source
	}
	return s.Source
}

// installPrefixes are the installed locations that snippets name with
// absolute paths; Sandbox moves them into the sandbox.
var installPrefixes = []string{"/etc/sluice/", "/var/lib/sluice/"}

// Sandbox writes the snippet's policy to dir/policies/NAME.hcl, with
// dir/bin a symbolic link to bin (so that "../bin/plugins/NAME.wasm"
// resolves as it does for policies/*.hcl), and returns its path. Absolute
// paths under /etc/sluice/ and /var/lib/sluice/ are moved under dir, and
// what an operator would have created there is created: a new ed25519 key
// for each dkim_key whose file is missing, and the kv block's directory.
func (s Snippet) Sandbox(dir, bin string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		return "", err
	}
	link := filepath.Join(dir, "bin")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(bin, link); err != nil {
			return "", err
		}
	}
	src := s.Policy()
	for _, p := range installPrefixes {
		src = strings.ReplaceAll(src, `"`+p, `"`+filepath.Join(dir, p)+"/")
	}
	name := strings.NewReplacer("/", "_", ".", "_").Replace(s.File) + fmt.Sprintf("_%d.hcl", s.Line)
	path := filepath.Join(dir, "policies", name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		return "", err
	}
	p, diags := policy.Parse([]byte(src), path)
	if p == nil || diags.HasErrors() {
		return path, nil // `sluice check` reports it
	}
	inside := func(f string) bool { return strings.HasPrefix(f, dir+string(filepath.Separator)) }
	for _, k := range p.DKIMKeys {
		if !inside(k.KeyFile) {
			continue
		}
		if _, err := os.Stat(k.KeyFile); err == nil {
			continue
		}
		pem, _, err := dkimsign.GenerateKey("ed25519")
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(k.KeyFile), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(k.KeyFile, pem, 0o600); err != nil {
			return "", err
		}
	}
	if kv := p.KV.Path; kv != "" && inside(kv) {
		if err := os.MkdirAll(filepath.Dir(kv), 0o700); err != nil {
			return "", err
		}
	}
	return path, nil
}
