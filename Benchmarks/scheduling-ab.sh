#!/usr/bin/env bash
# Compares two builds of the scheduling service under the same load, alternating which runs first
# in each round (the database grows and a VM's speed drifts, so one run after the other is not a
# fair comparison). Each directory holds tandem, tandem-identity, tandem-load and tandem-scheduling.
#
#   Benchmarks/scheduling-ab.sh ROUNDS DIR_A DIR_B [tandem-load options…]
#   e.g. Benchmarks/scheduling-ab.sh 3 /tmp/before .build/release --concurrency 64 --connections 1 --duration 20 --warmup 2
#
# Prints one line per run: durable bookings/s, the booking p99, calls/s, the p99 of all calls,
# scheduling's CPU time per measured call (set-up and verification included) and whether the
# invariants passed.
set -euo pipefail
rounds=$1 first=$2 second=$3
shift 3
script="$(cd "$(dirname "$0")" && pwd)/scheduling-load.sh"
for round in $(seq 1 "$rounds"); do
    if (( round % 2 )); then order=("$first" "$second"); else order=("$second" "$first"); fi
    for dir in "${order[@]}"; do
        out=$(BIN="$(cd "$dir" && pwd)" "$script" "$@" 2>&1 | tr '\r' '\n') || true
        bookings=$(echo "$out" | awk '/^measured/ {for (i = 1; i <= NF; i++) if ($i == "bookings") print $(i - 1)}')
        p99=$(echo "$out" | awk '/^book / {print $9}')
        calls=$(echo "$out" | awk '/^measured/ {for (i = 1; i <= NF; i++) if ($i == "calls/s,") print $(i - 1)}')
        all99=$(echo "$out" | awk '/^all / {print $9}')
        total=$(echo "$out" | awk '/^measured/ {print $4}')
        cpu=$(echo "$out" | awk '/^scheduling CPU seconds/ {print $4}')
        perCall=$(awk -v c="${cpu:-0}" -v n="${total:-0}" 'BEGIN {if (n > 0) printf "%.0f", c * 1e6 / n; else print "?"}')
        verdict=$(echo "$out" | grep -o 'invariants: [A-Z]*' || echo "failed: $(echo "$out" | tail -3 | tr '\n' ' ')")
        echo "round $round  $dir  bookings/s ${bookings:-?}  p99 ${p99:-?} ms  calls/s ${calls:-?}  p99 of all ${all99:-?} ms  scheduling CPU ${perCall} µs/call  $verdict"
    done
done
