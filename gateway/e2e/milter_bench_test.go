package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
)

// BenchmarkMilterVsProxy compares the two deployments of one chain (access
// at RCPT, tag and ed25519 dkim-sign at end of DATA), Postfix included:
//
//	proxy:  smtp-source -> sluice (listen) -> Postfix smtpd -> queue
//	milter: smtp-source -> Postfix smtpd (smtpd_milters -> sluice) -> queue
//
// Each sub-benchmark sends b.N messages of 10 KiB over 10 sessions with
// smtp-source and reports msgs/s, and the CPU per message of Sluice, of
// Postfix (its master and every child, reaped or live) and of both.
// Postfix hands mail to the discard transport, so delivery I/O stays out.
// Run: go test -run '^$' -bench MilterVsProxy -benchtime 2000x ./gateway/e2e/
// (README "Milter mode" has a table.)
func BenchmarkMilterVsProxy(b *testing.B) {
	chain := benchChain(b, "")
	discard := []string{"virtual_transport = discard:", "smtpd_client_connection_count_limit = 0", "default_process_limit = 200"}

	b.Run("proxy", func(b *testing.B) {
		pf := postfixtest.Start(b, postfixtest.Options{MainCF: discard})
		listen := loopback(b)
		g := serveWith(b, `listen {
  address = "`+listen+`"
  max_connections_per_ip = 2000
}
upstream { address = "`+pf.Addr+`" }
`+chain, listen)
		measure(b, listen, g, pf)
	})
	b.Run("milter", func(b *testing.B) {
		addr := loopback(b)
		g := serveWith(b, `milter { address = "`+addr+`" }`+"\n"+chain, addr)
		pf := postfixtest.Start(b, postfixtest.Options{
			MainCF: append(postfixtest.Snippet(b, "milter/main.cf", map[string]string{"MILTER": "inet:" + addr}), discard...),
		})
		measure(b, pf.Addr, g, pf)
	})
	b.Run("milter-unix", func(b *testing.B) {
		dir, err := os.MkdirTemp("", "sluice-milter-") // Postfix (user postfix) must reach it
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		sock := filepath.Join(dir, "milter.sock")
		g := serveWith(b, `milter { address = "unix:`+sock+`" }`+"\n"+chain, "")
		if !waitFor(60*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }) {
			b.Fatalf("no socket; log:\n%s", g.Log())
		}
		pf := postfixtest.Start(b, postfixtest.Options{
			MainCF: append(postfixtest.Snippet(b, "milter/main.cf", map[string]string{"MILTER": "unix:" + sock}), discard...),
		})
		measure(b, pf.Addr, g, pf)
	})
}

// serveWith runs `sluice serve` on policy (%BIN% filled in) and waits for
// addr.
func serveWith(b *testing.B, policy, addr string) *gateway {
	b.Helper()
	g := &gateway{Addr: addr}
	path := filepath.Join(b.TempDir(), "policy.hcl")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(policy, "%BIN%", binDir)), 0o644); err != nil {
		b.Fatal(err)
	}
	g.run(b, sluiceServe(path, "--watch=false", "--log-level", "error"))
	return g
}

func measure(b *testing.B, addr string, g *gateway, pf *postfixtest.Postfix) {
	send := func(n int) {
		out, err := exec.Command("/usr/sbin/smtp-source", "-s", "10", "-m", strconv.Itoa(n), "-l", "10240",
			"-f", "sender@sluice.test", "-t", "bob@"+postfixtest.Domain, "-M", "bench.sluice.test", addr).CombinedOutput()
		if err != nil {
			b.Fatalf("smtp-source: %v\n%s\nsluice log:\n%s", err, out, g.Log())
		}
	}
	send(50) // warm up: instances, Postfix's processes
	master := postfixMaster(b, pf)
	s0, p0 := procTicks(g.cmd.Process.Pid, false), postfixTicks(master)
	b.ResetTimer()
	start := time.Now()
	send(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	s1, p1 := procTicks(g.cmd.Process.Pid, false), postfixTicks(master)
	ms := func(ticks int64) float64 { return float64(ticks) * 1000 / 100 / float64(b.N) } // USER_HZ = 100
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(ms(s1-s0), "sluice-cpu-ms/msg")
	b.ReportMetric(ms(p1-p0), "postfix-cpu-ms/msg")
	b.ReportMetric(ms(s1-s0+p1-p0), "total-cpu-ms/msg")
}

func postfixMaster(b *testing.B, pf *postfixtest.Postfix) int {
	raw, err := os.ReadFile(filepath.Join(pf.Dir, "spool", "pid", "master.pid"))
	if err != nil {
		b.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// procTicks is a process's user+system CPU in clock ticks, with its reaped
// children's when children is set (/proc/PID/stat fields 14-17).
func procTicks(pid int, children bool) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
	var t int64
	last := 15
	if children {
		last = 17
	}
	for i := 14; i <= last; i++ {
		v, _ := strconv.ParseInt(f[i-3], 10, 64)
		t += v
	}
	return t
}

// postfixTicks is the CPU of Postfix's master, its reaped children and its
// live children.
func postfixTicks(master int) int64 {
	t := procTicks(master, true)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if ppid, _ := strconv.Atoi(f[1]); ppid == master {
			t += procTicks(pid, false)
		}
	}
	return t
}
