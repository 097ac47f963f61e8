# Sluice's embedded default: what `make run` serves. No MTA needed: accepted
# mail is written to the Maildir var/mail at the top of the repository.
# Paths are relative to this file.

listen {
  address  = "127.0.0.1:2525"
  hostname = "sluice.localhost"
}

upstream {
  maildir = "../var/mail"
}

# Sender and recipient deny lists: rejected at MAIL or RCPT.
plugin "access" {
  wasm = "../bin/plugins/access.wasm"
  config = {
    deny_senders    = ["*@spam.example"]
    deny_recipients = ["blocked@*"]
    code            = 550
    enhanced        = "5.7.1"
    message         = "Access denied by policy"
  }
}

# Tag every message.
plugin "tag" {
  wasm = "../bin/plugins/tag.wasm"
  config = {
    headers        = { "X-Sluice" = "scanned" }
    subject_prefix = ""
  }
}
