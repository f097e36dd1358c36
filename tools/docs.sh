#!/usr/bin/env bash
# Build the documentation site into _docs/ (open _docs/index.html in a browser, or serve it with
# `.venv/bin/python -m http.server -d _docs`). Needs the dev setup: bash tools/setup.sh --dev.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/sphinx-build ] || { echo "error: Sphinx is missing from .venv; run: bash tools/setup.sh --dev" >&2; exit 2; }
export PATH="$PWD/.venv/bin:$PATH"
exec python tools/docs.py "$@"
