# Postfix before-queue content filter mode (SPEC §1b, Postfix
# SMTPD_PROXY_README):
#
#   client ──▶ Postfix :25 ──smtpd_proxy_filter──▶ sluice 127.0.0.1:10024 ──▶ Postfix 127.0.0.1:10025
#
# Postfix waits smtpd_proxy_timeout (100s by default) for our end-of-data
# reply, so plugin time plus upstream data_timeout must stay well below it.
# XFORWARD pass-through comes in a later release.

listen {
  address          = "127.0.0.1:10024"
  hostname         = env("HOSTNAME", "mx.example.org")
  max_message_size = "50MiB"
  command_timeout  = "100s"
  data_timeout     = "100s"
}

upstream {
  address         = "127.0.0.1:10025"
  connect_timeout = "5s"
  command_timeout = "30s"
  data_timeout    = "80s"
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
