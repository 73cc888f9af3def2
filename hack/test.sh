#!/usr/bin/env bash
# The whole test suite: unit tests, the simulator and client over real HTTP,
# and the end-to-end tests on a real kube-apiserver. Nothing is skipped.
#   hack/test.sh            # run everything
#   hack/test.sh NAME       # only tests whose name contains NAME
# Ends with one line totalling every test binary: "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator/target}
eval "$(testbed/build.sh --env)"
eval "$(testbed/alerting.sh --env)"
CHROMIUM=$(hack/ensure-chromium.sh)
export CHROMIUM
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast --all-targets -- "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
