package policy

import (
	"errors"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are the functions policy expressions may call: env() so that
// one policy can serve several hosts, and a few string and list helpers.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"env":       envFunc(os.LookupEnv),
		"upper":     stdlib.UpperFunc,
		"lower":     stdlib.LowerFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"format":    stdlib.FormatFunc,
		"join":      stdlib.JoinFunc,
		"concat":    stdlib.ConcatFunc,
		"coalesce":  coalesceFunc(),
	}
}

// envFunc is env(NAME) or env(NAME, DEFAULT): the value of the environment
// variable NAME, or DEFAULT ("" if not given) when NAME is unset or empty.
// An empty value counts as unset, like the shell's ${NAME:-DEFAULT}, because
// no policy setting is useful empty.
func envFunc(lookup func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or a default when it is unset or empty.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type: func(args []cty.Value) (cty.Type, error) {
			if len(args) > 2 {
				return cty.NilType, function.NewArgErrorf(2, "env takes a name and at most one default value")
			}
			return cty.String, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if v, ok := lookup(args[0].AsString()); ok && v != "" {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.StringVal(""), nil
		},
	})
}

// coalesceFunc is coalesce(A, B, ...): the first argument that is neither
// null nor empty. Unlike cty's own coalesce it skips "", so that
// coalesce(env("A"), env("B"), "default") works as one expects. Arguments
// are strings (numbers and bools convert).
func coalesceFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the first argument that is neither null nor an empty string.",
		VarParam:    &function.Parameter{Name: "vals", Type: cty.String, AllowNull: true},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for _, a := range args {
				if !a.IsNull() && a.AsString() != "" {
					return a, nil
				}
			}
			return cty.NilVal, errors.New("no non-empty value among the arguments")
		},
	})
}

// evalContext builds the context policy expressions are evaluated in:
// the functions above and local.NAME for each value of the locals blocks.
func (d *decoder) evalContext(blocks hcl.Blocks) *hcl.EvalContext {
	ctx := &hcl.EvalContext{Functions: functions()}
	if len(blocks) == 0 {
		return ctx
	}
	// Locals may refer to each other in any order; evaluate in rounds, each
	// taking the locals whose references are all known.
	pending := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		for name, attr := range attrs {
			if prev, dup := pending[name]; dup {
				d.diags = append(d.diags, Error(d.file, &attr.NameRange, "Duplicate local value",
					"A local value named "+quote(name)+" was already defined at "+pos(prev.NameRange)+"."))
				continue
			}
			pending[name] = attr
		}
	}
	values := map[string]cty.Value{}
	for len(pending) > 0 {
		progress := false
		for name, attr := range pending {
			if waitsFor(attr, pending) {
				continue
			}
			ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(values)}
			v, diags := attr.Expr.Value(ctx)
			d.diags = append(d.diags, diags...)
			if diags.HasErrors() {
				v = cty.DynamicVal // already reported; uses of it stay quiet
			}
			values[name] = v
			delete(pending, name)
			progress = true
		}
		if !progress {
			for name, attr := range pending {
				d.diags = append(d.diags, Error(d.file, &attr.NameRange, "Cycle in local values",
					"The local value "+quote(name)+" is part of, or depends on, a cycle of local values."))
				values[name] = cty.DynamicVal
				delete(pending, name)
			}
		}
	}
	ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(values)}
	return ctx
}

// waitsFor reports whether attr refers to a local value still in pending.
func waitsFor(attr *hcl.Attribute, pending map[string]*hcl.Attribute) bool {
	for _, tr := range attr.Expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if step, ok := tr[1].(hcl.TraverseAttr); ok {
			if _, wait := pending[step.Name]; wait {
				return true
			}
		}
	}
	return false
}
