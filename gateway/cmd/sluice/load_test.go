package main

import (
	"context"
	"log/slog"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/lifecycle"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// build is what serve does with a policy file at start-up: one parse, the
// override, the build.
func build(ctx context.Context, path string, eng *wasmhost.Engine, log *slog.Logger, override func(*policy.Policy), obs bridge.Observer) (*bridge.Generation, hcl.Diagnostics) {
	return (&lifecycle.Loader{Engine: eng, Logger: log, Override: override, Observer: obs}).Load(ctx, path)
}

// openKV is what serve does with the kv block of the policy at path.
func openKV(path string, log *slog.Logger) (*kv.Memory, error) {
	p, diags := policy.Load(path)
	if diags.HasErrors() {
		return nil, nil
	}
	return lifecycle.OpenKV(p, log)
}
