#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver server for the browser tests
# (tests/report_browser.rs, tests/serve_browser.rs): Debian's `chromium` and
# `chromium-driver`, the machine's only way to get a browser. Idempotent:
# does nothing when both are there.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }
if have chromium && have chromedriver; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: chromium or chromedriver is missing and cannot be installed here (needs root and apt-get); the browser tests will skip, or fail under CI=true" >&2
  exit 0
fi
echo "setup-browser: installing chromium and chromium-driver (Debian packages)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium chromium-driver >/dev/null
have chromium && have chromedriver || {
  echo "setup-browser: chromium or chromedriver still missing after installing" >&2
  exit 1
}
