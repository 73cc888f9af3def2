#!/usr/bin/env bash
# Offline checks of the Helm chart and the example manifests:
#   helm lint --strict; helm template | kubeconform -strict; examples | kubeconform -strict;
#   the chart's README is what helm-docs makes of values.yaml (--write: make it).
# Schemas come from the pinned k8s.io/kubernetes module's OpenAPI document and
# from crds/ (testbed/kubeconform-schemas.py). `helm install` into a real API
# server is part of the e2e tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(testbed/build.sh --env)"
chart=charts/immybot-operator
values=$chart/ci/test-values.yaml

k8s_version=$(awk '/k8s.io\/kubernetes v/ {print $2; exit}' testbed/controlplane/go.mod)
(cd testbed/controlplane && go mod download k8s.io/kubernetes)
swagger="$(go env GOMODCACHE)/k8s.io/kubernetes@${k8s_version}/api/openapi-spec/swagger.json"
cache_root=${IMMYBOT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator}
key=$( (cat testbed/kubeconform-schemas.py crds/*.yaml; echo "$k8s_version") | sha256sum | cut -c1-16)
schemas="$cache_root/kubeconform-schemas-$key"
if [ ! -d "$schemas" ]; then
  python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
  python3 testbed/kubeconform-schemas.py "$swagger" crds "$schemas.partial"
  mv "$schemas.partial" "$schemas"
fi
location="$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json"

# helm-docs, pinned, built from its Go module into its own cache (the test
# bed's key stays as it is).
HELM_DOCS_VERSION=v1.14.2
helm_docs="$cache_root/helm-docs-$HELM_DOCS_VERSION"
if [ ! -x "$helm_docs/helm-docs" ]; then
  rm -rf "$helm_docs.partial"
  (cd testbed/controlplane && CGO_ENABLED=0 GOBIN="$helm_docs.partial" GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags='-s -w' "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION")
  rm -rf "$helm_docs" && mv "$helm_docs.partial" "$helm_docs"
fi
if [ "${1:-}" = "--write" ]; then
  "$helm_docs/helm-docs" --chart-search-root "$chart" --log-level warning
  echo "wrote $chart/README.md"
  exit 0
fi
echo "==> the chart's README is helm-docs' (hack/chart-check.sh --write makes it)"
if ! diff -u "$chart/README.md" <("$helm_docs/helm-docs" --chart-search-root "$chart" --dry-run --log-level warning); then
  echo "$chart/README.md is stale: run hack/chart-check.sh --write" >&2
  exit 1
fi

echo "==> helm lint --strict"
helm lint --strict "$chart" -f "$values"

echo "==> helm template | kubeconform -strict"
rendered=$(mktemp --suffix .yaml)  # kubeconform reads only .yaml/.json files
trap 'rm -f "$rendered"' EXIT
# --api-versions: helm's offline capabilities predate MutatingAdmissionPolicy
# v1; the API servers it is meant for (1.36+) serve it.
# The opt-in NetworkPolicy and dashboard are switched on so that they are validated too.
helm template immybot "$chart" --namespace immybot-system -f "$values" --include-crds --kube-version "${k8s_version#v}" \
  --set networkPolicy.enabled=true --set metrics.grafanaDashboard.enabled=true \
  --api-versions admissionregistration.k8s.io/v1/MutatingAdmissionPolicy > "$rendered"
# ServiceMonitor is the Prometheus Operator's CRD, not ours or Kubernetes'.
summary=$(kubeconform -strict -summary -schema-location "$location" -skip ServiceMonitor "$rendered") || { echo "$summary"; exit 1; }
echo "$summary"
# A check that validated nothing proves nothing.
echo "$summary" | grep -Eq 'Valid: ([1-9][0-9]*), Invalid: 0, Errors: 0' || { echo "kubeconform validated no resource" >&2; exit 1; }
grep -q 'kind: ServiceMonitor' "$rendered" || { echo "the ServiceMonitor did not render" >&2; exit 1; }
grep -q 'kind: MutatingAdmissionPolicy$' "$rendered" || { echo "the control audit policies did not render" >&2; exit 1; }

echo "==> examples | kubeconform -strict"
mapfile -t manifests < <(ls examples/*.yaml examples/gitops/*.yaml | grep -v sim-fleet)
# Argo CD's and Flux's kinds are their CRDs, not ours: skipped, not guessed.
kubeconform -strict -summary -schema-location "$location" -skip Application,GitRepository,Kustomization "${manifests[@]}"
