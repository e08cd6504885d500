#!/usr/bin/env bash
# Runs identity and scheduling (release builds, their own processes, mutual TLS, SQLite on disk)
# and drives scheduling with tandem-load. Everything lives in a fresh directory.
#
#   Benchmarks/scheduling-load.sh [tandem-load options…]
#   e.g. Benchmarks/scheduling-load.sh --concurrency 64 --duration 30
#        Benchmarks/scheduling-load.sh --rate 8000 --duration 30
#        KILL=1 Benchmarks/scheduling-load.sh --concurrency 64 --duration 30   (kill -9 scheduling 10 s in, restart it)
#
# Environment: BIN (default .build/release), WORK (default a new temporary directory),
# SCHEDULING_THREADS (event loop threads of scheduling, default 0 = one per core),
# KEEP=1 keeps the work directory (its scheduling.sqlite can be reused with --skip-setup).
set -euo pipefail
BIN=${BIN:-$(pwd)/.build/release}
. "$(dirname "$0")/lib/ports.sh"
WORK=${WORK:-$(mktemp -d /tmp/tandem-load.XXXXXX)}
mkdir -p "$WORK"
cd "$WORK"
cleanup() {
    [[ -f identity.pid ]] && kill "$(cat identity.pid)" 2>/dev/null || true
    [[ -f scheduling.pid ]] && kill "$(cat scheduling.pid)" 2>/dev/null || true
    wait 2>/dev/null || true
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ! -f certs/ca.pem ]]; then
    "$BIN/tandem" certs init --dir certs >/dev/null
    for name in identity scheduling; do "$BIN/tandem" certs issue "$name" --dns localhost --ip 127.0.0.1 --dir certs >/dev/null; done
    "$BIN/tandem" certs issue tandem-load --dir certs >/dev/null
fi
if [[ ! -f data/identity/identity.sqlite ]]; then
    TANDEM_ADMIN_PASSWORD='load test admin password' "$BIN/tandem-identity" bootstrap --data-dir data/identity \
        --organisation "Load Test" --slug load --admin-email admin@load.example --admin-name Admin >/dev/null
    "$BIN/tandem-identity" service-account --data-dir data/identity --organisation load --name tandem-load --scope 'scheduling.*' \
        | awk '/^api-key/ {print $2}' > api-key
fi

wait_until_free 27101 27103 28101 28103
"$BIN/tandem-identity" --data-dir data/identity --port 27101 --admin-port 28101 --certificate certs/identity.pem --key certs/identity-key.pem \
    --ca certs/ca.pem --log-level warning 2>identity.log &
echo $! > identity.pid
# Scheduling starts once identity answers: a first connection refused would put its identity
# client in back-off, and the first calls would fail UNAVAILABLE (fetching identity's keys).
wait_for identity 27101
# The start command as a script of its own, so that tandem-load's --restart-cmd can run it too.
cat > start-scheduling.sh <<EOF
cd "$WORK"
"$BIN/tandem-scheduling" --data-dir data/scheduling --port 27103 --admin-port 28103 --identity 127.0.0.1:27101 \\
    --certificate certs/scheduling.pem --key certs/scheduling-key.pem --ca certs/ca.pem --log-level warning \\
    --event-loop-threads "${SCHEDULING_THREADS:-0}" 2>>scheduling.log &
echo \$! > scheduling.pid
EOF
bash start-scheduling.sh
wait_for scheduling 27103

extra=()
if [[ "${KILL:-0}" == 1 ]]; then
    extra=(--kill-after "${KILL_AFTER:-10}" --kill-cmd "kill -9 \$(cat $WORK/scheduling.pid)" --restart-cmd "bash $WORK/start-scheduling.sh")
fi
status=0
"$BIN/tandem-load" --endpoint 127.0.0.1:27103 --identity 127.0.0.1:27101 --ca certs/ca.pem \
    --certificate certs/tandem-load.pem --key certs/tandem-load-key.pem --api-key "$(cat api-key)" "${extra[@]}" "$@" || status=$?
echo "scheduling resident memory: $(awk '/VmRSS/ {print $2, $3}' /proc/"$(cat scheduling.pid)"/status 2>/dev/null || echo '?')"
echo "database: $(du -sh data/scheduling 2>/dev/null | cut -f1)"
# User and system CPU seconds of this scheduling process (set-up, run and verification).
echo "scheduling CPU seconds: $(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/"$(cat scheduling.pid)"/stat 2>/dev/null || echo '?')"
exit $status
