#!/usr/bin/env bash
# Installs headless Chromium for the HTML report's browser test (Debian's
# package; the machine has no other way to get a browser). Idempotent: does
# nothing when chromium is already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: chromium is missing and cannot be installed here (needs root and apt-get); the browser test will skip, or fail under CI=true" >&2
  exit 0
fi
echo "setup-browser: installing chromium (Debian package)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
