#!/usr/bin/env bash
# The kubectl plugin as krew ships it: an archive of kubectl-immybot and the
# LICENSE, and the krew manifest (plugins/immybot.yaml in a krew index) that
# names it with its sha256. Run it per release and platform, then submit the
# manifest to an index (krew-index, or a custom index: `kubectl krew index
# add`).
#
#   hack/krew-package.sh --url-base URL [--binary PATH] [--out DIR] [--check]
#
# --url-base  where the archives will be downloaded from (the release page)
# --binary    the plugin to pack (default: a release build of it)
# --check     validate the manifest with krew's own validate-krew-manifest,
#             install it with `krew install --manifest --archive` into a
#             scratch KREW_ROOT, and run `kubectl immybot` from there. CI
#             does this with the debug build.
#
# Only this machine's platform is packed: cross-building needs each target's
# toolchain, which is the release pipeline's job; the manifest gets one
# platforms[] entry per archive made.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KREW_VERSION=v0.4.3
url_base="" binary="" out="" check=false
while [ $# -gt 0 ]; do
  case "$1" in
    --url-base) url_base=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --check) check=true; shift ;;
    *) echo "unknown flag $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
[ -n "$url_base" ] || { echo "--url-base is required: where the archives will be published" >&2; exit 2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator/target}
if [ -z "$binary" ]; then
  cargo build --release --bin kubectl-immybot
  binary="$CARGO_TARGET_DIR/release/kubectl-immybot"
fi
out=${out:-$(mktemp -d)}
mkdir -p "$out"
version=v$(awk -F'"' '/^version = / {print $2; exit}' Cargo.toml)
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
os=$(uname -s | tr '[:upper:]' '[:lower:]')
archive="kubectl-immybot-$os-$arch.tar.gz"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
install -m 0755 "$binary" "$staging/kubectl-immybot"
cp LICENSE "$staging/LICENSE"
# Reproducible: fixed owner, order and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
  -C "$staging" -czf "$out/$archive" kubectl-immybot LICENSE
sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)
cat > "$out/immybot.yaml" <<MANIFEST
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: immybot
spec:
  version: $version
  homepage: $url_base
  shortDescription: Approve and control ImmyBot maintenance
  description: |
    Works with the immybot-operator's MaintenanceSessions, ImmyBotSchedules
    and MaintenanceSchedules: create a session, approve it as someone other
    than its requester (seeing its blast radius and plan first), follow its
    status and logs, suspend, resume, retry, cancel, list and revoke
    approvals, and search ImmyBot's own session history.
  caveats: |
    The immybot-operator must run in the cluster (its Helm chart installs
    it). Approving needs the approver role the chart creates.
  platforms:
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $url_base/$archive
    sha256: $sha
    files:
    - from: kubectl-immybot
      to: .
    - from: LICENSE
      to: .
    bin: kubectl-immybot
MANIFEST
echo "wrote $out/$archive and $out/immybot.yaml ($version, sha256 $sha)"
$check || exit 0

# krew, pinned, built from its Go module into its own cache.
cache_root=${IMMYBOT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/immybot-operator}
krew_dir="$cache_root/krew-$KREW_VERSION"
if [ ! -x "$krew_dir/krew" ] || [ ! -x "$krew_dir/validate-krew-manifest" ]; then
  rm -rf "$krew_dir.partial"
  (cd testbed/controlplane && CGO_ENABLED=0 GOBIN="$krew_dir.partial" GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags='-s -w' \
    "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION" "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION")
  rm -rf "$krew_dir" && mv "$krew_dir.partial" "$krew_dir"
fi
echo "==> validate-krew-manifest (krew $KREW_VERSION)"
"$krew_dir/validate-krew-manifest" -manifest "$out/immybot.yaml" -skip-install
echo "==> krew install --manifest --archive, then kubectl immybot from krew's bin"
krew_root=$(mktemp -d)
trap 'rm -rf "$staging" "$krew_root"' EXIT
KREW_ROOT="$krew_root" "$krew_dir/krew" install --manifest "$out/immybot.yaml" --archive "$out/$archive"
# Its receipt (what `krew list` reads; list itself needs a fetched index).
grep -q "version: $version" "$krew_root/receipts/immybot.yaml" || { echo "krew recorded no receipt of immybot $version" >&2; exit 1; }
eval "$(testbed/build.sh --env)"  # kubectl
shown=$(PATH="$krew_root/bin:$PATH" kubectl plugin list 2>/dev/null | grep kubectl-immybot || true)
case "$shown" in
  "$krew_root/bin/kubectl-immybot") ;;
  *) echo "kubectl does not find the plugin krew installed: $shown" >&2; exit 1 ;;
esac
said=$(PATH="$krew_root/bin:$PATH" kubectl immybot --version)
[ "$said" = "kubectl-immybot ${version#v}" ] || { echo "kubectl immybot --version said: $said" >&2; exit 1; }
echo "krew installed $version; kubectl immybot --version: $said"
