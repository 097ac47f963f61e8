// Command sluice is the Sluice mail filtering gateway: an SMTP proxy that
// runs every phase of each session through a chain of WebAssembly plugins
// set up in an HCL policy (docs/DESIGN.md §2).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  sluice serve --policy FILE [--listen ADDR] [--upstream ADDR] [--admin ADDR [--admin-token-file FILE] [--pprof]]
  sluice check FILE
  sluice test --policy FILE [--from ADDR] [--rcpt ADDR]... [--client-ip IP] [--helo NAME] [--dns-file ZONE] [--json] MESSAGE.eml
  sluice dkim-keygen [--algorithm ed25519|rsa] [--selector S --domain D] --out KEY.pem
  sluice kv export|import --policy FILE [--out|--in FILE]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "test":
		return cmdTest(args[1:], stdout, stderr)
	case "dkim-keygen":
		return cmdKeygen(args[1:], stdout, stderr)
	case "kv":
		return cmdKV(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n%s", args[0], usage)
	return 2
}

// parseArgs parses flags that may come before or after the positional
// arguments (`sluice check FILE --log-level warn`), and returns the
// positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
