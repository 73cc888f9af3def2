#!/usr/bin/env bash
# The whole test suite: unit tests, the simulator and client over real HTTP,
# and the end-to-end tests on a real kube-apiserver. Nothing is skipped.
#   hack/test.sh            # run everything
#   hack/test.sh -- NAME    # pass a filter to the test binaries
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator/target}
eval "$(testbed/build.sh --env)"
cargo test --all-targets "$@"
cargo test --doc
