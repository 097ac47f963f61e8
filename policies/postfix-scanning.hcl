# Content scanning in front of Postfix: rspamd (spam) and ClamAV (viruses)
# judge every message before Postfix sees it.
#
#   client ──▶ sluice :25 ──▶ Postfix 127.0.0.1:10025 (see examples/postfix/)
#                 │
#                 ├──▶ clamd  (unix:/run/clamav/clamd.ctl, INSTREAM)
#                 └──▶ rspamd (http://127.0.0.1:11333, /checkv2)
#
# The host speaks each scanner's protocol; the plugins decide what a result
# means (plugins/clamav/README.md, plugins/rspamd/README.md; setting up the
# engines: docs/scanners.md). A scanner that is down, times out or answers
# garbage defers the message with 451 4.7.1: mail never passes unscanned
# unless a plugin's config says on_error = "continue".
#
# Postfix must allow XCLIENT from Sluice (smtpd_authorized_xclient_hosts);
# see examples/postfix/mx-front/.

listen {
  address          = "0.0.0.0:25"
  hostname         = env("HOSTNAME", "mx.example.org")
  max_message_size = "50MiB"
}

upstream {
  address         = "127.0.0.1:10025"
  xclient         = true
  data_timeout    = "90s"
}

scanner "virus" {
  clamd    = "unix:/run/clamav/clamd.ctl"
  timeout  = "20s"
  max_size = "25MiB"   # clamd's StreamMaxLength in Debian's clamd.conf
}

scanner "spam" {
  rspamd   = "http://127.0.0.1:11333"
  timeout  = "20s"
}

# Viruses first: an infected message is refused without a spam scan.
plugin "clamav" {
  wasm    = "../bin/plugins/clamav.wasm"
  grants  = ["scan:virus"]
  timeout = "25s"
  config = {
    scanner = "virus"
    action  = "reject"     # or "quarantine"
  }
}

plugin "rspamd" {
  wasm    = "../bin/plugins/rspamd.wasm"
  grants  = ["scan:spam"]
  timeout = "25s"
  config = {
    scanner        = "spam"
    symbols_header = true
    greylist       = "tempfail"
  }
}
