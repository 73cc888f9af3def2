#!/usr/bin/env bash
# Builds the test bed's binaries from Go modules (never from release tarballs)
# into a cache outside the clone, and prints the directory that holds them.
#
#   kube-apiserver, kubectl, etcd   testbed/controlplane (k8s.io/kubernetes as a library)
#   helm, kubeconform               `go install` at pinned versions
#   kstatus                         testbed/kstatus (Flux's kstatus, for tests)
#
# The cache key is a hash of everything that decides the binaries (the Go
# module files, this script), so a warm run costs a hash and nothing else.
# Usage: testbed/build.sh            -> builds if needed, prints the bin dir
#        eval "$(testbed/build.sh --env)" -> exports KUBEBUILDER_ASSETS and PATH
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELM_VERSION=v3.19.0
KUBECONFORM_VERSION=v0.7.0

cache_root=${IMMYBOT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator}
key=$( (cat "$here/controlplane/go.mod" "$here/controlplane/go.sum" "$here/kstatus/go.mod" "$here/kstatus/go.sum" "$here/kstatus/main.go" "$here/build.sh"; go version) | sha256sum | cut -c1-16)
bin="$cache_root/testbed-$key/bin"

if [ ! -x "$bin/kube-apiserver" ] || [ ! -x "$bin/etcd" ] || [ ! -x "$bin/kubectl" ] \
  || [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubeconform" ] || [ ! -x "$bin/kstatus" ]; then
  mkdir -p "$bin.partial"
  start=$(date +%s)
  echo "testbed: building control-plane binaries into $bin (cold build, several minutes)" >&2
  (
    cd "$here/controlplane"
    export CGO_ENABLED=0
    # Stamp the version as a release build does, so that clients (helm's
    # kubeVersion check, kubectl version) see v1.36.x, not v0.0.0-master.
    k8s=$(awk '/k8s.io\/kubernetes v/ {print $2; exit}' go.mod)
    major=${k8s#v}; major=${major%%.*}
    minor=${k8s#v*.}; minor=${minor%%.*}
    stamp=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      stamp="$stamp -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    go build -trimpath -ldflags="-s -w $stamp" -o "$bin.partial/" ./cmd/kube-apiserver ./cmd/kubectl ./cmd/etcd
  )
  (
    # Flux's kstatus, to check what a Kustomization with wait: true sees.
    cd "$here/kstatus"
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin.partial/kstatus" .
  )
  (
    cd "$here/controlplane" # any module dir; go install pkg@version ignores it
    export CGO_ENABLED=0 GOBIN="$bin.partial" GOFLAGS=-buildvcs=false
    go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    go install -trimpath -ldflags='-s -w' "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  )
  rm -rf "$bin" && mv "$bin.partial" "$bin"
  echo "testbed: built in $(( $(date +%s) - start ))s" >&2
fi

if [ "${1:-}" = "--env" ]; then
  printf 'export KUBEBUILDER_ASSETS=%q\nexport PATH=%q:"$PATH"\n' "$bin" "$bin"
else
  echo "$bin"
fi
