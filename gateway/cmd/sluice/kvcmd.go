package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/policy"
)

const kvUsage = `usage:
  sluice kv export --policy FILE [--out FILE]   # JSON lines to stdout or FILE
  sluice kv import --policy FILE [--in FILE]    # JSON lines from stdin or FILE
The store is the one the policy's kv block names: a file (path) or a Redis
server (redis). Stop the gateways before importing into a file store: a
running gateway saves its own copy over it.
`

// cmdKV moves the key/value store's keys between backends (sluice kv
// export / import), so a site can move from the file store to Redis
// without resetting its greylist.
func cmdKV(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, kvUsage)
		return 2
	}
	op := args[0]
	fs := flag.NewFlagSet("kv "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyPath := fs.String("policy", "", "the policy whose kv block names the store")
	file := fs.String(map[string]string{"export": "out", "import": "in"}[op], "", "the JSON lines file (default stdout/stdin)")
	if pos, err := parseArgs(fs, args[1:]); err != nil || len(pos) != 0 || *policyPath == "" {
		fmt.Fprint(stderr, kvUsage)
		return 2
	}
	p, diags := policy.Load(*policyPath)
	if diags.HasErrors() {
		policy.WriteDiagnostics(stderr, diags)
		return 1
	}
	var (
		store kv.Store
		list  kv.Lister
		done  func() error
	)
	switch {
	case p.KV.Redis != "":
		r, err := kv.NewRedis(kv.RedisOptions{URL: p.KV.Redis, PasswordFile: p.KV.PasswordFile, Prefix: p.KV.Prefix, Timeout: p.KV.Timeout})
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		if err := r.Ping(); err != nil {
			fmt.Fprintf(stderr, "sluice: Redis %s: %v\n", p.KV.Redis, err)
			r.Close()
			return 1
		}
		store, list, done = r, r, r.Close
	case p.KV.Path != "":
		// Export reads the file and never saves it; import saves it once.
		m, err := kv.NewMemoryFile(kv.MemoryOptions{Path: p.KV.Path, SaveInterval: -1, SweepInterval: -1})
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		store, list, done = m, m, m.Save
	default:
		fmt.Fprintf(stderr, "sluice: %s has no kv block: its store lives in memory only\n", *policyPath)
		return 1
	}
	// --file, created for export, read for import; else stdout or stdin.
	var f *os.File
	if *file != "" {
		open := os.Open
		if op == "export" {
			open = os.Create
		}
		var ferr error
		if f, ferr = open(*file); ferr != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", ferr)
			return 1
		}
		defer f.Close()
	}
	var n int
	var err error
	if op == "export" {
		w := stdout
		if f != nil {
			w = f
		}
		n, err = kv.Export(list, w)
		if c, ok := store.(*kv.Redis); ok {
			c.Close()
		}
	} else {
		var r io.Reader = os.Stdin
		if f != nil {
			r = f
		}
		n, err = kv.Import(store, r)
		if derr := done(); err == nil {
			err = derr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice: kv %s: %v (after %d keys)\n", op, err, n)
		return 1
	}
	fmt.Fprintf(stderr, "sluice: kv %s: %d keys\n", op, n)
	return 0
}
