#!/usr/bin/env bash
# Refreshes the Chart.js build `kubectl immybot report -o html` inlines,
# from the npm registry: hack/vendor-chartjs.sh 4.5.1
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
version=${1:?usage: hack/vendor-chartjs.sh VERSION}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf "chart.js-$version.tgz")
dest=src/render/assets
if grep -q '</script' "$work/package/dist/chart.umd.min.js"; then
  echo "chart.umd.min.js contains </script: it cannot be inlined as it is" >&2
  exit 1
fi
cp "$work/package/dist/chart.umd.min.js" "$dest/"
cp "$work/package/LICENSE.md" "$dest/chart.js-LICENSE.md"
sha256sum "$dest/chart.umd.min.js"
echo "now update the version and sha256 in $dest/README.md"
