#!/usr/bin/env bash
# BookMeeting through the gateway vs straight to scheduling, in one run: identity, scheduling and
# tandem-gateway (release builds, their own processes, mutual TLS behind the gateway, TLS in front),
# then tandem-load against scheduling directly and against the gateway with the same options.
#
#   Benchmarks/gateway-load.sh [tandem-load options…]     e.g. --concurrency 64 --duration 20
#
# Environment: BIN (default .build/release), WORK (default a new temporary directory), ROUNDS,
# PIN, GATEWAY_THREADS (below), TOGETHER=1: in each round the two paths run at the same time, each
# with the options given (two load generators), so that both meet scheduling in the same state —
# the same checkpoints, the same queue at the writer — and the difference between them is the
# gateway's own; one after the other, scheduling's p99 moves by more than the gateway adds.
set -euo pipefail
BIN=${BIN:-$(pwd)/.build/release}
. "$(dirname "$0")/lib/ports.sh"
WORK=${WORK:-$(mktemp -d /tmp/tandem-gateway-load.XXXXXX)}
mkdir -p "$WORK"
cd "$WORK"
cleanup() {
    for name in identity scheduling gateway; do [[ -f $name.pid ]] && kill "$(cat $name.pid)" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/tandem" certs init --dir certs >/dev/null
for name in identity scheduling gateway; do "$BIN/tandem" certs issue "$name" --dns localhost --ip 127.0.0.1 --dir certs >/dev/null; done
"$BIN/tandem" certs issue tandem-load --dir certs >/dev/null
TANDEM_ADMIN_PASSWORD='load test admin password' "$BIN/tandem-identity" bootstrap --data-dir data/identity \
    --organisation "Load Test" --slug load --admin-email admin@load.example --admin-name Admin >/dev/null
"$BIN/tandem-identity" service-account --data-dir data/identity --organisation load --name tandem-load --scope 'scheduling.*' \
    | awk '/^api-key/ {print $2}' > api-key

# PIN=1 gives the gateway a core of its own (CPU 1) and runs everything else on the other (CPU 0),
# as when the gateway has its own host: the direct and gateway runs then have the same CPU for
# scheduling and the load generator, and the comparison shows the gateway's own added latency
# rather than the CPU it takes from them on a shared machine.
pin() {
    local cpu=$1; shift
    if [[ "${PIN:-0}" == 1 ]]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}
start() {
    local name=$1; shift
    local cpu=0; [[ $name == gateway ]] && cpu=1
    (pin "$cpu" "$BIN/tandem-$name" --data-dir "data/$name" --certificate "certs/$name.pem" --key "certs/$name-key.pem" --ca certs/ca.pem \
        --log-level warning "$@") 2>"$name.log" &
    echo $! > "$name.pid"
}
wait_until_free 27100 27101 27103 28100 28101 28103
# Each service starts once those it calls answer: a first connection refused would put its client
# in back-off, and the first calls would fail UNAVAILABLE.
start identity --port 27101 --admin-port 28101
wait_for identity 27101
start scheduling --port 27103 --admin-port 28103 --identity 127.0.0.1:27101
wait_for scheduling 27103
start gateway --port 27100 --admin-port 28100 --identity 127.0.0.1:27101 --scheduling 127.0.0.1:27103 --matching 127.0.0.1:27102 --rate-limit 0 --max-concurrent-calls 10000 --event-loop-threads "${GATEWAY_THREADS:-0}"
wait_for gateway 27100

# The client certificate is for identity (the API-key exchange is mutual TLS); the gateway asks for none.
# CPU seconds a process has used (user + system), from /proc.
cpu() { awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$(cat "$1.pid")/stat"; }
common=(--identity 127.0.0.1:27101 --ca certs/ca.pem --certificate certs/tandem-load.pem --key certs/tandem-load-key.pem --api-key "$(cat api-key)" --quiet --json)
# ROUNDS (default 1) runs the pair ROUNDS times, so that a machine whose speed drifts (other work on
# its two cores) weighs on both alike; the summary compares each round and the medians.
rounds=${ROUNDS:-1}
direct() {
    echo "== round $1: direct to scheduling"
    local before; before=$(cpu scheduling)
    (pin 0 "$BIN/tandem-load" --endpoint 127.0.0.1:27103 "${setup[@]}" --operations-seed $((2 * $1 - 1)) "${common[@]}" "direct-$1.json" "${options[@]}")
    echo "CPU seconds during the run: scheduling $(awk "BEGIN {print $(cpu scheduling) - $before}")"
    setup=(--skip-setup)
}
gateway() {
    echo "== round $1: through the gateway"
    local before gbefore; before=$(cpu scheduling); gbefore=$(cpu gateway)
    (pin 0 "$BIN/tandem-load" --target gateway --endpoint 127.0.0.1:27100 "${setup[@]}" --operations-seed $((2 * $1)) "${common[@]}" "gateway-$1.json" "${options[@]}")
    echo "CPU seconds during the run: scheduling $(awk "BEGIN {print $(cpu scheduling) - $before}"), gateway $(awk "BEGIN {print $(cpu gateway) - $gbefore}")"
    setup=(--skip-setup)
}
# The first run sets the population up; every later one reuses it. Rounds alternate which path
# goes first (direct, gateway; gateway, direct; …), so the database growing run after run
# weighs on both alike.
options=("$@")
setup=()
if [[ "${TOGETHER:-0}" == 1 ]]; then
    # The population first (with a second of load, not reported), then both paths at once.
    (pin 0 "$BIN/tandem-load" --endpoint 127.0.0.1:27103 "${common[@]}" setup.json "${options[@]}" --duration 1 --warmup 0 --no-verify >/dev/null)
    setup=(--skip-setup)
    for round in $(seq 1 "$rounds"); do
        echo "== round $round: direct and through the gateway at the same time"
        before=$(cpu scheduling); gbefore=$(cpu gateway)
        (pin 0 "$BIN/tandem-load" --endpoint 127.0.0.1:27103 "${setup[@]}" --operations-seed $((2 * round - 1)) "${common[@]}" "direct-$round.json" "${options[@]}") &
        first=$!
        (pin 0 "$BIN/tandem-load" --target gateway --endpoint 127.0.0.1:27100 "${setup[@]}" --operations-seed $((2 * round)) "${common[@]}" "gateway-$round.json" "${options[@]}") &
        second=$!
        wait $first; wait $second
        echo "CPU seconds during the runs: scheduling $(awk "BEGIN {print $(cpu scheduling) - $before}"), gateway $(awk "BEGIN {print $(cpu gateway) - $gbefore}")"
    done
else
    for round in $(seq 1 "$rounds"); do
        if (( round % 2 == 1 )); then direct "$round"; gateway "$round"; else gateway "$round"; direct "$round"; fi
    done
fi
ROUNDS=$rounds python3 - <<'PY'
import json, os, statistics
rounds = int(os.environ["ROUNDS"])
book = lambda r: r["operations"].get("book", r["all"])
rows = []
print("BookMeeting   round    direct/s   gateway/s   ratio    p50 direct / gateway (ms)    p99 direct / gateway (ms)   added p99")
for n in range(1, rounds + 1):
    d = json.load(open("direct-%d.json" % n)); g = json.load(open("gateway-%d.json" % n))
    row = (d["bookingsPerSecond"], g["bookingsPerSecond"], book(d)["p50Milliseconds"], book(g)["p50Milliseconds"], book(d)["p99Milliseconds"], book(g)["p99Milliseconds"])
    rows.append(row)
    print("              %5d  %10.0f  %10.0f  %5.0f%%   %10.2f / %-10.2f      %10.2f / %-10.2f  %8.2f" % (n, row[0], row[1], 100 * row[1] / row[0], row[2], row[3], row[4], row[5], row[5] - row[4]))
if rounds > 1:
    m = [statistics.median(column) for column in zip(*rows)]
    ratio = statistics.median(row[1] / row[0] for row in rows)
    added = statistics.median(row[5] - row[4] for row in rows)
    print("              median %9.0f  %10.0f  %5.0f%%   %10.2f / %-10.2f      %10.2f / %-10.2f  %8.2f" % (m[0], m[1], 100 * ratio, m[2], m[3], m[4], m[5], added))
    print("(median row: each column's median; the ratio and added p99 are the medians of the rounds' own)")
PY
echo "reports: $WORK/direct-N.json $WORK/gateway-N.json (KEEP=1 keeps them)"
