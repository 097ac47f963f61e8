# Milter mode (README "Milter mode"): Postfix keeps port 25 and asks Sluice
# about every message over the milter protocol; Postfix delivers, so there
# is no listen or upstream block.
#
#   client ──▶ Postfix :25 ──milter──▶ sluice 127.0.0.1:11332
#
# Postfix's side is examples/postfix/milter/main.cf (smtpd_milters,
# non_smtpd_milters, milter_protocol = 6, milter_default_action = tempfail).

milter {
  address = env("SLUICE_MILTER", "127.0.0.1:11332")
}

plugin "access" {
  wasm     = "../bin/plugins/access.wasm"
  on_error = "tempfail"
  timeout  = "5s"
  config = {
    deny_recipients = ["blocked@*"]
    code            = 550
    enhanced        = "5.7.1"
    message         = "Recipient refused by policy"
  }
}

plugin "tag" {
  wasm    = "../bin/plugins/tag.wasm"
  timeout = "5s"
  config = {
    headers = { "X-Sluice" = "scanned" }
  }
}
