#!/usr/bin/env bash
# Set up (or update) the project's virtual environment in .venv: torch, the library and its runtime
# dependencies, and Leaflet for offline maps (when npm exists); with --dev also the development tools
# (JupyterLab, Sphinx, pytest) and the headless browser the tests use.
#
# Which torch: one already importable in .venv is kept (so is one seen through VENV_FLAGS=--system-site-packages,
# given when .venv is first made). Otherwise TORCH_SPEC (default torch==2.13.0) is installed from pip's
# configured indexes, or from TORCH_INDEX_URL when set, e.g.
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 bash tools/setup.sh   # CUDA 12.6, older drivers
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu   bash tools/setup.sh   # CPU only, ~200 MB
# Setting either variable replaces a torch already in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv ${VENV_FLAGS:-} .venv
# pip, without the warnings this machine's extra package indexes print for every lookup
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }
if [ -z "${TORCH_SPEC:-}${TORCH_INDEX_URL:-}" ] && .venv/bin/python -c 'import torch' 2>/dev/null; then
    echo "torch:        keeping the torch already importable in .venv"
else
    pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "${TORCH_SPEC:-torch==2.13.0}"
fi
if [ "${1:-}" = "--dev" ]; then
    pip install -e '.[dev]'
    bash tools/install_browser.sh
else
    pip install -e .
    bash tools/install_leaflet.sh
fi
.venv/bin/python - <<'PY'
import shutil, torch
cuda = torch.cuda.is_available()
build = f'CUDA {torch.version.cuda}' if torch.version.cuda else 'CPU-only'
print(f'torch:        {torch.__version__} ({build} build); CUDA available: {cuda}')
if shutil.which('nvidia-smi') and not cuda:
    bar = '!' * 78
    why = ('it is a CPU-only build' if not torch.version.cuda else
           f'the NVIDIA driver may be too old for a {build} build (see nvidia-smi)')
    print(f'{bar}\n!! WARNING: nvidia-smi exists but torch cannot use CUDA, so training runs on the CPU:\n'
          f'!! {why}. A CUDA 12.6 build runs on older drivers:\n'
          f'!!   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 bash tools/setup.sh\n{bar}')
PY
echo "environment ready: $(.venv/bin/python -c 'import deepearth_training as d; print("deepearth_training", d.__version__)')"
