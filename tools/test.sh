#!/usr/bin/env bash
# One command for the tests: set up .venv with the development tools, then check that notebooks
# are clean and exported, that README.md matches nbs/index.ipynb, lint and formatting (ruff, notebooks
# included), run the notebooks (nbdev_test) and the pytest suite. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --dev
export PATH="$PWD/.venv/bin:$PATH"
echo "== notebooks clean and exported"; bash tools/check_notebooks.sh
echo "== README";                        python tools/readme.py --check
echo "== lint and format (ruff)";         ruff check . && ruff format --check .
echo "== notebooks (nbdev_test)";        nbdev_test
echo "== pytest";                        python -m pytest -q tests
