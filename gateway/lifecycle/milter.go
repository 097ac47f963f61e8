package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/milter"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// milterFront is the milter listener (README "Milter mode"). Its sessions
// pin their generation from the same bridge.Backend as SMTP sessions, so a
// reload swaps both front ends at once and drains both the same way. The
// address is read at start-up; a reload that changes it is reported.
type milterFront struct {
	mu      sync.Mutex
	srv     *milter.Server
	ln      net.Listener
	running *policy.Milter
	failed  chan error
}

func (m *milterFront) start(b *bridge.Backend, cfg *policy.Milter, log *slog.Logger, failed chan error) error {
	ln, err := milter.Listen(cfg.Network, cfg.Address)
	if err != nil {
		return err
	}
	srv := milter.New(b, log)
	m.mu.Lock()
	m.srv, m.ln, m.running = srv, ln, cfg
	m.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			select {
			case failed <- err:
			default:
			}
		}
	}()
	return nil
}

// Addr is the bound address ("" when not serving milter).
func (m *milterFront) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// changes warns about a milter block a reload cannot apply: the listener
// is opened at start-up only.
func (m *milterFront) changes(now *policy.Milter) hcl.Diagnostics {
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.running
	switch {
	case was == nil && now == nil:
		return nil
	case was == nil:
		return hcl.Diagnostics{policy.Warning(now.Range.Filename, &now.Range, "Milter listener needs a restart",
			"The milter block was added; the milter listener is opened at start-up, so it serves after sluice restarts.")}
	case now == nil:
		return hcl.Diagnostics{policy.Warning(was.Range.Filename, nil, "Milter listener needs a restart",
			"The milter block was removed; the running milter listener keeps serving the new policy until sluice restarts.")}
	case was.String() != now.String():
		return hcl.Diagnostics{policy.Warning(now.AddressRange.Filename, &now.AddressRange, "Milter listener needs a restart",
			"milter address changed from "+was.String()+" to "+now.String()+"; the running milter listener keeps "+was.String()+" until sluice restarts.")}
	}
	return nil
}

func (m *milterFront) shutdown(ctx context.Context) error {
	m.mu.Lock()
	srv := m.srv
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}
