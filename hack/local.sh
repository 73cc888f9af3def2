#!/usr/bin/env bash
# The quickstart, on embedded defaults: a local control plane with the CRDs
# and admission policies, the ImmyBot simulator with examples/sim-fleet.yaml,
# and the operator. Then alice applies examples/maintenance-session-*.yaml
# and examples/immybot-schedule-*.yaml (moved to fire within a minute), bob
# approves them, and live tables follow them; it ends with carol finding,
# importing and repairing the schedule run's failure. Pass --help for options
# (e.g. drop the demo with: hack/local.sh --no-demo).
# Builds what is missing first (the control-plane binaries take ~10 minutes
# the first time). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator/target}
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  echo "local: installing clang and libclang-dev (the envtest crate needs them)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq clang libclang-dev
fi
eval "$(testbed/build.sh --env)"
mkdir -p target
# `cargo run`, not the bare binary: the envtest crate links its Go half as a
# shared library that cargo puts on the library path.
demo=(--demo)
args=()
for a in "$@"; do
  if [ "$a" = "--no-demo" ]; then demo=(); else args+=("$a"); fi
done
# Built first with cargo's own progress showing (a fresh clone compiles for
# several minutes), then run quietly.
echo "local: building the operator, the ImmyBot simulator and the local runner (cargo build -p immybot-local; the first build takes several minutes)" >&2
cargo build -p immybot-local
exec cargo run --quiet -p immybot-local -- "${demo[@]}" "${args[@]}"
