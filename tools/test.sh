#!/usr/bin/env bash
# One command for the tests: set up .venv with the development tools, then check that notebooks
# are clean and exported, that README.md matches nbs/index.ipynb, lint and formatting (ruff, notebooks
# included), and run the pytest suite, which runs every notebook once in a real Jupyter kernel with the
# cells nbdev_test would run (tests/test_notebooks_kernel.py). pytest-xdist spreads the tests over one
# worker per CPU (TEST_WORKERS overrides, e.g. TEST_WORKERS=0 for none), an idle worker taking queued tests
# from a busy one; the demo, the docs site and the installed wheel are built once for all workers. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --dev
export PATH="$PWD/.venv/bin:$PATH"
echo "== notebooks clean and exported"; bash tools/check_notebooks.sh
echo "== README";                        python tools/readme.py --check
echo "== lint and format (ruff)";         ruff check . && ruff format --check .
echo "== pytest (notebooks included)";   python -m pytest -q -n "${TEST_WORKERS:-logical}" --dist worksteal tests
