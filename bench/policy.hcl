# The benchmark's policy: the default plugin chain (access, tag), with
# connection caps raised because every load-generator session comes from
# 127.0.0.1. bench.sh replaces the upstream with smtp-sink.
listen {
  address                = "127.0.0.1:2626"
  hostname               = "sluice.bench"
  max_connections        = 2000
  max_connections_per_ip = 2000
}

upstream {
  address = "127.0.0.1:2625"
}

plugin "access" {
  wasm = "../bin/plugins/access.wasm"
  config = {
    deny_senders    = ["*@spam.example"]
    deny_recipients = ["blocked@*"]
  }
}

plugin "tag" {
  wasm = "../bin/plugins/tag.wasm"
  config = {
    headers = { "X-Sluice" = "scanned" }
  }
}
