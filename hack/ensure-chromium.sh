#!/usr/bin/env bash
# Makes sure a headless browser is here for the tests that load what people
# open (the report's HTML): Debian's chromium, installed when missing
# (as root, or with sudo). Prints the path to use as CHROMIUM.
set -euo pipefail
want=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$want" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian's chromium for the browser tests" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
fi
echo "$want"
