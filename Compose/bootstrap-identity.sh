#!/bin/sh
# One-shot job: the first organisation and its admin (also the platform admin), once.
# The arguments go to `tandem-identity bootstrap`; it reads TANDEM_DATA_DIR and
# TANDEM_ADMIN_PASSWORD. A marker file in the data directory makes later runs a no-op.
set -eu
marker="${TANDEM_DATA_DIR:-/data}/.bootstrapped"
[ -f "$marker" ] && exit 0
tandem-identity bootstrap "$@"
touch "$marker"
