#!/usr/bin/env bash
# The scale benchmark (docs/performance.md): builds the release operator and
# the bench, the test bed (kube-apiserver, etcd), then runs one workload.
#   hack/bench.sh --workload many --size 1000
#   hack/bench.sh --workload tenant --size 5000 --immybot-rps 10
# Every flag goes to the bench; `hack/bench.sh --help` lists them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator/target}
eval "$(testbed/build.sh --env)"
cargo build --release --bin immybot-operator
# Through cargo: the bench links envtest's Go library, which cargo puts on
# the library path.
exec cargo run --quiet --release --example bench -- "$@"
