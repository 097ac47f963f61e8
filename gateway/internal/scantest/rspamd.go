package scantest

import (
	"context"
	"fmt"
	"path/filepath"
)

// AddHeaderSubject in a message's Subject makes the test rspamd score it 7,
// between its "add header" (6) and "rewrite subject" (8) thresholds.
const AddHeaderSubject = "SLUICE-ADD-HEADER"

// rspamdOff are the modules that need Redis or the network, which a test
// instance has neither of.
var rspamdOff = []string{
	"asn", "bimi", "clickhouse", "dcc", "dkim", "dmarc", "elastic", "emails", "external_relay",
	"external_services", "fuzzy_check", "greylist", "hfilter", "history_redis", "metadata_exporter",
	"mx_check", "neural", "phishing", "ratelimit", "rbl", "replies", "reputation", "rspamd_update",
	"spamtrap", "spf", "surbl", "url_redirector", "whitelist", "arc", "dkim_signing", "p0f",
}

// StartRspamd runs rspamd's normal worker (no controller, proxy or fuzzy
// worker) on a loopback port with Debian's rules and a local configuration
// that needs neither Redis nor DNS: GTUBE scores as reject, the subject
// AddHeaderSubject as add header, and milter_headers asks for X-Spamd-Bar
// and X-Spam-Level on every message, so replies carry a milter block.
func StartRspamd() (*Daemon, error) {
	bin, d, err := newDaemon("rspamd", "rspamd", "http")
	if err != nil {
		return nil, err
	}
	dead, err := freePort() // DNS goes here and fails at once
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"rspamd.conf": `.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "warning";
}
worker "normal" {
    bind_socket = "127.0.0.1:` + fmt.Sprint(d.Port) + `";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
    task_timeout = 20s;
}
`,
		"local.d/options.inc": fmt.Sprintf(`dns {
    nameserver = ["127.0.0.1:%d"];
    timeout = 200ms;
    retransmits = 1;
}
local_addrs = [];
disable_hyperscan = true;
url_tld = "$LOCAL_CONFDIR/tld.dat";
`, dead),
		// The public suffix list takes rspamd half a minute to compile on
		// a busy machine; the tests need a few.
		"tld.dat":                       "com\norg\nnet\ntest\nexample\ninvalid\nlocalhost\n",
		"local.d/classifier-bayes.conf": "backend = \"none\";\n",
		"local.d/milter_headers.conf": `use = ["x-spamd-bar", "x-spam-level"];
skip_local = false;
skip_authenticated = false;
`,
		"rspamd.local.lua": `rspamd_config.SLUICE_TEST_ADD_HEADER = {
  callback = function(task)
    local s = task:get_subject() or ''
    return s:find('` + AddHeaderSubject + `', 1, true) ~= nil
  end,
  score = 7.0,
  group = 'sluice',
  description = 'Sluice test: the subject asks for add header',
}
`,
	}
	for _, m := range rspamdOff {
		files["local.d/"+m+".conf"] = "enabled = false;\n"
	}
	if err := writeFiles(d.Dir, files); err != nil {
		return nil, err
	}
	data := filepath.Join(d.Dir, "data")
	if err := writeFiles(data, map[string]string{".keep": ""}); err != nil {
		return nil, err
	}
	d.logFile = filepath.Join(data, "rspamd.log")
	argv := []string{bin, "-f", "-c", filepath.Join(d.Dir, "rspamd.conf"),
		"--var=LOCAL_CONFDIR=" + d.Dir, "--var=DBDIR=" + data, "--var=RUNDIR=" + data, "--var=LOGDIR=" + data}
	root, err := chownTo("_rspamd", data)
	if err != nil {
		return nil, err
	}
	if root {
		argv = append(argv, "-u", "_rspamd", "-g", "_rspamd")
	}
	d.argv = argv
	d.ping = func(ctx context.Context) error { return httpPing(ctx, d.Address+"/ping", "pong") }
	if err := d.start(); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}
