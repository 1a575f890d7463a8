#!/usr/bin/env bash
# Installs the Debian packages the project uses (the Fashion-MNIST data set and
# Chromium for the web app's browser test), only those still missing.
# Without root or sudo it says what to install and carries on: the library
# works without them, and the tests that need them skip with a reason.
set -u
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo -n"; else
  echo "net2net setup: please install the Debian packages: ${missing[*]}" >&2; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
  || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; } \
  || echo "net2net setup: could not install ${missing[*]}; see README.md" >&2
exit 0
