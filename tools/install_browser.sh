#!/usr/bin/env bash
# Install what the real-browser map tests need: headless Chromium with its driver (Debian packages)
# and Leaflet's assets (npm package `leaflet`, into the git-ignored tools/node_modules).
# Idempotent: does nothing slow when everything is already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "chromium already installed"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver
fi

if [ -f "$here/node_modules/leaflet/dist/leaflet.js" ]; then
  echo "leaflet already installed"
else
  npm --prefix "$here" install --no-save --no-audit --no-fund leaflet
fi

echo "chromium:     $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
echo "chromedriver: $(command -v chromedriver)"
echo "leaflet:      $here/node_modules/leaflet/dist ($(node -p "require('$here/node_modules/leaflet/package.json').version" 2>/dev/null || echo 'version unknown'))"
