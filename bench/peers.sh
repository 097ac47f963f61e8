#!/usr/bin/env bash
# peers.sh - Sluice beside its peers, in one run on this machine, printing
# every target of README "Performance" with its measured figure and ok/no.
# smtp-source -> SYSTEM -> smtp-sink on loopback for each of
#   sink         smtp-sink alone (the physical limit)
#   postfix-bq   a private Postfix instance, smtpd with smtpd_proxy_filter
#                straight to the sink: the before-queue proxy, no disk queue
#   passthrough  bench/passthrough, a naive go-smtp relay with pooled
#                upstream connections
#   haraka       Haraka (npm, installed under the work dir at run time) with
#                one header plugin and queue/smtp_forward to the sink, tuned
#                as below
#   sluice       bench/policy.hcl: the default chain (auth-results with DNS
#                from bench/dnsd, tag, ed25519 dkim-sign)
#   sluice-tag   the same binary with tag only: the proxy's own cost
# bench/peerload prints msgs/s and CPU ms per message of each system (its
# whole process tree, from /proc), medians of RUNS runs; then, for each
# Sluice, the ratios against the throughput and CPU targets (vs Postfix,
# vs Haraka, vs the pass-through); then, for the default chain, a table of
# the other targets:
#   - latency one session adds: bench/latency (LAT_N sessions of LAT_SIZE
#     bytes, connect to final reply) on the sink alone and through sluice,
#     after the load; p50 and p99 of the second minus those of the first
#   - a warm hook call: go test -bench, run here before any server starts,
#     best of 3: BenchmarkHookCall/bench (gateway/wasmhost, a pooled
#     hand-written WAT instance's on_data) and BenchmarkGoPluginRcpt
#     (gateway/e2e, the Go-built access plugin's rcpt hook)
#   - RSS after the load with IDLE_N idle sessions (bench/idle: greeting and
#     EHLO, then held): sluice's VmRSS once they are all up; no GOMEMLIMIT
#
# Haraka is tuned as its operator would tune it for this job:
#   - smtp.ini nodes=cpus: one worker per core (Haraka's Performance-Tuning
#     wiki; Sluice and Postfix use every core too)
#   - plugin bench_nodelay: TCP_NODELAY on the connections Haraka opens.
#     queue/smtp_forward writes the message to the sink a line at a time
#     and the final "." alone; with Nagle on, that last small write waits
#     for the ACK of the one before, which the sink delays (about 40 ms), so
#     untuned Haraka spends about 50 ms per message waiting (20 msg/s with
#     one session). Haraka 3.3.4 has no setting for it (smtp_forward.ini,
#     smtp.ini and outbound.ini have none; its socket wrapper ignores
#     setNoDelay), so the plugin sets it on the socket its connect returns.
#   - plugin bench_rdns: the reverse lookup of 127.0.0.1 answered without
#     DNS; log level warn.
# With those, one session relays a 1 KiB message in about 4 ms.
#
# Usage: bench/peers.sh   (after `make build`; `make bench-peers` does both)
# Knobs: SIZES ("1024 10240 102400"), CONCS ("1 20"), RUNS (3), MSGS (2000
#        per run), RUN_TIMEOUT (120s per run), HARAKA (1; 0 skips it),
#        HARAKA_VERSION (3.3.4), PEERS_WORK (var/bench-peers: keeps the npm
#        install between runs), PORT_BASE (2700: ports 2725-2730, DNS 2753),
#        NOISY (0.3: cores other processes may use during a run before it is
#        noisy), RETRIES (1: noisy runs repeated, the quietest kept),
#        LAT_N (500), LAT_SIZE (10240), IDLE_N (1000), HOOK_BENCHTIME
#        (200000x: calls per benchmark run)
# Every run is bounded in messages and time; everything started here is
# stopped by PID at exit. Needs root (the Postfix instance).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES=${SIZES:-"1024 10240 102400"}
CONCS=${CONCS:-"1 20"}
RUN_COUNT=${RUNS:-3}
MSGS=${MSGS:-2000}
RUN_TIMEOUT=${RUN_TIMEOUT:-120s}
HARAKA=${HARAKA:-1}
HARAKA_VERSION=${HARAKA_VERSION:-3.3.4}
PEERS_WORK=${PEERS_WORK:-var/bench-peers}
BASE=${PORT_BASE:-2700}
SINK=$((BASE + 25)) POSTFIX=$((BASE + 26)) PASS=$((BASE + 27)) HARAKA_PORT=$((BASE + 28))
SLUICE=$((BASE + 29)) SLUICE_TAG=$((BASE + 30)) DNS=$((BASE + 53))
export PATH=$PATH:/usr/sbin

need() { command -v "$1" >/dev/null || { echo "peers: $1 missing ($2)" >&2; exit 1; }; }
need smtp-source "Debian package postfix; make deps"
need smtp-sink "Debian package postfix; make deps"
need postfix "Debian package postfix; make deps"
[ "$HARAKA" = 0 ] || need npm "Debian package npm, or HARAKA=0"
[ "$(id -u)" = 0 ] || { echo "peers: the Postfix instance needs root" >&2; exit 1; }
[ -x bin/sluice ] && [ -f bin/plugins/tag.wasm ] || { echo "peers: run make build first" >&2; exit 1; }

mkdir -p "$PEERS_WORK"
PEERS_WORK=$(cd "$PEERS_WORK" && pwd)
# Postfix runs as its own user: its run dir must not sit under a private
# directory such as var/ (0700), so it lives in the system temp dir.
RUN=$(mktemp -d -t sluice-peers.XXXXXX)
chmod 755 "$RUN"
PIDS=()
PFX=$RUN/postfix
cleanup() {
  set +e
  if [ -f "$PFX/spool/pid/master.pid" ]; then
    local master
    master=$(tr -d ' ' < "$PFX/spool/pid/master.pid")
    timeout 20 postfix -c "$PFX/conf" stop >/dev/null 2>&1
    for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$master" 2>/dev/null
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "peers: port $1 not up" >&2; return 1; }

go build -o "$RUN/dnsd" ./bench/dnsd
go build -o "$RUN/passthrough" ./bench/passthrough
go build -o "$RUN/peerload" ./bench/peerload
go build -o "$RUN/latency" ./bench/latency
go build -o "$RUN/idle" ./bench/idle
./bin/sluice dkim-keygen --if-missing --algorithm ed25519 --domain example.com --selector bench --out var/dkim/bench.pem >/dev/null

# Haraka, from npm, into the work dir (kept: the next run reuses it).
if [ "$HARAKA" != 0 ] && [ ! -x "$PEERS_WORK/haraka-$HARAKA_VERSION/node_modules/.bin/haraka" ]; then
  mkdir -p "$PEERS_WORK/haraka-$HARAKA_VERSION"
  (cd "$PEERS_WORK/haraka-$HARAKA_VERSION" && npm init -y >/dev/null &&
    timeout 600 npm install --no-audit --no-fund --loglevel error "Haraka@$HARAKA_VERSION" >/dev/null)
fi

# The warm hook call, before anything else runs; a failure becomes a "not
# measured" row.
hook_bench() {
  timeout 600 go test -run '^$' -bench "$1" -benchtime "${HOOK_BENCHTIME:-200000x}" -count 3 "$2" >> "$RUN/hook.txt" 2>&1 ||
    { echo "peers: hook benchmark $1 failed:" >&2; tail -5 "$RUN/hook.txt" >&2; }
}
echo "peers: hook call benchmarks" >&2
hook_bench '^BenchmarkHookCall$/^bench$' ./gateway/wasmhost
hook_bench '^BenchmarkGoPluginRcpt$' ./gateway/e2e

# The sink, and DNS for the default chain.
smtp-sink -c -u nobody 127.0.0.1:$SINK 1024 > "$RUN/sink.out" 2>&1 & SINK_PID=$!; PIDS+=($SINK_PID)
"$RUN/dnsd" -listen 127.0.0.1:$DNS -zone bench/bench.zone > "$RUN/dnsd.log" 2>&1 & PIDS+=($!)
wait_port $SINK

# Postfix: a private instance (own config and queue dir, no chroot), whose
# only listener is smtpd proxying each transaction to the sink before it
# replies to the end of data.
mkdir -p "$PFX/conf" "$PFX/spool" "$PFX/data"
chown postfix "$PFX/data"
cat > "$PFX/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PFX/spool
data_directory = $PFX/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
maillog_file = $PFX/maillog
maillog_file_prefixes = $PFX
CF
# Debian's master.cf without its smtp listener, chroot off (the queue dir is
# not a chroot), plus ours.
awk '/^[^ \t#]/ { skip = ($1 == "smtp" && $2 == "inet") }
     skip { next }
     /^[^ \t#]/ && NF >= 8 && $5 == "y" { $5 = "n" }
     { print }' /etc/postfix/master.cf > "$PFX/conf/master.cf"
echo "127.0.0.1:$POSTFIX inet n - n - - smtpd -o smtpd_proxy_filter=127.0.0.1:$SINK" >> "$PFX/conf/master.cf"
postfix -c "$PFX/conf" check
postfix -c "$PFX/conf" start >"$RUN/postfix-start.log" 2>&1 || { cat "$RUN/postfix-start.log" "$PFX/maillog" >&2 2>/dev/null; exit 1; }
wait_port $POSTFIX
POSTFIX_PID=$(tr -d ' ' < "$PFX/spool/pid/master.pid")

"$RUN/passthrough" -listen 127.0.0.1:$PASS -upstream 127.0.0.1:$SINK > "$RUN/passthrough.log" 2>&1 & PASS_PID=$!; PIDS+=($PASS_PID)

if [ "$HARAKA" != 0 ]; then
  H=$PEERS_WORK/haraka-$HARAKA_VERSION
  HC=$RUN/haraka
  "$H/node_modules/.bin/haraka" -i "$HC" >/dev/null
  printf 'bench_nodelay\nbench_rdns\nrelay\nbench_header\nqueue/smtp_forward\n' > "$HC/config/plugins"
  printf 'listen=127.0.0.1:%s\nnodes=cpus\n' $HARAKA_PORT > "$HC/config/smtp.ini"
  printf '[relay]\nacl=true\n' > "$HC/config/relay.ini"
  echo 127.0.0.0/8 > "$HC/config/relay_acl_allow"
  printf 'host=127.0.0.1\nport=%s\nenable_outbound=true\n' $SINK > "$HC/config/smtp_forward.ini"
  printf '[main]\nlevel=warn\n' > "$HC/config/log.ini"
  echo haraka.bench > "$HC/config/me"
  mkdir -p "$HC/plugins"
  # The one header, as Sluice's tag adds it.
  cat > "$HC/plugins/bench_header.js" <<'JS'
exports.hook_data_post = (next, connection) => {
  connection.transaction.add_header('X-Sluice', 'scanned')
  next()
}
JS
  # TCP_NODELAY on every connection Haraka opens (see the top of this file).
  cat > "$HC/plugins/bench_nodelay.js" <<'JS'
exports.register = function () {
  const tls_socket = this.haraka_require('tls_socket')
  const connect = tls_socket.connect
  tls_socket.connect = (options) => {
    const socket = connect(options)
    socket.targetsocket.setNoDelay(true)
    return socket
  }
}
JS
  # Every client is 127.0.0.1: answer Haraka's reverse lookup without DNS.
  cat > "$HC/plugins/bench_rdns.js" <<'JS'
exports.hook_lookup_rdns = (next) => next(OK, 'localhost')
JS
  "$H/node_modules/.bin/haraka" -c "$HC" > "$RUN/haraka.log" 2>&1 & HARAKA_PID=$!; PIDS+=($HARAKA_PID)
  wait_port $HARAKA_PORT
fi

# Sluice: the benchmark's policy (paths made absolute, its DNS on our port),
# and tag alone.
sed -e "s#\"\.\./#\"$ROOT/#g" -e "s#127\.0\.0\.1:5399#127.0.0.1:$DNS#" bench/policy.hcl > "$RUN/policy.hcl"
cat > "$RUN/tag.hcl" <<HCL
listen {
  address                = "127.0.0.1:$SLUICE_TAG"
  hostname               = "sluice.bench"
  max_connections        = 2000
  max_connections_per_ip = 2000
}
upstream {
  address = "127.0.0.1:$SINK"
}
plugin "tag" {
  wasm   = "$ROOT/bin/plugins/tag.wasm"
  config = { headers = { "X-Sluice" = "scanned" } }
}
HCL
# No GOMEMLIMIT: the memory target is without one.
env -u GOMEMLIMIT ./bin/sluice serve --policy "$RUN/policy.hcl" --listen 127.0.0.1:$SLUICE --upstream 127.0.0.1:$SINK \
  --watch=false --log-level error > "$RUN/sluice.log" 2>&1 & SLUICE_PID=$!; PIDS+=($SLUICE_PID)
env -u GOMEMLIMIT ./bin/sluice serve --policy "$RUN/tag.hcl" --watch=false --log-level error > "$RUN/sluice-tag.log" 2>&1 & SLUICE_TAG_PID=$!; PIDS+=($SLUICE_TAG_PID)
wait_port $SLUICE
wait_port $SLUICE_TAG

SYSTEMS=(-system "sink,127.0.0.1:$SINK,$SINK_PID"
         -system "postfix-bq,127.0.0.1:$POSTFIX,$POSTFIX_PID"
         -system "passthrough,127.0.0.1:$PASS,$PASS_PID")
[ "$HARAKA" = 0 ] || SYSTEMS+=(-system "haraka,127.0.0.1:$HARAKA_PORT,$HARAKA_PID")
SYSTEMS+=(-system "sluice,127.0.0.1:$SLUICE,$SLUICE_PID" -system "sluice-tag,127.0.0.1:$SLUICE_TAG,$SLUICE_TAG_PID")

echo "peers: $(nproc) CPUs, $(uname -r); Postfix $(postconf -d -h mail_version)${HARAKA_PID:+, Haraka $HARAKA_VERSION}, node $(node --version 2>/dev/null || echo -)"
# In the background so that a signal to this script reaches the trap (which
# stops it first) while it runs.
"$RUN/peerload" -sink-out "$RUN/sink.out" -sizes "$SIZES" -concs "$CONCS" -runs "$RUN_COUNT" -msgs "$MSGS" \
  -timeout "$RUN_TIMEOUT" -noisy "${NOISY:-0.3}" -retries "${RETRIES:-1}" \
  -latency "$RUN/latency" -latency-n "${LAT_N:-500}" -latency-size "${LAT_SIZE:-10240}" \
  -idle "$RUN/idle" -idle-n "${IDLE_N:-1000}" -hook-bench "$RUN/hook.txt" "${SYSTEMS[@]}" & LOAD_PID=$!
PIDS=($LOAD_PID "${PIDS[@]}")
wait $LOAD_PID
for l in sluice sluice-tag; do
  if grep -q 'level=ERROR' "$RUN/$l.log"; then echo "$l logged errors:" >&2; grep 'level=ERROR' "$RUN/$l.log" | head -5 >&2; fi
done
