# A policy setting every attribute.
locals {
  domain = lower(env("SLUICE_TEST_DOMAIN", "Example.ORG"))
  mx     = "mx.${local.domain}"
}

listen {
  address                = "127.0.0.1:2525"
  hostname               = local.mx
  max_message_size       = "10MiB"
  max_recipients         = 500
  max_line_length        = 4096
  max_header_size        = 65536
  max_header_fields      = 2000
  command_timeout        = "2m"
  data_timeout           = "3m30s"
  max_connections        = 200
  max_connections_per_ip = 10
  bare_lf                = "reject"
  early_talker           = "ignore"
  greet_delay            = "1500ms"
  xforward_peers         = ["127.0.0.1/32", "::1", "10.20.0.0/16"]
  proxy_protocol         = true
  proxy_trusted          = ["10.30.0.0/24", "::1"]

  tls {
    cert_file   = "certs/mx.pem"
    key_file    = "/etc/sluice/mx.key"
    min_version = "1.3"
  }
}

upstream {
  address         = "[::1]:10025"
  helo            = format("sluice.%s", local.domain)
  connect_timeout = "5s"
  command_timeout = "30s"
  data_timeout    = "95s"
  xclient         = true
  xforward        = true
  tls             = "required"
  tls_ca_file     = "certs/downstream-ca.pem"
  tls_server_name = "postfix.${local.domain}"
}

plugin "tag" {
  wasm = "plugins/tag.wasm"
  config = {
    header = "X-Sluice"
    values = ["a", 1, 2.5, true, null]
    nested = { deep = { list = [{ n = 1000000 }] } }
  }
  timeout  = "50ms"
  memory   = "16MiB"
  on_error = "continue"
  grants   = ["kv"]
}

plugin "dkim-sign_2" {
  wasm     = "/opt/sluice/dkim.wasm"
  memory   = 2097152
  on_error = "reject"
  breaker_threshold   = 3
  breaker_window      = 20
  breaker_fault_rate  = 0.25
  breaker_backoff     = "2s"
  breaker_max_backoff = "30s"
}
