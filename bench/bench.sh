#!/usr/bin/env bash
# bench.sh - smtp-source -> sluice -> smtp-sink against smtp-source -> smtp-sink,
# side by side in one run, on loopback (docs/DESIGN.md §6). Prints msgs/s, Sluice's CPU
# ms per message and the ratio to the sink alone.
#
# Usage: bench/bench.sh            (after `make build`; `make bench` does both)
# Knobs: SIZES (bytes, "1024 10240 102400"), CONCS ("1 20 100"), MSGS (2000),
#        POLICY (bench/policy.hcl; its upstream is replaced by the sink)
#        SLUICE_ARGS (more `sluice serve` flags, e.g. "--admin 127.0.0.1:2627"
#        to measure the console's recorder, docs/console.md)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1024 10240 102400"}
CONCS=${CONCS:-"1 20 100"}
MSGS=${MSGS:-2000}
POLICY=${POLICY:-bench/policy.hcl}
for t in smtp-source smtp-sink; do
  command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "bench: $t missing (Debian package postfix; run make deps)" >&2; exit 1; }
done
export PATH=$PATH:/usr/sbin
WORK=$(mktemp -d)
SINK_PORT=${SINK_PORT:-2625}
SLUICE_PORT=${SLUICE_PORT:-2626}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; return 1; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }
HZ=$(getconf CLK_TCK)

# DNS answered locally (docs/DESIGN.md §6) and the chain's DKIM key.
go build -o "$WORK/dnsd" ./bench/dnsd
"$WORK/dnsd" -listen 127.0.0.1:5399 -zone bench/bench.zone > "$WORK/dnsd.log" 2>&1 & PIDS+=($!)
./bin/sluice dkim-keygen --if-missing --algorithm ed25519 --domain example.com --selector bench --out var/dkim/bench.pem >/dev/null

smtp-sink -c -u nobody 127.0.0.1:$SINK_PORT 1024 > "$WORK/sink.out" 2>&1 & PIDS+=($!)
wait_port $SINK_PORT
./bin/sluice serve --policy "$POLICY" --listen 127.0.0.1:$SLUICE_PORT --upstream 127.0.0.1:$SINK_PORT \
  --log-level error ${SLUICE_ARGS:-} > "$WORK/sluice.log" 2>&1 & SLUICE=$!; PIDS+=($SLUICE)
wait_port $SLUICE_PORT

# run PORT SIZE CONC N -> "seconds"
run() {
  local t0 t1
  t0=$(date +%s.%N)
  smtp-source -s "$3" -m "$4" -l "$2" -f sender@example.com -t rcpt@example.net -M bench.localdomain 127.0.0.1:$1 >/dev/null 2>"$WORK/src.err" \
    || { echo "smtp-source failed: $(cat "$WORK/src.err")" >&2; return 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}' 
}

printf '| size | conc | sink alone msg/s | via sluice msg/s | ratio | sluice CPU ms/msg |\n|---|---|---|---|---|---|\n'
for size in $SIZES; do
  for conc in $CONCS; do
    n=$MSGS
    run $SINK_PORT "$size" "$conc" 200 >/dev/null; run $SLUICE_PORT "$size" "$conc" 200 >/dev/null   # warm up
    direct=$(run $SINK_PORT "$size" "$conc" "$n")
    c0=$(cpu_ticks $SLUICE)
    via=$(run $SLUICE_PORT "$size" "$conc" "$n")
    c1=$(cpu_ticks $SLUICE)
    awk -v s="$size" -v c="$conc" -v n="$n" -v d="$direct" -v v="$via" -v c0="$c0" -v c1="$c1" -v hz="$HZ" \
      'BEGIN{printf "| %d KiB | %d | %.0f | %.0f | %.2f | %.3f |\n", s/1024, c, n/d, n/v, d/v, (c1-c0)*1000/hz/n}' 
  done
done
# Single-session latency, connect to final reply (docs/DESIGN.md §6: < 1 ms added at p50).
go build -o "$WORK/latency" ./bench/latency
echo
echo "single-session latency, 10 KiB, ${LAT_N:-500} messages each:"
echo "  sink alone:   $("$WORK/latency" -addr 127.0.0.1:$SINK_PORT -n "${LAT_N:-500}" -size 10240)"
echo "  via sluice:   $("$WORK/latency" -addr 127.0.0.1:$SLUICE_PORT -n "${LAT_N:-500}" -size 10240)"
# Memory with 1,000 idle sessions (docs/DESIGN.md §6: under 200 MiB).
go build -o "$WORK/idle" ./bench/idle
rss() { awk '/^VmRSS/ {print $2}' /proc/$SLUICE/status; }
rss0=$(rss)
"$WORK/idle" -addr 127.0.0.1:$SLUICE_PORT -n "${IDLE_N:-1000}" -hold 4s > "$WORK/idle.out" &
IDLE=$!
for _ in $(seq 200); do grep -q '^up' "$WORK/idle.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
rss1=$(rss)
wait $IDLE || true
echo
echo "memory: sluice RSS $((rss0 / 1024)) MiB before, $((rss1 / 1024)) MiB with ${IDLE_N:-1000} idle sessions"
if grep -q 'level=ERROR' "$WORK/sluice.log"; then echo "sluice logged errors:" >&2; grep 'level=ERROR' "$WORK/sluice.log" | head -5 >&2; fi
