// Package scantest starts private instances of the content scanners (Debian's
// rspamd, clamav-daemon and spamd packages) for tests: each with its own
// configuration and data directory, on a free loopback port, never the system
// services. A test package starts each daemon once (in TestMain) and shares
// it; Stop kills it and removes its directory.
package scantest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StartTimeout bounds a daemon's start-up, from exec to its first answer to
// a ping of its own protocol. rspamd compiles its rules and spamd its rule
// set at start; on a loaded 2-core machine that takes seconds.
const StartTimeout = 90 * time.Second

// Daemon is a running scanner.
type Daemon struct {
	Name    string // "rspamd", "clamd" or "spamd"
	Dir     string // instance root: configuration, data, logs
	Port    int    // loopback TCP port of the scanning protocol
	Address string // the policy's form: http://127.0.0.1:PORT or tcp://127.0.0.1:PORT
	// Socket is clamd's other address, a Unix socket: "unix:/path".
	Socket string
	// Startup is how long the last start took, until the first pong.
	Startup time.Duration

	argv    []string
	logFile string
	ping    func(context.Context) error
	cmd     *exec.Cmd
	done    chan struct{}
	// watchdog's stdin: closed by Kill, or by the kernel when the test
	// binary dies, which makes the watchdog kill the daemon's group.
	watch *os.File
}

// Start runs the daemon and waits, at most StartTimeout, for it to answer.
func (d *Daemon) start() error {
	begin := time.Now()
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Dir = d.Dir
	out, err := os.OpenFile(filepath.Join(d.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Kill reaches the workers it forks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %v", d.Name, err)
	}
	d.cmd, d.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.done) }()
	// Pdeathsig does not survive the daemons' switch to their own user,
	// and rspamd's workers outlive their main process: a watchdog shell
	// kills the whole group when its stdin closes, which happens when
	// this process exits, however it exits.
	if err := d.startWatchdog(); err != nil {
		d.Kill()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := d.ping(pctx)
		pcancel()
		if err == nil {
			d.Startup = time.Since(begin)
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("%s exited at start-up (%v): %s", d.Name, cmd.ProcessState, d.Log())
		case <-ctx.Done():
			d.Kill()
			return fmt.Errorf("%s did not answer within %s (last: %v): %s", d.Name, StartTimeout, err, d.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill stops the daemon and its workers at once (SIGKILL to its process
// group) and waits for the main process to exit. The directory stays, so
// Restart can run it again.
func (d *Daemon) Kill() {
	if d.cmd == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
	if d.watch != nil {
		_ = d.watch.Close()
		d.watch = nil
	}
	d.cmd = nil
	// The workers die with the group, but not necessarily before the main
	// process: wait (bounded) until nothing accepts on the port, so that
	// Restart can bind it again.
	addr := fmt.Sprintf("127.0.0.1:%d", d.Port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
	}
}

// startWatchdog runs `sh` to kill the daemon's process group once its stdin
// reaches end of file.
func (d *Daemon) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	pgid := strconv.Itoa(d.cmd.Process.Pid)
	wd := exec.Command("/bin/sh", "-c", "read _ ; kill -9 -"+pgid+" 2>/dev/null", "watchdog")
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		_ = w.Close()
		return err
	}
	go func() { _ = wd.Wait() }()
	d.watch = w
	return nil
}

// Restart starts a killed daemon again on the same port.
func (d *Daemon) Restart() error {
	d.Kill()
	return d.start()
}

// Stop kills the daemon and removes its directory.
func (d *Daemon) Stop() {
	d.Kill()
	_ = os.RemoveAll(d.Dir)
}

// Log is the end of the daemon's logs, for failure messages.
func (d *Daemon) Log() string {
	var b bytes.Buffer
	for _, f := range []string{filepath.Join(d.Dir, "stdout.log"), d.logFile} {
		if data, err := os.ReadFile(f); err == nil {
			if len(data) > 3000 {
				data = data[len(data)-3000:]
			}
			fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(f), data)
		}
	}
	return b.String()
}

// newDaemon finds the daemon's binary (from Debian package pkg), makes the
// instance directory, readable by the daemon's user, and picks its
// loopback port: Address is scheme://127.0.0.1:port.
func newDaemon(name, pkg, scheme string) (string, *Daemon, error) {
	bin, err := lookBin(name, pkg)
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-"+name+"-")
	if err != nil {
		return "", nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	return bin, &Daemon{Name: name, Dir: dir, Port: port, Address: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)}, nil
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeFiles writes name -> content under dir, making directories.
func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// chownTo gives paths to a system user when running as root, so the daemon
// can drop privileges; it returns false when not root (the daemon then runs
// as the current user).
func chownTo(username string, paths ...string) (bool, error) {
	if os.Geteuid() != 0 {
		return false, nil
	}
	u, err := user.Lookup(username)
	if err != nil {
		return false, fmt.Errorf("user %s (created by its Debian package): %v", username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return false, err
		}
	}
	return true, nil
}

// lookBin finds a daemon's binary, explaining how to install it.
func lookBin(name, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed; run `make deps` (Debian package %s)", name, pkg)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// streamPing sends req on a fresh connection and checks the reply holds want.
func streamPing(ctx context.Context, addr, req, want string) error {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	buf := make([]byte, 256)
	var got []byte
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if bytes.Contains(got, []byte(want)) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ping reply %q: %v", got, err)
		}
	}
}

// httpPing GETs url and checks the body holds want.
func httpPing(ctx context.Context, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(b.String(), want) {
		return fmt.Errorf("ping: HTTP %d %q", resp.StatusCode, b.String())
	}
	return nil
}
