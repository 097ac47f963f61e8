# Sluice as Postfix's before-queue content filter
# (examples/postfix/proxy-filter).
#
# Postfix's public smtpd connects here for every transaction and sends
# XFORWARD with its client's identity, which plugins then see; Sluice
# forwards to Postfix's after-filter listener with XFORWARD, so that Postfix
# logs the real client.
#
# The environment variables only make the example testable; write the values
# in directly if you prefer.

listen {
  address        = env("SLUICE_LISTEN", "127.0.0.1:10024")
  hostname       = env("SLUICE_HOSTNAME", "filter.example.org")
  # Only Postfix may say who the client is.
  xforward_peers = ["127.0.0.1/32"]
  # Every connection comes from Postfix's address: the per-address cap must
  # not be lower than Postfix's smtpd process limit (default 100).
  max_connections_per_ip = 1000
}

upstream {
  address  = env("SLUICE_UPSTREAM", "127.0.0.1:10025")
  xforward = true
}

plugin "tag" {
  wasm   = "${env("SLUICE_PLUGINS", "/usr/local/lib/sluice/plugins")}/tag.wasm"
  config = { headers = { "X-Sluice" = "checked" } }
}
