package policy

// Inline policies with one or more mistakes, and the exact lines
// WriteDiagnostics prints for them.

// okListen and okUpstream are valid blocks the cases below combine with.
const (
	okListen   = "listen {\n  address = \"127.0.0.1:2525\"\n}\n"
	okUpstream = "upstream {\n  maildir = \"var/mail\"\n}\n"
	okBoth     = okListen + okUpstream // six lines; a case's own blocks start at line 7
)

// openRelay is the warning for an SMTP upstream without xclient or
// xforward, after "policy.hcl:LINE:COL: ".
const openRelay = `warning: Possible open relay: this SMTP upstream has neither xclient nor xforward, so the downstream MTA sees every client as Sluice's own address; stock Postfix trusts loopback (mynetworks) and would relay mail from anyone to anywhere. Set xclient = true and list Sluice in Postfix's smtpd_authorized_xclient_hosts (MX front), or xforward = true with listen { xforward_peers } behind Postfix's smtpd_proxy_filter (examples/postfix).`

var diagnosticCases = []struct {
	name string
	src  string
	want []string
}{
	{"bad duration", `listen {
  address = "127.0.0.1:2525"
  command_timeout = "5x"
}
` + okUpstream, []string{
		`policy.hcl:3:3: Invalid duration: "5x" is not a duration (use Go syntax like "200ms" or "5m")`,
	}},
	{"unknown attribute", `listen {
  adress = "127.0.0.1:2525"
}
` + okUpstream, []string{
		`policy.hcl:1:1: Missing required argument: The argument "address" is required, but no definition was found.`,
		`policy.hcl:2:3: Unsupported argument: An argument named "adress" is not expected here. Did you mean "address"?`,
	}},
	{"breaker backoff order", okBoth + `plugin "p" {
  wasm = "p.wasm"
  breaker_threshold = 1001
  breaker_backoff = "10s"
  breaker_max_backoff = "5s"
}
`, []string{
		`policy.hcl:9:3: Value out of range: breaker_threshold must be at most 1000, not 1001.`,
		`policy.hcl:11:3: Value out of range: breaker_max_backoff (5s) must not be below breaker_backoff (10s).`,
	}},
	{"breaker fault rate", okBoth + `plugin "p" {
  wasm = "p.wasm"
  breaker_fault_rate = 50
  breaker_window = 0
}
plugin "q" {
  wasm = "q.wasm"
  breaker_fault_rate = 0
}
plugin "r" {
  wasm = "r.wasm"
  breaker_fault_rate = "half"
}
`, []string{
		`policy.hcl:9:3: Value out of range: breaker_fault_rate is a fraction between 0 and 1, not 50; write 0.5 for 50%.`,
		`policy.hcl:10:3: Value out of range: breaker_window must be at least 1, not 0.`,
		`policy.hcl:14:3: Value out of range: breaker_fault_rate must be greater than 0 and at most 1, not 0.`,
		`policy.hcl:18:3: Incorrect attribute value type: Inappropriate value for attribute "breaker_fault_rate": a number is required.`,
	}},
	{"unknown block", okBoth + `filter "spam" {
}
`, []string{
		`policy.hcl:7:1: Unsupported block type: Blocks of type "filter" are not expected here. Did you mean "milter"?`,
	}},
	{"unknown top-level attribute", okBoth + `debug = true
`, []string{
		`policy.hcl:7:1: Unsupported argument: An argument named "debug" is not expected here.`,
	}},
	{"wrong types", `listen {
  address        = ["127.0.0.1:2525"]
  max_recipients = "lots"
  hostname       = { name = "mx" }
}
` + okUpstream, []string{
		`policy.hcl:2:3: Incorrect attribute value type: Inappropriate value for attribute "address": string required, but have tuple.`,
		`policy.hcl:3:3: Incorrect attribute value type: Inappropriate value for attribute "max_recipients": a number is required.`,
		`policy.hcl:4:3: Incorrect attribute value type: Inappropriate value for attribute "hostname": string required, but have object.`,
	}},
	{"bad sizes", `listen {
  address          = "127.0.0.1:2525"
  max_message_size = "12XB"
  max_header_size  = -1
}
` + okUpstream + `plugin "a" {
  wasm   = "a.wasm"
  memory = "1.5MiB"
}
`, []string{
		`policy.hcl:3:3: Invalid size: "12XB" is not a size (use a number of bytes, or a string like "512KiB" or "25MiB")`,
		`policy.hcl:4:3: Invalid size: -1 is not a size (use a number of bytes, or a string like "512KiB" or "25MiB")`,
		`policy.hcl:11:3: Invalid size: "1.5MiB" is not a size (use a number of bytes, or a string like "512KiB" or "25MiB")`,
	}},
	{"kv_quota", `listen { address = "127.0.0.1:2525" }
` + okUpstream + `plugin "a" {
  wasm     = "a.wasm"
  kv_quota = "1KiB"
  grants   = ["kv"]
}
`, []string{
		`policy.hcl:7:3: Value out of range: kv_quota must be at least 64KiB, not 1KiB.`,
	}},
	{"kv redis", `listen { address = "127.0.0.1:2525" }
` + okUpstream + `kv {
  path   = "kv.db"
  redis  = "http://127.0.0.1:6379"
  prefix = "x:"
}
`, []string{
		`policy.hcl:7:3: Conflicting kv settings: a kv block has either path (a file) or redis (a shared server), not both.`,
		`policy.hcl:7:3: Invalid Redis URL: redis is "http://127.0.0.1:6379"; use redis://HOST:PORT/DB, rediss://HOST:PORT/DB (TLS) or unix:/PATH.`,
	}},
	{"kv empty", `listen { address = "127.0.0.1:2525" }
` + okUpstream + `kv {
  timeout = "1s"
}
`, []string{
		`policy.hcl:5:1: Incomplete kv block: a kv block needs path (a file) or redis (a shared server).`,
		`policy.hcl:6:3: Setting without redis: timeout applies to a Redis store only; set redis too.`,
	}},
	{"zero size", `listen {
  address          = "127.0.0.1:2525"
  max_message_size = 0
}
` + okUpstream, []string{
		`policy.hcl:3:3: Value out of range: max_message_size must be at least 1B, not 0B.`,
	}},
	{"negative and zero durations", `listen {
  address         = "127.0.0.1:2525"
  data_timeout    = "-1s"
  greet_delay     = "-5ms"
  command_timeout = "0"
}
` + okUpstream, []string{
		`policy.hcl:3:3: Value out of range: data_timeout must be greater than zero, not "-1s".`,
		`policy.hcl:4:3: Value out of range: greet_delay must be zero or more, not "-5ms".`,
		`policy.hcl:5:3: Value out of range: command_timeout must be greater than zero, not "0".`,
	}},
	{"listen address", `listen {
  address = "localhost"
}
` + okUpstream, []string{
		`policy.hcl:2:3: Invalid address: "localhost" is not host:port (for example "127.0.0.1:2525", "[::1]:25" or ":25" for every address).`,
	}},
	{"upstream address", okListen + `upstream {
  address = ":10025"
}
`, []string{
		`policy.hcl:5:3: Invalid address: ":10025" is not host:port (for example "127.0.0.1:10025").`,
	}},
	{"upstream both", okListen + `upstream {
  address = "127.0.0.1:10025"
  maildir = "var/mail"
}
`, []string{
		`policy.hcl:6:3: Conflicting upstream: An upstream has either address (an SMTP server) or maildir (a local directory), not both; address is set at policy.hcl:5:3.`,
	}},
	{"upstream neither", okListen + `upstream {
  helo = "sluice.example"
}
`, []string{
		`policy.hcl:4:1: Missing upstream destination: Set address = "host:port" to forward to an SMTP server, or maildir = "path" to store mail in a local Maildir.`,
	}},
	{"memory limits", okBoth + `plugin "big" {
  wasm   = "big.wasm"
  memory = "5GiB"
}
plugin "small" {
  wasm   = "small.wasm"
  memory = "512KiB"
}
`, []string{
		`policy.hcl:9:3: Value out of range: memory must be at most 4GiB, not 5GiB.`,
		`policy.hcl:13:3: Value out of range: memory must be at least 1MiB, not 512KiB.`,
	}},
	{"timeout limits", okBoth + `plugin "zero" {
  wasm    = "zero.wasm"
  timeout = "0s"
}
plugin "slow" {
  wasm    = "slow.wasm"
  timeout = "31s"
}
`, []string{
		`policy.hcl:9:3: Value out of range: timeout must be greater than zero, not "0s".`,
		`policy.hcl:13:3: Value out of range: timeout must be at most 30s, not "31s".`,
	}},
	{"init_timeout limits", okBoth + `plugin "zero" {
  wasm         = "zero.wasm"
  init_timeout = "0s"
}
plugin "slow" {
  wasm         = "slow.wasm"
  init_timeout = "2m"
}
`, []string{
		`policy.hcl:9:3: Value out of range: init_timeout must be greater than zero, not "0s".`,
		`policy.hcl:13:3: Value out of range: init_timeout must be at most 1m0s, not "2m".`,
	}},
	{"enums", `listen {
  address      = "127.0.0.1:2525"
  bare_lf      = "strip"
  early_talker = "wait"
}
` + okUpstream + `plugin "a" {
  wasm     = "a.wasm"
  on_error = "drop"
}
`, []string{
		`policy.hcl:3:3: Invalid value: bare_lf must be "normalize" or "reject", not "strip".`,
		`policy.hcl:4:3: Invalid value: early_talker must be "reject" or "ignore", not "wait".`,
		`policy.hcl:11:3: Invalid value: on_error must be "tempfail", "continue" or "reject", not "drop".`,
	}},
	{"missing wasm", okBoth + `plugin "a" {
  timeout = "1s"
}
`, []string{
		`policy.hcl:7:1: Missing required argument: The argument "wasm" is required, but no definition was found.`,
	}},
	{"missing blocks", "# nothing here\n", []string{
		`policy.hcl:1:1: Missing listen block: A policy needs a listen block saying where to accept mail (or a milter block, for milter mode).`,
		`policy.hcl:1:1: Missing upstream block: A policy needs an upstream block saying where to forward accepted mail (address) or where to store it (maildir).`,
	}},
	{"missing listen address", `listen {
  hostname = "mx.example.org"
}
` + okUpstream, []string{
		`policy.hcl:1:1: Missing required argument: The argument "address" is required, but no definition was found.`,
	}},
	{"duplicate blocks", okBoth + okListen + okUpstream, []string{
		`policy.hcl:7:1: Duplicate listen block: A policy has one listen block; the first is at policy.hcl:1:1.`,
		`policy.hcl:10:1: Duplicate upstream block: A policy has one upstream block; the first is at policy.hcl:4:1.`,
	}},
	{"tls missing files", `listen {
  address = "127.0.0.1:2525"
  tls {
    min_version = "1.1"
  }
}
` + okUpstream, []string{
		`policy.hcl:3:3: Missing required argument: The argument "cert_file" is required, but no definition was found.`,
		`policy.hcl:3:3: Missing required argument: The argument "key_file" is required, but no definition was found.`,
		`policy.hcl:4:5: Invalid value: min_version must be "1.2" or "1.3", not "1.1".`,
	}},
	{"duplicate plugin", okBoth + `plugin "tag" {
  wasm = "a.wasm"
}
plugin "tag" {
  wasm = "b.wasm"
}
`, []string{
		`policy.hcl:10:1: Duplicate plugin: A plugin named "tag" is already declared at policy.hcl:7:1; each plugin needs its own name.`,
	}},
	{"plugin names", okBoth + `plugin "Tag" {
  wasm = "a.wasm"
}
plugin "-x" {
  wasm = "b.wasm"
}
plugin "" {
  wasm = "c.wasm"
}
plugin {
  wasm = "d.wasm"
}
`, []string{
		`policy.hcl:7:8: Invalid plugin name: "Tag" is not a plugin name: use lower-case letters, digits, "_" and "-", starting with a letter or digit.`,
		`policy.hcl:10:8: Invalid plugin name: "-x" is not a plugin name: use lower-case letters, digits, "_" and "-", starting with a letter or digit.`,
		`policy.hcl:13:8: Invalid plugin name: "" is not a plugin name: use lower-case letters, digits, "_" and "-", starting with a letter or digit.`,
		`policy.hcl:16:8: Missing name for plugin: All plugin blocks must have 1 labels (name).`,
	}},
	{"upstream data timeout warning", okListen + `upstream {
  address      = "127.0.0.1:10025"
  data_timeout = "100s"
}
`, []string{
		`policy.hcl:5:3: ` + openRelay,
		`policy.hcl:6:3: warning: Upstream data timeout too long: data_timeout must be below Postfix's smtpd_proxy_timeout of 100s (Postfix would give up on Sluice before the downstream answers).`,
	}},
	{"line length below RFC minimum", `listen {
  address         = "127.0.0.1:2525"
  max_line_length = 999
  max_recipients  = 2.5
}
` + okUpstream, []string{
		`policy.hcl:3:3: Value out of range: max_line_length must be at least 1000, not 999.`,
		`policy.hcl:4:3: Invalid value: max_recipients must be a whole number, not 2.5.`,
	}},
	{"session limits", `listen {
  address            = "127.0.0.1:2525"
  junk_command_limit = 0
  hard_error_limit   = 1.5
}
` + okUpstream, []string{
		`policy.hcl:3:3: Value out of range: junk_command_limit must be at least 1, not 0.`,
		`policy.hcl:4:3: Invalid value: hard_error_limit must be a whole number, not 1.5.`,
	}},
	{"bad hostnames", `listen {
  address  = "127.0.0.1:2525"
  hostname = "mx_1.example.org"
}
upstream {
  address = "127.0.0.1:10025"
  helo    = "[IPv6:192.0.2.1]"
}
`, []string{
		`policy.hcl:3:3: Invalid hostname: "mx_1.example.org" is not a domain name or address literal (RFC 5321 §4.1.2).`,
		`policy.hcl:6:3: ` + openRelay,
		`policy.hcl:7:3: Invalid hostname: "[IPv6:192.0.2.1]" is not a domain name or address literal (RFC 5321 §4.1.2).`,
	}},
	{"functions", `listen {
  address  = env("SLUICE_TEST_UNSET", "127.0.0.1:2525", "x")
  hostname = shout("mx")
}
` + okUpstream, []string{
		`policy.hcl:2:58: Invalid function argument: Invalid value for "default" parameter: env takes a name and at most one default value.`,
		`policy.hcl:3:14: Call to unknown function: There is no function named "shout".`,
	}},
	{"locals cycle", `locals {
  a = local.b
  b = local.a
  c = local.nope
}
` + okBoth, []string{
		`policy.hcl:2:3: Cycle in local values: The local value "a" is part of, or depends on, a cycle of local values.`,
		`policy.hcl:3:3: Cycle in local values: The local value "b" is part of, or depends on, a cycle of local values.`,
		`policy.hcl:4:12: Unsupported attribute: This object does not have an attribute named "nope".`,
	}},
	{"config out of range", okBoth + `plugin "a" {
  wasm   = "a.wasm"
  config = { n = 1e999 }
  grants = "dns"
}
`, []string{
		`policy.hcl:9:3: Invalid plugin configuration: The configuration cannot be passed to the plugin as JSON: a number is beyond the range of a 64-bit float.`,
		`policy.hcl:10:3: Incorrect attribute value type: Inappropriate value for attribute "grants": list of string required, but have string.`,
	}},
	{"unknown grants", okBoth + `plugin "a" {
  wasm   = "a.wasm"
  grants = ["kv", "dns", "dkim:example", "smtp", "scan:spam", "scan:virus"]
}
scanner "virus" {
  clamd = "tcp://127.0.0.1:3310"
}
`, []string{
		`policy.hcl:9:3: Unknown DKIM key: grants[2] is "dkim:example", but no dkim_key block is named "example"; declare dkim_key "example" { domain, selector, private_key_file }.`,
		`policy.hcl:9:3: Unknown grant: grants[3] is "smtp", which is not a capability this Sluice can grant; known grants: "kv", "dns", "envelope", "dkim:NAME" for a dkim_key block and "scan:NAME" for a scanner block.`,
		`policy.hcl:9:3: Unknown scanner: grants[4] is "scan:spam", but no scanner block is named "spam"; declare scanner "spam" { rspamd = "http://127.0.0.1:11333" } (or clamd, spamd: see docs/scanners.md).`,
	}},
	{"dkim keys", okBoth + `dkim_key "main" {
  domain           = "example.org"
  selector         = "s1"
  private_key_file = "keys/main.pem"
}
dkim_key "main" {
  domain           = "localhost"
  selector         = "bad selector"
  private_key_file = "keys/other.pem"
}
dkim_key "Bad" {
  domain = "example.org"
}
kv {
  path          = "var/kv.db"
  save_interval = "0s"
}
plugin "a" {
  wasm   = "a.wasm"
  grants = ["dkim:main"]
}
`, []string{
		`policy.hcl:12:1: Duplicate DKIM key: A dkim_key named "main" is already declared at policy.hcl:7:1.`,
		`policy.hcl:13:3: Invalid DKIM domain: "localhost" is not a domain name (the d= of the signature, such as "example.org").`,
		`policy.hcl:14:3: Invalid DKIM selector: "bad selector" is not a selector: dot-separated labels of letters, digits and "-" (RFC 6376 §3.1).`,
		`policy.hcl:17:10: Invalid DKIM key name: "Bad" is not a key name: use lower-case letters, digits, "_" and "-", starting with a letter or digit.`,
		`policy.hcl:17:16: Missing required argument: The argument "selector" is required, but no definition was found.`,
		`policy.hcl:17:16: Missing required argument: The argument "private_key_file" is required, but no definition was found.`,
		`policy.hcl:22:3: Value out of range: save_interval must be greater than zero, not "0s".`,
	}},
	{"scanners", okBoth + `scanner "spam" {
  rspamd        = "http://127.0.0.1:11333"
  timeout       = "30s"
  max_size      = "25MiB"
  password_file = "secrets/rspamd.pw"
}
scanner "spam" {
  rspamd = "127.0.0.1:11333"
}
scanner "av" {
  clamd = "tcp://127.0.0.1"
  spamd = "tcp://127.0.0.1:783"
  password_file = "x"
}
scanner "none" {
  timeout  = "0s"
  max_size = 0
}
scanner "Bad" {
  clamd = "unix:run/clamd.ctl"
}
scanner "web" {
  rspamd   = "http://user:pw@127.0.0.1:11333/"
  max_size = "5GiB"
}
scanner "sa" {
  spamd   = "udp://127.0.0.1:783"
  timeout = "1h"
}
scanner "ok-unix" {
  clamd = "unix:/run/clamav/clamd.ctl"
}
`, []string{
		`policy.hcl:13:1: Duplicate scanner: A scanner named "spam" is already declared at policy.hcl:7:1.`,
		`policy.hcl:14:3: Invalid scanner address: rspamd = "127.0.0.1:11333": not an http:// URL of rspamd's normal worker (for example "http://127.0.0.1:11333")`,
		`policy.hcl:17:3: Invalid scanner address: clamd = "tcp://127.0.0.1": not tcp://host:port (for example "tcp://127.0.0.1:3310")`,
		`policy.hcl:18:3: Conflicting scanner engines: scanner "av" already names clamd at policy.hcl:17:3; a scanner block names exactly one engine (declare another scanner block for spamd).`,
		`policy.hcl:19:3: Unsupported argument: password_file is for rspamd; clamd has no password.`,
		`policy.hcl:21:1: Missing scanner engine: scanner "none" needs exactly one of rspamd = "http://127.0.0.1:11333", clamd = "tcp://127.0.0.1:3310" (or "unix:/run/clamav/clamd.ctl") or spamd = "tcp://127.0.0.1:783".`,
		`policy.hcl:22:3: Value out of range: timeout must be greater than zero, not "0s".`,
		`policy.hcl:23:3: Value out of range: max_size must be at least 1B, not 0B.`,
		`policy.hcl:25:9: Invalid scanner name: "Bad" is not a scanner name: use lower-case letters, digits, "_" and "-", starting with a letter or digit.`,
		`policy.hcl:26:3: Invalid scanner address: clamd = "unix:run/clamd.ctl": not unix:/absolute/path (for example "unix:/run/clamav/clamd.ctl")`,
		`policy.hcl:29:3: Invalid scanner address: rspamd = "http://user:pw@127.0.0.1:11333/": the URL must not hold a user, a query or a fragment (put the password in password_file)`,
		`policy.hcl:30:3: Value out of range: max_size must be at most 4GiB, not 5GiB.`,
		`policy.hcl:33:3: Invalid scanner address: spamd = "udp://127.0.0.1:783": use "tcp://host:port" or "unix:/path"`,
		`policy.hcl:34:3: Value out of range: timeout must be at most 10m0s, not "1h".`,
	}},
	{"bad resolver", okBoth + `resolver {
  servers = ["127.0.0.1"]
}
`, []string{
		`policy.hcl:8:3: Invalid resolver server: servers[0] is "127.0.0.1", which is not host:port (for example "127.0.0.1:53").`,
	}},
	{"grants with null", okBoth + `plugin "a" {
  wasm   = "a.wasm"
  grants = ["dns", null]
}
`, []string{
		`policy.hcl:9:3: Invalid value: grants[1] must be a string, not null.`,
	}},
	{"bad xforward peers", `listen {
  address        = "127.0.0.1:2525"
  xforward_peers = ["127.0.0.1/33", "localhost", "fe80::1%eth0", "10.1.2.3/8"]
}
` + okUpstream, []string{
		`policy.hcl:3:3: Invalid network: xforward_peers[0] is "127.0.0.1/33", not a network in CIDR notation (for example "127.0.0.1/32" or "::1/128").`,
		`policy.hcl:3:3: Invalid network: xforward_peers[1] is "localhost", not a network in CIDR notation (for example "127.0.0.1/32" or "::1/128").`,
		`policy.hcl:3:3: Invalid network: xforward_peers[2] is "fe80::1%eth0", not a network in CIDR notation (for example "127.0.0.1/32" or "::1/128").`,
		`policy.hcl:3:3: warning: Network has host bits set: xforward_peers[3] is "10.1.2.3/8", which is taken as the whole network 10.0.0.0/8.`,
	}},
	{"identity passing without SMTP", okListen + `upstream {
  maildir  = "var/mail"
  xclient  = true
  xforward = "yes"
}
`, []string{
		`policy.hcl:6:3: Identity passing needs an SMTP upstream: xclient passes the client's identity to a downstream SMTP server; a maildir upstream has none.`,
		`policy.hcl:7:3: Incorrect attribute value type: Inappropriate value for attribute "xforward": a bool is required.`,
	}},
	{"smtp upstream without client identity", okListen + `upstream {
  address = "127.0.0.1:10025"
}
`, []string{
		`policy.hcl:5:3: ` + openRelay,
	}},
	{"proxy-filter mode without xforward peers", okListen + `upstream {
  address  = "127.0.0.1:10025"
  xforward = true
}
`, []string{
		`policy.hcl:6:3: Proxy-filter mode without xforward_peers: xforward = true is Postfix's smtpd_proxy_filter mode, in which Sluice refuses (554 5.7.1) every client that is not one of listen { xforward_peers }, since XFORWARD does not change Postfix's relay decision; set xforward_peers to the address Postfix connects from, for example ["127.0.0.1/32"].`,
	}},
	{"identity passed: no warning", `listen {
  address        = "127.0.0.1:2525"
  xforward_peers = ["127.0.0.1/32"]
}
upstream {
  address  = "127.0.0.1:10025"
  xforward = true
}
upstream {
  address = "127.0.0.1:10026"
  xclient = true
}
`, []string{
		`policy.hcl:9:1: Duplicate upstream block: A policy has one upstream block; the first is at policy.hcl:5:1.`,
	}},
	{"proxy protocol without trusted peers", `listen {
  address        = "127.0.0.1:2525"
  proxy_protocol = true
}
` + okUpstream, []string{
		`policy.hcl:3:3: Missing proxy_trusted: proxy_protocol = true needs proxy_trusted, the networks of the load balancers that send the PROXY header (for example ["10.0.0.0/24"]); a header from anywhere else is refused.`,
	}},
	{"proxy protocol with empty trusted list", `listen {
  address        = "127.0.0.1:2525"
  proxy_protocol = true
  proxy_trusted  = []
}
` + okUpstream, []string{
		`policy.hcl:3:3: Missing proxy_trusted: proxy_protocol = true needs proxy_trusted, the networks of the load balancers that send the PROXY header (for example ["10.0.0.0/24"]); a header from anywhere else is refused.`,
	}},
	{"bad proxy trusted", `listen {
  address        = "127.0.0.1:2525"
  proxy_protocol = "on"
  proxy_trusted  = ["lb.example.org"]
}
` + okUpstream, []string{
		`policy.hcl:3:3: Incorrect attribute value type: Inappropriate value for attribute "proxy_protocol": a bool is required.`,
		`policy.hcl:4:3: Invalid network: proxy_trusted[0] is "lb.example.org", not a network in CIDR notation (for example "127.0.0.1/32" or "::1/128").`,
	}},
	{"proxy trusted without proxy protocol", `listen {
  address       = "127.0.0.1:2525"
  proxy_trusted = ["10.0.0.0/24"]
}
` + okUpstream, []string{
		`policy.hcl:3:3: warning: proxy_trusted without proxy_protocol: proxy_trusted is ignored unless proxy_protocol = true.`,
	}},
	{"upstream tls values", okListen + `upstream {
  address         = "127.0.0.1:10025"
  tls             = "yes"
  tls_server_name = "mx_1.example.org"
  tls_ca_file     = ""
}
`, []string{
		`policy.hcl:5:3: ` + openRelay,
		`policy.hcl:6:3: Invalid value: tls must be "none", "opportunistic" or "required", not "yes".`,
		`policy.hcl:7:3: Invalid server name: "mx_1.example.org" is not a domain name or IP address that a certificate could name.`,
		`policy.hcl:8:3: Invalid path: tls_ca_file must be a file path, not "".`,
	}},
	{"unused upstream tls settings", okListen + `upstream {
  address         = "127.0.0.1:10025"
  tls             = "opportunistic"
  tls_ca_file     = "ca.pem"
}
upstream {
  address         = "127.0.0.1:10026"
  tls_server_name = "mx.example.org"
}
`, []string{
		`policy.hcl:5:3: ` + openRelay,
		`policy.hcl:7:3: warning: Unused TLS setting: tls_ca_file is ignored with tls = "opportunistic": only tls = "required" verifies the certificate.`,
		`policy.hcl:9:1: Duplicate upstream block: A policy has one upstream block; the first is at policy.hcl:4:1.`,
	}},
	{"tls server name without tls", okListen + `upstream {
  address         = "127.0.0.1:10025"
  tls_server_name = "192.0.2.1"
}
`, []string{
		`policy.hcl:5:3: ` + openRelay,
		`policy.hcl:6:3: warning: Unused TLS setting: tls_server_name is ignored with tls = "none": no STARTTLS is sent.`,
	}},
	{"tls with maildir", okListen + `upstream {
  maildir         = "var/mail"
  tls             = "required"
  tls_server_name = "mx.example.org"
}
`, []string{
		`policy.hcl:6:3: STARTTLS needs an SMTP upstream: tls applies to the connection to a downstream SMTP server; a maildir upstream has none.`,
		`policy.hcl:7:3: STARTTLS needs an SMTP upstream: tls_server_name applies to the connection to a downstream SMTP server; a maildir upstream has none.`,
	}},
	{"syntax error", "listen {\n  address = \n}\n", []string{
		`policy.hcl:2:13: Invalid expression: Expected the start of an expression, but found an invalid expression token.`,
	}},
	{"many errors at once", `listen {
  address      = "127.0.0.1"
  data_timeout = "soon"
}
upstream {
}
plugin "a" {
  memory   = "lots"
  on_error = "explode"
}
`, []string{
		`policy.hcl:2:3: Invalid address: "127.0.0.1" is not host:port (for example "127.0.0.1:2525", "[::1]:25" or ":25" for every address).`,
		`policy.hcl:3:3: Invalid duration: "soon" is not a duration (use Go syntax like "200ms" or "5m")`,
		`policy.hcl:5:1: Missing upstream destination: Set address = "host:port" to forward to an SMTP server, or maildir = "path" to store mail in a local Maildir.`,
		`policy.hcl:7:1: Missing required argument: The argument "wasm" is required, but no definition was found.`,
		`policy.hcl:8:3: Invalid size: "lots" is not a size (use a number of bytes, or a string like "512KiB" or "25MiB")`,
		`policy.hcl:9:3: Invalid value: on_error must be "tempfail", "continue" or "reject", not "explode".`,
	}},
}
