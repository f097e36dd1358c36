#!/usr/bin/env bash
# Install what the real-browser tests need: headless Chromium with its driver (Debian packages)
# and Leaflet's assets (tools/install_leaflet.sh). Idempotent: does nothing slow when all is there.
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
bash "$here/install_leaflet.sh"
echo "chromium:     $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
echo "chromedriver: $(command -v chromedriver)"
