// Package policy decodes Sluice's HCL policy files into plain Go data.
//
// A policy says where to listen, where to forward, and which WebAssembly
// plugins run in which order with which configuration, limits and failure
// policy (docs/DESIGN.md §3). Decoding is strict: unknown blocks and attributes,
// wrong types and out-of-range values are reported as hcl.Diagnostics that
// point at the offending attribute (file:line:col). Decoding keeps going after
// an error so that one run reports every problem in the file.
//
// This package is plain data and validation. It does not read plugin or TLS
// files (paths are only resolved to absolute paths, relative to the policy
// file), compile WebAssembly or open sockets; the loader and `sluice check`
// do that, and report their problems against the ranges kept here with
// Error.
//
// # Language
//
//	locals {                                # optional; local.NAME in any expression
//	  domain = env("MAIL_DOMAIN", "example.org")
//	}
//	listen {                                # required, once
//	  address                = "127.0.0.1:2525"   # required; ":25" for every address
//	  hostname               = "mx.${local.domain}" # default: the machine's name
//	  max_message_size       = "25MiB"      # sizes: bytes, or "512KiB", "25MiB", "1GB"...
//	  max_recipients         = 1000
//	  max_line_length        = 2048         # at least 1000 (RFC 5321 §4.5.3.1.6)
//	  max_header_size        = "512KiB"
//	  max_header_fields      = 10000
//	  command_timeout        = "5m"         # durations: Go syntax
//	  data_timeout           = "10m"
//	  max_connections        = 1000
//	  max_connections_per_ip = 50
//	  bare_lf                = "normalize"  # or "reject"
//	  early_talker           = "reject"     # or "ignore"
//	  greet_delay            = "0s"
//	  xforward_peers         = ["127.0.0.1/32"] # may send XFORWARD (Postfix smtpd_proxy_filter)
//	  proxy_protocol         = false        # true: behind a load balancer that sends PROXY v1/v2
//	  # proxy_trusted        = ["10.0.0.0/24"] # the balancers; required with proxy_protocol
//	  tls {                                 # optional: offer STARTTLS
//	    cert_file   = "certs/mx.pem"        # required
//	    key_file    = "certs/mx.key"        # required
//	    min_version = "1.2"                 # or "1.3"
//	  }
//	}
//	upstream {                              # required, once
//	  address         = "127.0.0.1:10025"   # exactly one of address and maildir
//	  # maildir       = "var/mail"
//	  helo            = "sluice.example.org" # default: listen.hostname
//	  connect_timeout = "10s"
//	  command_timeout = "60s"
//	  data_timeout    = "90s"               # warning from 100s: Postfix's smtpd_proxy_timeout
//	  xclient         = true                # MX front: pass the client with XCLIENT, or fail
//	  xforward        = false               # behind smtpd_proxy_filter: pass it with XFORWARD
//	                                        # (then only listen.xforward_peers may connect)
//	                                        # neither: warning, Postfix would see Sluice as the client
//	  tls             = "none"              # STARTTLS: "none", "opportunistic" or "required"
//	  # tls_ca_file     = "certs/ca.pem"    # "required" verifies with these CAs; default: the system's
//	  # tls_server_name = "mx.example.org"  # the name to verify, and SNI; default: address's host
//	}
//	plugin "tag" {                          # any number, run in this order
//	  wasm     = "plugins/tag.wasm"         # required
//	  config   = { header = "X-Tag" }       # any value, handed to the plugin as JSON
//	  timeout  = "200ms"                    # per call, at most 30s
//	  init_timeout = "10s"                  # start-up at load (_initialize, sluice_configure), at most 1m
//	  memory   = "64MiB"                    # 1MiB to 4GiB
//	  on_error = "tempfail"                 # or "continue", "reject"
//	  kv_quota = "64MiB"                    # key/value bytes with grant "kv", 64KiB to 64GiB
//	  grants   = ["kv"]                     # capabilities (sdk/ABI.md §4.6, §4.8-4.12): "kv", "dns", "envelope", "dkim:NAME", "scan:NAME"
//	}
//	resolver {                              # optional, once: DNS for the "dns" grant
//	  servers = ["127.0.0.1:53"]            # default: /etc/resolv.conf
//	  timeout = "2s"                        # per query, at most 30s
//	}
//	dkim_key "main" {                       # any number: keys for the "dkim:NAME" grant
//	  domain           = "example.org"      # d=
//	  selector         = "2026a"            # s=
//	  private_key_file = "dkim/2026a.pem"   # PKCS#8 or PKCS#1 PEM, ed25519 or RSA; read by the loader
//	}
//	scanner "spam" {                        # any number: content scanners (docs/scanners.md)
//	  rspamd   = "http://127.0.0.1:11333"   # exactly one of: rspamd (normal worker, /checkv2),
//	                                        #   clamd = "tcp://127.0.0.1:3310" or "unix:/run/clamav/clamd.ctl",
//	                                        #   spamd = "tcp://127.0.0.1:783"
//	  timeout  = "30s"                      # per scan, at most 10m; the hook's deadline may cut it
//	  max_size = "25MiB"                    # larger messages are not sent: "skipped: too large"
//	  password_file = "secrets/rspamd.pw"   # rspamd only: its Password header; read by the loader
//	}
//	kv {                                    # optional, once: keep the "kv" store on disk
//	  path          = "var/kv.db"           # read at start-up; a reload does not move it
//	  save_interval = "30s"
//	}
//	# or, shared by several gateways (instead of path):
//	#   redis = "redis://127.0.0.1:6379/0"  # rediss:// (TLS), unix:/path
//	#   password_file = "secrets/redis.pw"  # "PASSWORD" or "USER PASSWORD"
//	#   prefix = "sluice:"                  # keys are PREFIX<plugin>:<key>
//	#   timeout = "250ms"                   # per call; then TEMPERROR (sdk/ABI.md §4.8)
//
// # PROXY protocol
//
// Behind a TCP load balancer (HAProxy, an AWS NLB, ...) every connection
// comes from the balancer, so Sluice, its plugins and Postfix (through
// XCLIENT) would all see the balancer as the client. With proxy_protocol =
// true the balancer prefixes each connection with a PROXY protocol header,
// v1 (text) or v2 (binary), naming the real client, and that address is the
// client's from then on: in logs, in plugins' client.ip, in the per-IP
// connection limit and in XCLIENT ADDR. Only connections from proxy_trusted
// may send one, and must: a connection from any other address, or one whose
// header is missing, malformed or not complete within 5 seconds, is closed
// without a word (a client must not be able to claim an address). A LOCAL
// header (the balancer's own health check) keeps the balancer's address. On
// a listener without proxy_protocol, a PROXY line is an unknown command.
// The listener's settings take effect at start, not on reload.
//
// # STARTTLS toward the downstream
//
// upstream.tls follows Postfix's smtp_tls_security_level. "none" (the
// default) never sends STARTTLS: the downstream is normally Postfix on the
// same host or a trusted segment, where encryption costs a handshake per
// connection and protects nothing. "opportunistic" (Postfix's "may")
// sends STARTTLS when the downstream offers it, does not verify the
// certificate, and reconnects in plaintext if the handshake fails: it
// defeats passive eavesdropping only. "required" (Postfix's "secure")
// verifies the certificate against tls_ca_file, or the system's roots, for
// tls_server_name, or the host of address; if STARTTLS is not offered, is
// refused, or the handshake or verification fails, nothing is sent in
// plaintext and the client is answered 451 4.7.4 (STARTTLS not offered)
// or 451 4.7.5 (STARTTLS refused, or the handshake or the certificate
// failed), the codes Postfix uses, so that it retries later (RFC 3463
// §3.8). TLS connections are pooled like the others.
//
// Plugin names match [a-z0-9][a-z0-9_-]* and are unique. Expressions may
// call env(NAME) and env(NAME, DEFAULT) (an unset or empty variable gives
// DEFAULT, or ""), upper, lower, trimspace, format, join, concat and coalesce
// (the first argument neither null nor ""). An attribute set to null keeps
// its default.
package policy
