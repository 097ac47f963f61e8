package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// countingScanner counts the scans and the writes of the message a real
// scanner makes, and checks that it is handed the transaction's message
// itself (*message.Message), not a copy.
type countingScanner struct {
	scan.Scanner
	scans, writes, copies atomic.Int64
	lastErr               atomic.Value // error of the last failed scan, for failure messages
}

func (c *countingScanner) Scan(ctx context.Context, env scan.Envelope, msg scan.Message) (*scan.Result, error) {
	c.scans.Add(1)
	if _, ok := msg.(*message.Message); !ok {
		c.copies.Add(1)
	}
	r, err := c.Scanner.Scan(ctx, env, countingMessage{msg, &c.writes})
	if err != nil {
		c.lastErr.Store(err.Error())
	}
	return r, err
}

type countingMessage struct {
	scan.Message
	writes *atomic.Int64
}

func (m countingMessage) WriteTo(w io.Writer) (int64, error) {
	m.writes.Add(1)
	return m.Message.WriteTo(w)
}

// defaultChain loads the data-phase plugins of policies/default.hcl
// (auth-results, tag, dkim-sign) and, with scanners, clamav and rspamd
// before dkim-sign, against the real daemons.
func defaultChain(b *testing.B, scanners map[string]scan.Scanner) []*wasmhost.Plugin {
	res := staticDNS{"TXT sender.test": {"v=spf1 ip4:127.0.0.0/8 -all"}, "TXT _dmarc.sender.test": {"v=DMARC1; p=none"}}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key := &dkimsign.Key{Name: "k", Domain: "sender.test", Selector: "s", Signer: priv, Algorithm: dkimsign.AlgorithmEd25519}
	chain := []*wasmhost.Plugin{
		loadGoPlugin(b, "auth-results", `{"authserv_id":"mx.example"}`, func(s *wasmhost.Spec) {
			s.Grants, s.Resolver = []string{"dns"}, res
		}),
		loadGoPlugin(b, "tag", `{"headers":{"X-Sluice":"scanned"}}`),
	}
	if scanners != nil {
		chain = append(chain,
			loadGoPlugin(b, "clamav", `{"scanner":"virus"}`, func(s *wasmhost.Spec) {
				s.Grants, s.Scanners = []string{"scan:virus"}, map[string]scan.Scanner{"virus": scanners["virus"]}
				s.Timeout = 30 * time.Second // the default 200 ms is too short for a scan
			}),
			loadGoPlugin(b, "rspamd", `{"scanner":"spam"}`, func(s *wasmhost.Spec) {
				s.Grants, s.Scanners = []string{"scan:spam"}, map[string]scan.Scanner{"spam": scanners["spam"]}
				s.Timeout = 30 * time.Second
			}))
	}
	return append(chain, loadGoPlugin(b, "dkim-sign", `{}`, func(s *wasmhost.Spec) {
		s.Grants, s.DKIMKeys = []string{"dkim:k"}, []*dkimsign.Key{key}
	}))
}

// cpuTime is this process's CPU time (user and system): the gateway's
// side only, the scanner daemons being other processes.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runChain runs the data hooks of chain on benchMessage once per iteration
// and reports the gateway's CPU per message.
// why, if set, explains a failure (the scanners' last errors).
func runChain(b *testing.B, chain []*wasmhost.Plugin, why func() string) {
	ctx := context.Background()
	sess := &filter.Session{ID: "bench", Tags: filter.Tags{}, ClientIP: netip.MustParseAddr("127.0.0.1"), Helo: "client.sender.test"}
	one := func() {
		m, _ := message.Parse(benchMessage, message.Limits{})
		st := filter.NewState(sess)
		st.Phase, st.Msg, st.From, st.Rcpts = filter.Data, m, "a@sender.test", []string{"b@example.net"}
		for _, p := range chain {
			if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
				extra := ""
				if why != nil {
					extra = why()
				}
				b.Fatalf("%s: %v %v %v %s", p.Name(), v, err, st.Reply, extra)
			}
			st.Commit()
		}
	}
	// Warm the instances and connections, and collect the compiler's
	// garbage, so that the CPU measured is the messages'.
	for range 5 {
		one()
	}
	runtime.GC()
	start := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		one()
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/msg")
}

// BenchmarkDefaultChain: the default chain's data hooks on a 10 KiB message.
func BenchmarkDefaultChain(b *testing.B) { runChain(b, defaultChain(b, nil), nil) }

// BenchmarkDefaultChainScanning: the same with clamav and rspamd added,
// scanning with the real daemons. Each message is sent to each scanner
// once, written once, and is the transaction's own message (no copy):
// scans/msg, writes/msg and copies/msg say so.
func BenchmarkDefaultChainScanning(b *testing.B) {
	rs, cl := scanDaemon(b, "rspamd"), scanDaemon(b, "clamd")
	spam, err := scan.New(scan.Config{Name: "spam", Engine: scan.EngineRspamd, Address: rs.Address})
	if err != nil {
		b.Fatal(err)
	}
	virus, err := scan.New(scan.Config{Name: "virus", Engine: scan.EngineClamd, Address: cl.Socket})
	if err != nil {
		b.Fatal(err)
	}
	cs, cv := &countingScanner{Scanner: spam}, &countingScanner{Scanner: virus}
	b.Cleanup(func() { spam.Close(); virus.Close() })
	runChain(b, defaultChain(b, map[string]scan.Scanner{"spam": cs, "virus": cv}), func() string {
		return fmt.Sprintf("(rspamd: %v; clamd: %v)", cs.lastErr.Load(), cv.lastErr.Load())
	})
	n := float64(b.N)
	for _, c := range []*countingScanner{cs, cv} {
		if c.scans.Load() != int64(b.N)+5 || c.writes.Load() != int64(b.N)+5 || c.copies.Load() != 0 {
			b.Errorf("%d messages: %d scans, %d writes, %d copies; want one scan and one write each, no copy",
				b.N+5, c.scans.Load(), c.writes.Load(), c.copies.Load())
		}
	}
	b.ReportMetric(float64(cs.scans.Load())/(n+5), "rspamd-scans/msg")
	b.ReportMetric(float64(cv.scans.Load())/(n+5), "clamd-scans/msg")
	b.ReportMetric(float64(cs.writes.Load()+cv.writes.Load())/(n+5), "writes/msg")
	b.ReportMetric(float64(cs.copies.Load()+cv.copies.Load())/(n+5), "copies/msg")
}
