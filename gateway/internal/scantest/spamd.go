package scantest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// StartSpamd runs SpamAssassin's spamd on a loopback port with Debian's
// rules, local tests only (-L: no DNS blocklists, no Razor/Pyzor), no Bayes
// and no auto-whitelist, one child. GTUBE scores 1000.
func StartSpamd() (*Daemon, error) {
	bin, d, err := newDaemon("spamd", "spamd", "tcp")
	if err != nil {
		return nil, err
	}
	home := filepath.Join(d.Dir, "home")
	site := filepath.Join(d.Dir, "site")
	d.logFile = filepath.Join(d.Dir, "spamd.log")
	if err := writeFiles(d.Dir, map[string]string{
		"home/.keep": "",
		"site/local.cf": `use_bayes 0
bayes_auto_learn 0
use_auto_whitelist 0
skip_rbl_checks 1
dns_available no
`,
	}); err != nil {
		return nil, err
	}
	// Debian's plugin list (init.pre, v310.pre, ...): the site directory
	// replaces /etc/spamassassin, whose local.cf the tests do not want.
	pres, _ := filepath.Glob("/etc/spamassassin/*.pre")
	for _, p := range pres {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := writeFiles(site, map[string]string{filepath.Base(p): string(b)}); err != nil {
			return nil, err
		}
	}
	if len(pres) == 0 {
		if err := writeFiles(site, map[string]string{"init.pre": "loadplugin Mail::SpamAssassin::Plugin::Check\n"}); err != nil {
			return nil, err
		}
	}
	argv := []string{bin, "-L", "--listen=127.0.0.1:" + fmt.Sprint(d.Port), "--allowed-ips=127.0.0.1",
		"--max-children=1", "--min-children=1", "--nouser-config", "--siteconfigpath=" + site,
		"--pidfile=" + filepath.Join(d.Dir, "spamd.pid"), "--syslog=" + d.logFile,
		"--helper-home-dir=" + home}
	root, err := chownTo("debian-spamd", home, d.Dir)
	if err != nil {
		return nil, err
	}
	if root {
		argv = append(argv, "--username=debian-spamd", "--groupname=debian-spamd")
	}
	d.argv = argv
	addr := fmt.Sprintf("127.0.0.1:%d", d.Port)
	d.ping = func(ctx context.Context) error { return streamPing(ctx, addr, "PING SPAMC/1.5\r\n\r\n", "PONG") }
	if err := d.start(); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}
