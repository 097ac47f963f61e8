package wasmhost

import (
	"context"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// A compiled module lets its function bodies go (a Go plugin's are
// megabytes), and the plugin still starts new instances and runs its
// hooks: instantiation never reads them.
func TestDropFunctionBodies(t *testing.T) {
	e, _ := newEngine(t)
	p := loadTag(t, e, "tag")
	if p.shared.dropped < 1<<20 {
		t.Fatalf("%d bytes of function bodies dropped, want megabytes: has wazero's compiledModule changed? (bodies.go)", p.shared.dropped)
	}
	if again := dropFunctionBodies(p.compiled); again != 0 {
		t.Errorf("a second pass found %d bytes of bodies still held", again)
	}
	ctx := context.Background()
	burstInstances(t, p, 4) // three new instances from the dropped module
	for range 3 {
		st := stateAt(t, filter.Data)
		if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
			t.Fatalf("call after dropping the bodies: %v %v", v, err)
		}
		added := false
		for _, f := range st.Msg.Fields {
			added = added || f.Name == "X-Sluice" && string(f.Value()) == "scanned"
		}
		if !added {
			t.Fatal("the tag plugin did not add its header")
		}
	}
	// A second plugin from the same bytes shares the module; a reload
	// after the last one closed compiles (and drops) again.
	q := loadTag(t, e, "tag2")
	if _, err := q.Call(ctx, stateAt(t, filter.Data)); err != nil {
		t.Fatal(err)
	}
}
