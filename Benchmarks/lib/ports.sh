# Shared by the benchmark scripts (sourced): waiting for services' ports on 127.0.0.1.

# Waits (up to 15 s) until nothing answers on the ports: a previous run's services may still be
# draining, and a new service could not bind while the readiness checks reached the old one.
wait_until_free() {
    local port
    for port in "$@"; do
        for _ in $(seq 1 150); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null || break; sleep 0.1; done
    done
}

# Waits for a service started from the current directory (its pid in NAME.pid, its log in
# NAME.log) to answer on PORT. Right after a long run or a build the disk may still be busy and a
# start can take several seconds: up to 60 s, then the script stops with the service's log.
wait_for() {
    local name=$1 port=$2
    for _ in $(seq 1 600); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
        kill -0 "$(cat "$name.pid")" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$name.log" >&2
    exit 2
}
