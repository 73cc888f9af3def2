#!/usr/bin/env bash
# The health gate's real counterparts, built from their Go modules (pinned)
# into a cache outside the clone, like the control plane:
#   alertmanager, amtool   github.com/prometheus/alertmanager
#   prometheus             github.com/prometheus/prometheus (its query API;
#                          the web UI's assets are not built in, nothing here
#                          uses them)
#   notification-controller's CRDs  github.com/fluxcd/notification-controller
#                          (the Alert and Provider schemas the Flux route's
#                          example is validated against)
# Prints the directory that holds them; --env prints exports of
# IMMYBOT_ALERTING_BIN and IMMYBOT_FLUX_NOTIFICATION_CRDS for the tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${IMMYBOT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator}
ALERTMANAGER_VERSION=v0.35.0
PROMETHEUS_VERSION=v0.316.0 # the Go module's version of Prometheus 3.x (as promtool's)
FLUX_NOTIFICATION_VERSION=v1.6.0
bin="$cache_root/alerting-$ALERTMANAGER_VERSION-$PROMETHEUS_VERSION/bin"
if [ ! -x "$bin/alertmanager" ] || [ ! -x "$bin/amtool" ] || [ ! -x "$bin/prometheus" ]; then
  echo "testbed: building alertmanager $ALERTMANAGER_VERSION and prometheus $PROMETHEUS_VERSION (once; a few minutes)" >&2
  start=$(date +%s)
  rm -rf "$bin.partial" && mkdir -p "$bin.partial"
  (
    cd "$here/controlplane" # any module dir; go install pkg@version ignores it
    export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
    # Alertmanager embeds its web UI's built assets (ui/app/dist), which the
    # module's zip does not carry: build from a copy of the module with an
    # empty UI (the API, all the tests use, is untouched).
    go mod download "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION"
    src=$(go env GOMODCACHE)/github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION
    work=$(mktemp -d)
    trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
    cp -r "$src/." "$work/" && chmod -R u+w "$work"
    mkdir -p "$work/ui/app/dist/elm" "$work/ui/app/dist/mantine"
    echo '<!doctype html><title>alertmanager (no UI in the test bed)</title>' > "$work/ui/app/dist/elm/index.html"
    cp "$work/ui/app/dist/elm/index.html" "$work/ui/app/dist/mantine/index.html"
    (cd "$work" && go build -trimpath -ldflags='-s -w' -o "$bin.partial/" ./cmd/alertmanager ./cmd/amtool)
    GOBIN="$bin.partial" go install -trimpath -ldflags='-s -w' "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"
  )
  rm -rf "$bin" && mv "$bin.partial" "$bin"
  echo "testbed: alerting tools built in $(( $(date +%s) - start ))s" >&2
fi
flux_crds=$(cd "$here/controlplane" && go mod download -json "github.com/fluxcd/notification-controller@$FLUX_NOTIFICATION_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/config/crd/bases
if [ "${1:-}" = "--env" ]; then
  printf 'export IMMYBOT_ALERTING_BIN=%q\n' "$bin"
  printf 'export IMMYBOT_FLUX_NOTIFICATION_CRDS=%q\n' "$flux_crds"
else
  echo "$bin"
fi
