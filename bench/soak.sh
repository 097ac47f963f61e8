#!/usr/bin/env bash
# soak.sh - smtp-source -> sluice -> smtp-sink for a fixed time, sampling
# Sluice's RSS (docs/DESIGN.md §6: memory flat under a 10-minute soak).
# Usage: bench/soak.sh   (after `make build`)   Knobs: SECONDS_TOTAL (600),
#        CONC (20), SIZE (10240), SAMPLE (30 s), POLICY (bench/policy.hcl)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${SECONDS_TOTAL:-600}
CONC=${CONC:-20}
SIZE=${SIZE:-10240}
SAMPLE=${SAMPLE:-30}
POLICY=${POLICY:-bench/policy.hcl}
export PATH=$PATH:/usr/sbin
WORK=$(mktemp -d)
SINK_PORT=${SINK_PORT:-2635}
SLUICE_PORT=${SLUICE_PORT:-2636}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
go build -o "$WORK/dnsd" ./bench/dnsd   # bench/policy.hcl's resolver
"$WORK/dnsd" -listen 127.0.0.1:5399 -zone bench/bench.zone > "$WORK/dnsd.log" 2>&1 & PIDS+=($!)
./bin/sluice dkim-keygen --if-missing --algorithm ed25519 --domain example.com --selector bench --out var/dkim/bench.pem >/dev/null
smtp-sink -c -u nobody 127.0.0.1:$SINK_PORT 1024 > "$WORK/sink.out" 2>&1 & PIDS+=($!)
wait_port $SINK_PORT
./bin/sluice serve --policy "$POLICY" --listen 127.0.0.1:$SLUICE_PORT --upstream 127.0.0.1:$SINK_PORT \
  --log-level error > "$WORK/sluice.log" 2>&1 & SLUICE=$!; PIDS+=($SLUICE)
wait_port $SLUICE_PORT
rss() { awk '/^VmRSS/ {print int($2/1024)}' /proc/$SLUICE/status; }
end=$(( $(date +%s) + SECONDS_TOTAL ))
( while [ "$(date +%s)" -lt "$end" ]; do
    smtp-source -s "$CONC" -m 20000 -l "$SIZE" -f a@example.com -t b@example.net 127.0.0.1:$SLUICE_PORT >/dev/null 2>>"$WORK/src.err" || exit 1
  done ) & LOAD=$!; PIDS+=($LOAD)
echo "| elapsed s | sluice RSS MiB |"
echo "|---|---|"
start=$(date +%s)
while [ "$(date +%s)" -lt "$end" ]; do
  echo "| $(( $(date +%s) - start )) | $(rss) |"
  sleep "$SAMPLE"
done
wait $LOAD 2>/dev/null || true
echo "| $(( $(date +%s) - start )) | $(rss) |"
sent=$(tr '\r' '\n' < "$WORK/sink.out" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2)
echo "messages delivered to the sink: ${sent:-0}"
[ -s "$WORK/src.err" ] && { echo "smtp-source errors:"; sort "$WORK/src.err" | uniq -c | head -5; }
true
