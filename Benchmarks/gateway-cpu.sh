#!/usr/bin/env bash
# CPU per call of each process, over a steady 6 s window of each path of one gateway-load.sh round
# (direct to scheduling, then through the gateway): /proc CPU ÷ the BookMeeting and CancelMeeting
# calls scheduling's metrics counted in the window. The rounds' own "CPU seconds" include set-up,
# warm-up and the invariant check's reads; this does not.
#
#   Benchmarks/gateway-cpu.sh            (BIN as for gateway-load.sh; ports 27100–28103 free)
set -euo pipefail
log=$(mktemp /tmp/tandem-gateway-cpu.XXXXXX)
trap 'wait; rm -f "$log"' EXIT
ROUNDS=1 "$(dirname "$0")/gateway-load.sh" --concurrency 64 --duration 12 --warmup 2 >"$log" 2>&1 &
ticks() { if [[ -n $1 ]]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
calls() { curl -s http://127.0.0.1:28103/metrics | awk '/^tandem_rpc_calls_total/ && /scheduling\.(BookMeeting|CancelMeeting)"/ {s += $2} END {print s + 0}'; }
measure() {
    local scheduling gateway load
    scheduling=$(pgrep -f "tandem-scheduling --data-dir" | head -1)
    gateway=$(pgrep -f "tandem-gateway --data-dir" | head -1 || true)
    load=$(pgrep -f "tandem-load" | head -1)
    local s0 g0 l0 n0 s1 g1 l1 n1
    s0=$(ticks "$scheduling"); g0=$(ticks "$gateway"); l0=$(ticks "$load"); n0=$(calls)
    sleep 6
    s1=$(ticks "$scheduling"); g1=$(ticks "$gateway"); l1=$(ticks "$load"); n1=$(calls)
    awk -v path="$1" -v n=$((n1 - n0)) -v s=$((s1 - s0)) -v g=$((g1 - g0)) -v l=$((l1 - l0)) 'BEGIN {
        printf "%-8s %6d calls/s   CPU µs a call: scheduling %5.0f   tandem-load %4.0f", path, n / 6, s * 10000 / n, l * 10000 / n
        if (path == "gateway") printf "   gateway %4.0f", g * 10000 / n
        printf "\n" }'
}
until_line() { until grep -q "$1" "$log"; do sleep 1; done; sleep 5; }
until_line "direct to scheduling"; measure direct
until_line "through the gateway"; measure gateway
