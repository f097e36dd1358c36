#!/usr/bin/env bash
# Set up (or update) the project's virtual environment in .venv: the library and its runtime
# dependencies; with --dev also the development tools and the headless browser the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# pip, without the warnings this machine's extra package indexes print for every lookup
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }
# torch first, pinned: this release is the CPU build; an open range would pull a multi-GB CUDA build.
.venv/bin/python -c 'import torch' 2>/dev/null || pip install torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
    pip install -e '.[dev]'
    bash tools/install_browser.sh
else
    pip install -e .
fi
echo "environment ready: $(.venv/bin/python -c 'import deepearth_training as d; print("deepearth_training", d.__version__)')"
