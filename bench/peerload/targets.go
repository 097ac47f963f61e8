package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// row is one target of README "Performance" that is not a ratio against a
// peer: what it asks, what was measured, and whether it is met.
type row struct {
	what  string
	value string
	ok    bool
}

// Bounds of the targets (README "Performance").
const (
	latencyP50MS = 1.0   // added by one session at p50
	latencyP99MS = 5.0   // added by one session at p99
	hookNS       = 2000  // a warm hook call
	idleRSSMiB   = 200.0 // after load, with the idle sessions open
)

// latencyRows measures the latency of single sessions on the sink alone
// and through the chain with bench/latency (bin) and returns the rows of
// the latency Sluice adds: the difference of the two p50s and of the two
// p99s.
func latencyRows(ctx context.Context, bin, sinkAddr, chainAddr string, n, size int) []row {
	p50 := fmt.Sprintf("latency added by one session, %d KiB, p50 < %.0f ms", size/1024, latencyP50MS)
	p99 := fmt.Sprintf("latency added by one session, %d KiB, p99 < %.0f ms", size/1024, latencyP99MS)
	var got [2][2]float64
	for i, addr := range []string{sinkAddr, chainAddr} {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := exec.CommandContext(ctx, bin, "-addr", addr, "-n", strconv.Itoa(n), "-size", strconv.Itoa(size)).Output()
		cancel()
		if err == nil {
			got[i][0], got[i][1], err = parseLatency(string(out))
		}
		if err != nil {
			why := fmt.Sprintf("not measured: %s: %v", addr, err)
			return []row{{p50, why, false}, {p99, why, false}}
		}
		fmt.Fprintf(os.Stderr, "latency      %s: %s", addr, out)
	}
	added := func(q int, bound float64) row {
		d := got[1][q] - got[0][q]
		return row{"", fmt.Sprintf("%.2f ms (sink %.2f, through sluice %.2f)", d, got[0][q], got[1][q]), d < bound}
	}
	r50, r99 := added(0, latencyP50MS), added(1, latencyP99MS)
	r50.what, r99.what = p50, p99
	return []row{r50, r99}
}

var latencyRe = regexp.MustCompile(`p50=([0-9.]+)ms p99=([0-9.]+)ms`)

// parseLatency reads bench/latency's "p50=0.270ms p99=1.010ms n=500".
func parseLatency(out string) (p50, p99 float64, err error) {
	m := latencyRe.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no p50/p99 in %q", strings.TrimSpace(out))
	}
	p50, _ = strconv.ParseFloat(m[1], 64)
	p99, _ = strconv.ParseFloat(m[2], 64)
	return p50, p99, nil
}

// hookRows are the rows of the warm hook call: the best ns/op of each
// benchmark in path (go test -bench output, several -count runs).
func hookRows(path string) []row {
	what := fmt.Sprintf("warm hook call < %d µs", hookNS/1000)
	b, err := os.ReadFile(path)
	if err != nil {
		return []row{{what, fmt.Sprintf("not measured: %v", err), false}}
	}
	best, order := parseBench(string(b))
	if len(order) == 0 {
		return []row{{what, "not measured: no benchmark results (" + path + ")", false}}
	}
	var rows []row
	for _, name := range order {
		ns := best[name]
		rows = append(rows, row{fmt.Sprintf("%s (%s)", what, name), fmt.Sprintf("%.2f µs", ns/1000), ns < hookNS})
	}
	return rows
}

var benchRe = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

// parseBench returns the lowest ns/op of each benchmark in go test -bench
// output, named without "Benchmark" and the GOMAXPROCS suffix, and the
// names in the order they first appear.
func parseBench(out string) (map[string]float64, []string) {
	best := map[string]float64{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		m := benchRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if old, seen := best[m[1]]; !seen {
			order = append(order, m[1])
			best[m[1]] = ns
		} else {
			best[m[1]] = min(old, ns)
		}
	}
	return best, order
}

// idleRow opens n idle sessions to addr with bench/idle (bin) and reads
// the VmRSS of pid once they are all up.
func idleRow(ctx context.Context, bin, addr string, pid, n int) row {
	what := fmt.Sprintf("RSS after load with %d idle sessions < %.0f MiB", n, idleRSSMiB)
	fail := func(err error) row { return row{what, fmt.Sprintf("not measured: %v", err), false} }
	before, err := vmRSS(pid)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", addr, "-n", strconv.Itoa(n), "-hold", "3s")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(out)
	up := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "up ") {
			up = true
			break
		}
	}
	if !up {
		return fail(fmt.Errorf("the %d sessions did not come up", n))
	}
	time.Sleep(time.Second) // what the sessions allocate after EHLO settles
	with, err := vmRSS(pid)
	if err != nil {
		return fail(err)
	}
	_, _ = io.Copy(io.Discard, out) // until bench/idle lets them go
	mib := float64(with) / 1024
	fmt.Fprintf(os.Stderr, "idle         %s: VmRSS %.0f MiB before, %.0f MiB with %d idle sessions\n", addr, float64(before)/1024, mib, n)
	return row{what, fmt.Sprintf("%.0f MiB (%.0f before the idle sessions)", mib, float64(before)/1024), mib < idleRSSMiB}
}

// vmRSS is the resident set of pid in KiB (/proc/PID/status).
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// printRows prints the rows as a table.
func printRows(title string, rows []row) {
	fmt.Printf("\n%s:\n\n| target | measured | |\n|---|---|---|\n", title)
	for _, r := range rows {
		mark := "no"
		if r.ok {
			mark = "ok"
		}
		fmt.Printf("| %s | %s | %s |\n", r.what, r.value, mark)
	}
}
