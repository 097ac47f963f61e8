# Sluice's embedded default: what `make run` serves. No MTA needed: accepted
# mail is written to the Maildir var/mail at the top of the repository.
# Paths are relative to this file. `make run` creates the development DKIM
# key var/dkim/dev.pem on first start (sluice dkim-keygen) and prints the
# DNS record that would publish it.

listen {
  address  = "127.0.0.1:2525"
  hostname = "sluice.localhost"
}

upstream {
  maildir = "../var/mail"
}

# DNS for auth-results: the system's nameservers, with a short timeout so
# that a machine without DNS still delivers promptly (with temperror results).
resolver {
  timeout = "1s"
}

dkim_key "dev" {
  domain           = "sluice.localhost"
  selector         = "dev"
  private_key_file = "../var/dkim/dev.pem"
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

# SPF, DKIM and DMARC evaluated by the host, written as an RFC 8601
# Authentication-Results header and as auth.* tags. First in the data
# phase, so that it sees the message as the client sent it. DNS trouble
# must never hold mail back: on_error = "continue".
plugin "auth-results" {
  wasm     = "../bin/plugins/auth-results.wasm"
  grants   = ["dns"]
  timeout  = "5s"
  on_error = "continue"
  config = {
    authserv_id = "sluice.localhost"
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

# DKIM-sign last, after every rewrite. A development gateway signs every
# message with the dev key; in production drop sign_unmatched so only mail
# from your own domains is signed.
plugin "dkim-sign" {
  wasm    = "../bin/plugins/dkim-sign.wasm"
  timeout = "2s" # the host hashes the whole body: about 1.5 ms per MiB
  grants  = ["dkim:dev"]
  config = {
    sign_unmatched = "dev"
  }
}
