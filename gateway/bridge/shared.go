package bridge

import (
	"log/slog"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// What other front ends (gateway/milter) share with the SMTP sessions: the
// same generation, pinned the same way, and the same message rules.

// Acquire pins the generation new sessions get, for a session of another
// front end; nil when none serves (shutting down). The caller calls
// Release when the session ends, exactly as an SMTP session does.
func (b *Backend) Acquire() *Generation {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil || !b.cur.acquire() {
		return nil
	}
	return b.cur
}

// Limits are the header limits of the generation's messages.
func (g *Generation) Limits() message.Limits { return g.limits }

// Logger is the generation's logger.
func (g *Generation) Logger() *slog.Logger { return g.log }

// Observer is told about the generation's sessions (metrics).
func (g *Generation) Observer() Observer { return g.obs }

// Hostname is the name the generation's sessions see as server.hostname.
func (g *Generation) Hostname() string { return g.hostname }

// QuarantineHeader is the field that marks a quarantined message.
const QuarantineHeader = quarantineHeader

// MarkQuarantined puts one X-Sluice-Quarantine field per quarantine
// verdict of st at the top of its message (sdk/ABI.md §2.1).
func MarkQuarantined(st *filter.State) { markQuarantined(st) }

// NewGeneration is a generation of an in-process chain, without compiled
// plugins or upstream, serving p's settings (tests of other front ends).
func NewGeneration(p *policy.Policy, chain *filter.Chain, log *slog.Logger, obs Observer) *Generation {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if obs == nil {
		obs = nopObserver{}
	}
	g := &Generation{Policy: p, chain: chain, hostname: p.Listen.Hostname, log: log, obs: obs,
		limits: message.Limits{MaxHeaderBytes: p.Listen.MaxHeaderSize, MaxHeaderFields: p.Listen.MaxHeaderFields}}
	g.refs.Store(1)
	return g
}

// ReportSteps tells the generation's observer about every step of a chain
// run and logs the step's error or, when it is not Continue, its verdict.
func (g *Generation) ReportSteps(log *slog.Logger, steps []filter.Step) {
	for _, step := range steps {
		g.obs.Step(step)
		attrs := []any{"plugin", step.Plugin, "phase", step.Phase.String(), "verdict", step.Verdict.String(), "duration", step.Duration}
		if step.Err != nil {
			log.Warn("plugin error", append(attrs, "err", step.Err)...)
			continue
		}
		if step.Verdict != filter.Continue {
			log.Info("plugin verdict", attrs...)
		}
	}
}
