// Package postfixtest starts a real Postfix (Debian's package) for tests: its
// own configuration and queue directory, listening on a loopback port, and
// delivering every recipient of the virtual domain to one Maildir.
package postfixtest

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Domain is the domain Postfix delivers locally (to Maildir).
const Domain = "example.test"

// Postfix is a running instance.
type Postfix struct {
	Dir     string // instance root
	ConfDir string
	Addr    string // smtpd address, 127.0.0.1:port
	Maildir string // where Domain's mail lands
	t       testing.TB
}

// Options change the instance's configuration.
type Options struct {
	// Extra main.cf lines, appended (later settings win).
	MainCF []string
	// MasterCF, when set, replaces the default smtpd listener: these
	// master.cf lines (continuation lines included) follow the stock
	// services. Services with chroot "y" run unchrooted, like the stock
	// ones. Snippet reads them from examples/postfix.
	MasterCF []string
	// Addr is the smtpd address Start waits for, "127.0.0.1:port". Empty: a
	// free port, served by the default listener unless MasterCF is set.
	Addr string
	// DefaultMynetworks leaves mynetworks unset, at Postfix's own default
	// (mynetworks_style = host: this host's addresses, here 127.0.0.1/32),
	// which trusts anything that connects from 127.0.0.1, Sluice included.
	// Without it nothing is trusted.
	DefaultMynetworks bool
	// Files are written to the configuration directory before Postfix
	// starts, owned by root with mode 0600 (Postfix reads TLS keys before
	// dropping privileges), keyed by file name. MainCF refers to them as
	// $config_directory/NAME, for example smtpd_tls_cert_file.
	Files map[string][]byte
}

// Start runs a Postfix instance for the test and stops it at cleanup. It
// fails the test (never skips) when Postfix is missing: `make deps` installs
// it.
func Start(t testing.TB, opts Options) *Postfix {
	t.Helper()
	if _, err := exec.LookPath("postfix"); err != nil {
		if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
			t.Fatalf("postfix is not installed; run `make deps` (Debian package postfix)")
		}
	}
	if os.Geteuid() != 0 {
		t.Fatalf("starting a Postfix instance needs root")
	}
	dir, err := os.MkdirTemp("", "sluice-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	// Postfix daemons run as user postfix and must reach the queue.
	must(t, os.Chmod(dir, 0o755))
	p := &Postfix{Dir: dir, ConfDir: filepath.Join(dir, "conf"), Maildir: filepath.Join(dir, "vmail", "inbox"), t: t}
	for _, d := range []string{"conf", "spool", "data", "vmail"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	// Mail is delivered as nobody:nogroup.
	must(t, os.Chown(filepath.Join(dir, "vmail"), 65534, 65534))
	must(t, os.Chown(filepath.Join(dir, "data"), postfixUID(t), 0))
	p.Addr = opts.Addr
	if p.Addr == "" {
		p.Addr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	}
	services := opts.MasterCF
	if services == nil {
		services = []string{p.Addr + " inet n - n - - smtpd"}
	}

	main := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + filepath.Join(dir, "spool"),
		"data_directory = " + filepath.Join(dir, "data"),
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"myhostname = postfix.sluice.test",
		"mydomain = sluice.test",
		"mydestination =",
		"local_recipient_maps =",
		"alias_maps =",
		"alias_database =",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		// Nothing is a trusted relay: relaying to foreign domains is refused.
		"mynetworks = 127.0.0.254/32",
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
		"virtual_mailbox_domains = " + Domain,
		"virtual_mailbox_base = " + filepath.Join(dir, "vmail"),
		"virtual_mailbox_maps = static:inbox/",
		"virtual_uid_maps = static:65534",
		"virtual_gid_maps = static:65534",
		"virtual_minimum_uid = 100",
		"smtpd_peername_lookup = no",
		"smtp_dns_support_level = disabled",
		"smtpd_tls_security_level = none",
		"smtp_tls_security_level = none",
		"biff = no",
		"maillog_file = " + filepath.Join(dir, "maillog"),
		"maillog_file_prefixes = " + dir,
	}
	if opts.DefaultMynetworks {
		main = slices.DeleteFunc(main, func(l string) bool { return paramName(l) == "mynetworks" })
	}
	for name, b := range opts.Files {
		if filepath.Base(name) != name {
			t.Fatalf("postfixtest: file name %q is not a plain name", name)
		}
		must(t, os.WriteFile(filepath.Join(p.ConfDir, name), b, 0o600))
	}
	main = mergeMainCF(main, opts.MainCF)
	must(t, os.WriteFile(filepath.Join(p.ConfDir, "main.cf"), []byte(strings.Join(main, "\n")+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(p.ConfDir, "master.cf"), []byte(masterCF(t, services)), 0o644))

	p.postfix("check")
	p.postfix("start")
	t.Cleanup(p.stop)
	if !waitPort(p.Addr, 20*time.Second) {
		t.Fatalf("postfix did not listen on %s; maillog:\n%s", p.Addr, p.Log())
	}
	return p
}

// mergeMainCF adds extra main.cf lines to base. A parameter that base
// already sets is replaced in place rather than repeated: every Postfix
// process warns about a repeated parameter, and at startup those warnings
// can fill postlogd's socket before it reads it, which hangs the instance.
// Continuation lines stay with their parameter; comments are dropped.
func mergeMainCF(base, extra []string) []string {
	out := append([]string(nil), base...)
	index := map[string]int{}
	for i, l := range out {
		index[paramName(l)] = i
	}
	last := -1 // the line that a continuation line continues
	for _, l := range extra {
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "" || trimmed[0] == '#':
			continue
		case l[0] == ' ' || l[0] == '\t':
			if last >= 0 {
				out[last] += " " + trimmed
			}
			continue
		}
		name := paramName(l)
		if i, ok := index[name]; ok && name != "" {
			out[i] = l
			last = i
			continue
		}
		out = append(out, l)
		last = len(out) - 1
		index[name] = last
	}
	return out
}

// paramName is the parameter a main.cf line sets, "" if none.
func paramName(line string) string {
	name, _, ok := strings.Cut(line, "=")
	if !ok {
		return ""
	}
	return strings.TrimSpace(name)
}

// masterCF is Debian's stock master.cf without chroot and without the
// port-25 listener, plus the given services.
func masterCF(t testing.TB, services []string) string {
	f, err := os.Open("/etc/postfix/master.cf")
	if err != nil {
		t.Fatalf("read stock master.cf: %v", err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	skipping := false
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(line) > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '#' {
			skipping = len(fields) >= 2 && fields[0] == "smtp" && fields[1] == "inet"
		}
		if skipping {
			continue
		}
		b.WriteString(unchroot(line) + "\n")
	}
	for _, line := range services {
		b.WriteString(unchroot(line) + "\n")
	}
	return b.String()
}

// unchroot turns off the chroot column of a service definition line: the
// instance's queue lives outside Postfix's chroot.
func unchroot(line string) string {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
		return line
	}
	fields := strings.Fields(line)
	if len(fields) >= 8 && fields[4] == "y" {
		fields[4] = "n"
		return strings.Join(fields, "  ")
	}
	return line
}

func postfixUID(t testing.TB) int {
	out, err := exec.Command("id", "-u", "postfix").Output()
	if err != nil {
		t.Fatalf("no postfix user: %v", err)
	}
	var uid int
	fmt.Sscan(string(out), &uid)
	return uid
}

func (p *Postfix) postfix(args ...string) {
	p.t.Helper()
	cmd := exec.Command("postfix", append([]string{"-c", p.ConfDir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("postfix %s: %v\n%s\nmaillog:\n%s", strings.Join(args, " "), err, out, p.Log())
	}
}

func (p *Postfix) stop() {
	p.halt()
	// Wait (bounded) for the master to exit, then remove the instance.
	pidFile := filepath.Join(p.Dir, "spool", "pid", "master.pid")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(pidFile); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.RemoveAll(p.Dir)
}

// halt runs `postfix stop`, bounded in time; if that does not return, it
// aborts the instance (`postfix abort`) so that a test cannot hang.
func (p *Postfix) halt() {
	run := func(verb string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "postfix", "-c", p.ConfDir, verb)
		cmd.WaitDelay = time.Second
		return cmd.Run()
	}
	if err := run("stop"); err != nil {
		p.t.Logf("postfix stop: %v; aborting", err)
		run("abort")
	}
}

// Stop stops Postfix now (to test an unreachable downstream).
func (p *Postfix) Stop() {
	p.halt()
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", p.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns Postfix's log so far.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

// Delivered returns the messages in the Maildir's new/ directory, oldest
// first.
func (p *Postfix) Delivered() [][]byte {
	dir := filepath.Join(p.Maildir, "new")
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// Queued returns how many messages are in the queue (accepted, not yet
// delivered or bounced): mail relayed to a foreign domain stays there,
// since the instance has no DNS.
func (p *Postfix) Queued() int {
	n := 0
	for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
		filepath.WalkDir(filepath.Join(p.Dir, "spool", q), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
	}
	return n
}

// WaitDelivered waits (bounded) until n messages were delivered.
func (p *Postfix) WaitDelivered(n int, timeout time.Duration) [][]byte {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.Delivered()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(addr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// WaitPort waits (bounded) until something listens on addr.
func WaitPort(addr string, timeout time.Duration) bool { return waitPort(addr, timeout) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
