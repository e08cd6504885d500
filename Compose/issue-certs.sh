#!/bin/sh
# One-shot job: the platform CA and one certificate per service, each naming its own host name
# (the Compose service name), in the shared certs volume. Safe to run again: what exists is kept.
# Usage: issue-certs.sh DIR
set -eu
dir="${1:-/certs}"
[ -f "$dir/ca.pem" ] || tandem certs init --dir "$dir"
for service in identity matching scheduling feedback gateway; do
    if [ ! -f "$dir/$service.pem" ]; then
        tandem certs issue "$service" --dns "$service" --dns localhost --dir "$dir"
    fi
done
