#!/usr/bin/env bash
# The operator's alerts and dashboard, checked by the tools that consume them:
#   promtool check rules  charts/immybot-operator/files/prometheus-rules.yaml
#   promtool test rules   tests/prometheus/rules-test.yaml (every alert fires and stays quiet as it should)
#   deploy/prometheus-rule.yaml is what the chart renders;
#   the Grafana dashboard is built with Grafana's Go SDK, its queries parsed by
#   Prometheus' PromQL parser and their metrics found in docs/metrics.md
#   (testbed/dashboard). --write: render and build them instead.
# promtool is built from its Go module, pinned, into a cache outside the clone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(testbed/build.sh --env)"
cache_root=${IMMYBOT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator}
PROMETHEUS_VERSION=v0.316.0   # the Go module's version of Prometheus 3.x
promtool_dir="$cache_root/promtool-$PROMETHEUS_VERSION"
if [ ! -x "$promtool_dir/promtool" ]; then
  echo "monitoring: building promtool $PROMETHEUS_VERSION from its Go module (once; a few minutes)" >&2
  rm -rf "$promtool_dir.partial"
  (cd testbed/controlplane && CGO_ENABLED=0 GOBIN="$promtool_dir.partial" GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags='-s -w' "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION")
  rm -rf "$promtool_dir" && mv "$promtool_dir.partial" "$promtool_dir"
fi
promtool="$promtool_dir/promtool"
rules=charts/immybot-operator/files/prometheus-rules.yaml

render() {
  helm template immybot-operator charts/immybot-operator --namespace immybot-system \
    -f charts/immybot-operator/ci/test-values.yaml --kube-version 1.36.0 \
    --set metrics.prometheusRule.enabled=true --show-only templates/prometheusrule.yaml
}
dashboard() {
  (cd testbed/dashboard && go run . -metrics ../../docs/metrics.md \
    -out ../../charts/immybot-operator/files/grafana-dashboard.json "$@")
}
if [ "${1:-}" = "--write" ]; then
  { echo "# Generated from $rules by hack/monitoring-check.sh --write: the chart's PrometheusRule, for kubectl apply."; render; } > deploy/prometheus-rule.yaml
  echo "wrote deploy/prometheus-rule.yaml"
  dashboard -write
  cp charts/immybot-operator/files/grafana-dashboard.json deploy/grafana-dashboard.json
  echo "wrote the Grafana dashboard (chart file and deploy/grafana-dashboard.json)"
  exit 0
fi

echo "==> promtool check rules"
"$promtool" check rules "$rules"
echo "==> promtool test rules"
"$promtool" test rules tests/prometheus/rules-test.yaml
echo "==> deploy/prometheus-rule.yaml is the chart's (hack/monitoring-check.sh --write makes it)"
if ! diff -u deploy/prometheus-rule.yaml <(echo "# Generated from $rules by hack/monitoring-check.sh --write: the chart's PrometheusRule, for kubectl apply."; render); then
  echo "deploy/prometheus-rule.yaml is stale: run hack/monitoring-check.sh --write" >&2
  exit 1
fi
echo "==> the Grafana dashboard: Grafana's SDK, Prometheus' parser, docs/metrics.md"
dashboard
if ! cmp -s charts/immybot-operator/files/grafana-dashboard.json deploy/grafana-dashboard.json; then
  echo "deploy/grafana-dashboard.json differs from the chart's: run hack/monitoring-check.sh --write" >&2
  exit 1
fi
