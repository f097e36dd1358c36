#!/usr/bin/env bash
# Install Leaflet's assets (npm package `leaflet`) into the git-ignored tools/node_modules, where
# deepearth_training.webassets finds them to write maps that need no network. Idempotent; without npm
# it says so and exits 0 (maps then load Leaflet from its CDN and say that they need the network).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dist="$here/node_modules/leaflet/dist"
if [ -f "$dist/leaflet.js" ]; then
  echo "leaflet:      $dist (already installed)"
elif ! command -v npm >/dev/null; then
  echo "leaflet:      npm not found, so maps will load Leaflet from the internet (install npm and rerun, or set DEEPEARTH_LEAFLET_DIR to a folder with leaflet.js and leaflet.css)"
else
  npm --prefix "$here" install --no-save --no-audit --no-fund --loglevel=error leaflet@1.9 >/dev/null
  echo "leaflet:      $dist ($(node -p "require('$here/node_modules/leaflet/package.json').version" 2>/dev/null || echo 'version unknown'))"
fi
