#!/usr/bin/env bash
# One command for a fresh machine: set up .venv, then run the whole pipeline on the synthetic dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/deepearth-demo --out "${1:-work/demo}"
