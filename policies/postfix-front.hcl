# MX-front mode (docs/DESIGN.md §1a): Sluice listens on port 25 and forwards to a
# Postfix smtpd on a loopback port.
#
#   client ──▶ sluice :25 ──▶ Postfix 127.0.0.1:10025 (see examples/postfix/)
#
# With xclient = true Sluice passes the real client's address, name and HELO
# to Postfix (XCLIENT), so Postfix's relay and access rules judge the real
# client. Postfix must list Sluice in smtpd_authorized_xclient_hosts; Sluice's
# address must NOT be in mynetworks. See examples/postfix/mx-front/.

listen {
  address          = "0.0.0.0:25"
  hostname         = env("HOSTNAME", "mx.example.org")
  max_message_size = "50MiB"
  max_recipients   = 1000
  command_timeout  = "5m"
  data_timeout     = "10m"
  max_connections  = 1000
  max_connections_per_ip = 20
}

upstream {
  address         = "127.0.0.1:10025"
  connect_timeout = "10s"
  command_timeout = "60s"
  data_timeout    = "90s"
  xclient         = true
}

plugin "access" {
  wasm     = "../bin/plugins/access.wasm"
  on_error = "tempfail"
  config = {
    deny_senders = ["*@spam.example"]
  }
}

plugin "tag" {
  wasm = "../bin/plugins/tag.wasm"
  config = {
    headers = { "X-Sluice" = "scanned" }
  }
}
