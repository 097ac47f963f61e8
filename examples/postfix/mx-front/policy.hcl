# Sluice as the MX in front of Postfix (examples/postfix/mx-front).
#
# Sluice listens on port 25, filters every phase, and forwards to Postfix on
# a loopback port, passing the real client with XCLIENT. Postfix must allow
# XCLIENT from Sluice (master.cf: smtpd_authorized_xclient_hosts); if it does
# not, Sluice answers 451 4.4.1 and logs what to fix rather than forward mail
# under its own address.
#
# The environment variables only make the example testable; write the values
# in directly if you prefer.

listen {
  address  = env("SLUICE_LISTEN", "0.0.0.0:25")
  hostname = env("SLUICE_HOSTNAME", "mx.example.org")
}

upstream {
  address = env("SLUICE_UPSTREAM", "127.0.0.1:10025")
  xclient = true
}

plugin "tag" {
  wasm   = "${env("SLUICE_PLUGINS", "/usr/local/lib/sluice/plugins")}/tag.wasm"
  config = { headers = { "X-Sluice" = "checked" } }
}
