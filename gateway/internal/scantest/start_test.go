package scantest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	for _, start := range []func() (*Daemon, error){StartRspamd, StartClamd, StartSpamd} {
		d, err := start()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s started in %s at %s", d.Name, d.Startup, d.Address)
		d.Stop()
		if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
			t.Fatalf("%s: Stop left %s", d.Name, d.Dir)
		}
	}
}

// TestCrashLeavesNoDaemon: a test binary that dies without stopping its
// daemons (here os.Exit) leaves none running: the watchdog kills them.
func TestCrashLeavesNoDaemon(t *testing.T) {
	if os.Getenv("SCANTEST_CRASH") == "1" {
		d, err := StartClamd()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("pid", d.cmd.Process.Pid, d.Dir)
		os.Exit(3)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesNoDaemon$")
	cmd.Env = append(os.Environ(), "SCANTEST_CRASH=1")
	out, _ := cmd.Output()
	var pid int
	var dir string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "pid" {
			pid, _ = strconv.Atoi(f[1])
			dir = f[2]
		}
	}
	if pid == 0 {
		t.Fatalf("the crashing test did not start clamd: %s", out)
	}
	defer os.RemoveAll(dir)
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("clamd (pid %d) still runs 10 s after its test binary died", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie does not: it waits for a reaper
// this process is not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
