# The benchmark's policy: docs/DESIGN.md §6's chain (Authentication-Results with DNS
# answered locally, tag, DKIM ed25519 signing), with connection caps raised
# because every load-generator session comes from 127.0.0.1. bench.sh
# replaces the upstream with smtp-sink, serves bench/bench.zone with
# bench/dnsd on 127.0.0.1:5399 and makes the key var/dkim/bench.pem.
listen {
  address                = "127.0.0.1:2626"
  hostname               = "sluice.bench"
  max_connections        = 2000
  max_connections_per_ip = 2000
}

upstream {
  address = "127.0.0.1:2625"
}

resolver {
  servers = ["127.0.0.1:5399"]
  timeout = "1s"
}

dkim_key "bench" {
  domain           = "example.com"
  selector         = "bench"
  private_key_file = "../var/dkim/bench.pem"
}

plugin "auth-results" {
  wasm     = "../bin/plugins/auth-results.wasm"
  grants   = ["dns"]
  timeout  = "5s"
  on_error = "continue"
  config = {
    authserv_id = "sluice.bench"
  }
}

plugin "tag" {
  wasm = "../bin/plugins/tag.wasm"
  config = {
    headers = { "X-Sluice" = "scanned" }
  }
}

plugin "dkim-sign" {
  wasm    = "../bin/plugins/dkim-sign.wasm"
  timeout = "2s" # the host hashes the whole body: about 1.5 ms per MiB
  grants  = ["dkim:bench"]
}
