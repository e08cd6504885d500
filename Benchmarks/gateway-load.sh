#!/usr/bin/env bash
# BookMeeting through the gateway vs straight to scheduling, in one run: identity, scheduling and
# tandem-gateway (release builds, their own processes, mutual TLS behind the gateway, TLS in front),
# then tandem-load against scheduling directly and against the gateway with the same options.
#
#   Benchmarks/gateway-load.sh [tandem-load options…]     e.g. --concurrency 64 --duration 20
#
# Environment: BIN (default .build/release), WORK (default a new temporary directory).
set -euo pipefail
BIN=${BIN:-$(pwd)/.build/release}
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

start() {
    local name=$1; shift
    "$BIN/tandem-$name" --data-dir "data/$name" --certificate "certs/$name.pem" --key "certs/$name-key.pem" --ca certs/ca.pem \
        --log-level warning "$@" 2>"$name.log" &
    echo $! > "$name.pid"
}
start identity --port 27101 --admin-port 28101
start scheduling --port 27103 --admin-port 28103 --identity 127.0.0.1:27101
start gateway --port 27100 --admin-port 28100 --identity 127.0.0.1:27101 --scheduling 127.0.0.1:27103 --matching 127.0.0.1:27102 --rate-limit 0 --max-concurrent-calls 10000 --event-loop-threads "${GATEWAY_THREADS:-0}"
for port in 27101 27103 27100; do
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
for name in identity scheduling gateway; do
    kill -0 "$(cat $name.pid)" 2>/dev/null || { echo "$name did not start:" >&2; cat "$name.log" >&2; exit 2; }
done

# The client certificate is for identity (the API-key exchange is mutual TLS); the gateway asks for none.
# CPU seconds a process has used (user + system), from /proc.
cpu() { awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$(cat "$1.pid")/stat"; }
common=(--identity 127.0.0.1:27101 --ca certs/ca.pem --certificate certs/tandem-load.pem --key certs/tandem-load-key.pem --api-key "$(cat api-key)" --quiet --json)
echo "== direct: scheduling"
before=$(cpu scheduling)
"$BIN/tandem-load" --endpoint 127.0.0.1:27103 "${common[@]}" direct.json "$@"
echo "CPU seconds during the run: scheduling $(awk "BEGIN {print $(cpu scheduling) - $before}")"
echo "== through the gateway (same population: --skip-setup)"
before=$(cpu scheduling); gbefore=$(cpu gateway)
"$BIN/tandem-load" --target gateway --endpoint 127.0.0.1:27100 --skip-setup --operations-seed 2 "${common[@]}" gateway.json "$@"
echo "CPU seconds during the run: scheduling $(awk "BEGIN {print $(cpu scheduling) - $before}"), gateway $(awk "BEGIN {print $(cpu gateway) - $gbefore}")"
python3 - <<'PY'
import json
d = json.load(open("direct.json")); g = json.load(open("gateway.json"))
book = lambda r: r["operations"].get("book", r["all"])
print("BookMeeting        direct        gateway")
print("bookings/s     %10.0f     %10.0f   (gateway %.0f%% of direct)" % (d["bookingsPerSecond"], g["bookingsPerSecond"], 100 * g["bookingsPerSecond"] / d["bookingsPerSecond"]))
for p in ("p50", "p99"):
    key = p + "Milliseconds"
    print("%-8s ms     %10.2f     %10.2f   (added %.2f ms)" % (p, book(d)[key], book(g)[key], book(g)[key] - book(d)[key]))
PY
echo "reports: $WORK/direct.json $WORK/gateway.json (KEEP=1 keeps them)"
