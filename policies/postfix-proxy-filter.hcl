# Postfix before-queue content filter mode (docs/DESIGN.md §1b, Postfix
# SMTPD_PROXY_README):
#
#   client ──▶ Postfix :25 ──smtpd_proxy_filter──▶ sluice 127.0.0.1:10024 ──▶ Postfix 127.0.0.1:10025
#
# Postfix waits smtpd_proxy_timeout (100s by default) for our end-of-data
# reply, so plugin time plus upstream data_timeout must stay well below it.
# Postfix sends the original client's identity with XFORWARD; Sluice accepts
# it only from xforward_peers, shows it to plugins and passes it on, so the
# after-filter smtpd logs the real client. See examples/postfix/proxy-filter/.

listen {
  address          = "127.0.0.1:10024"
  hostname         = env("HOSTNAME", "mx.example.org")
  max_message_size = "50MiB"
  command_timeout  = "100s"
  data_timeout     = "100s"
  # Every connection comes from Postfix.
  max_connections_per_ip = 1000
  xforward_peers   = ["127.0.0.1/32"]
}

upstream {
  address         = "127.0.0.1:10025"
  connect_timeout = "5s"
  command_timeout = "30s"
  data_timeout    = "80s"
  xforward        = true
}

plugin "access" {
  wasm = "../bin/plugins/access.wasm"
  config = {
    deny_senders = ["*@spam.example"]
  }
}

plugin "tag" {
  wasm    = "../bin/plugins/tag.wasm"
  timeout = "500ms"
  config = {
    headers = { "X-Sluice" = "scanned" }
  }
}
