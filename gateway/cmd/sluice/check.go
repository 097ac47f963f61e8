package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// cmdCheck parses and validates a policy, compiles and configures every
// plugin, and prints every diagnostic as file:line:col (like `nginx -t`).
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs, lf := newLoadFlagSet("check", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: sluice check FILE")
		return 2
	}
	path := pos[0]
	ctx := context.Background()
	log := lf.logger(stderr)
	eng, err := lf.engine(ctx, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	defer eng.Close(ctx)
	gen, diags := (&lifecycle.Loader{Engine: eng, Logger: log}).Check(ctx, path)
	policy.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "%s: policy has errors\n", path)
		return 1
	}
	n, fronts := len(gen.Policy.Plugins), gen.Policy.Fronts()
	gen.Release()
	fmt.Fprintf(stdout, "%s: ok (%d plugins); serves %s\n", path, n, strings.Join(fronts, " and "))
	return 0
}
