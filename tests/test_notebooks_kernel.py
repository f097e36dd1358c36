"""Every notebook, run top to bottom in a real Jupyter kernel, as a researcher opening it in JupyterLab would.

nbdev_test runs cells in-process with the test runner's PATH; here each notebook gets a fresh kernel (nbclient)
whose Python is this environment's but whose PATH lacks this environment's bin/, as when JupyterLab is
started by its full path. A notebook that calls a console command by name, or leans on the test runner's
working directory, fails here. Cells flagged with settings.ini's tst_flags (slow, cuda, notest) or
`#| eval: false` are left out, as nbdev_test leaves them out. Skipped only when nbclient is missing.

nbclient is not a widget frontend: after a cell that drives an ipywidgets Output widget (the split explorer of
25_maps) the kernel is idle at once, but nbclient waits out its whole per-cell timeout before the next cell
(measured: exactly CELL_TIMEOUT seconds per such cell, under load; 15 minutes each with the old 900 s). Such cells
carry the `skip-execution` tag, which nbclient honours; nbdev_test still runs them, in-process. A cell that hangs
for any other reason fails after CELL_TIMEOUT seconds instead of holding CI for a quarter of an hour.
"""

import os
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip('nbclient', reason='the kernel tests need the dev setup: bash tools/setup.sh --dev')
import nbformat  # noqa: E402  (installed with nbclient)
from nbdev.config import get_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
SKIP_FLAGS = set(get_config(path=ROOT).tst_flags.split()) | {'eval: false', 'eval:false'}
CELL_TIMEOUT = 300  # seconds; the slowest cell run here takes under a minute on a loaded 2-core machine
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def kernel_env() -> dict:
    """This process's environment with every PATH entry inside this environment's prefix removed."""
    prefix = Path(sys.prefix).resolve()
    keep = [
        d for d in os.environ.get('PATH', '').split(os.pathsep) if d and not Path(d).resolve().is_relative_to(prefix)
    ]
    return {**os.environ, 'PATH': os.pathsep.join(keep)}


def flags(cell) -> set[str]:
    """A code cell's `#|` directives: words ('slow') and whole options ('eval: false')."""
    opts = [l[2:].strip() for l in cell.source.splitlines() if l.startswith('#|')]
    return set(opts) | {w for o in opts for w in o.split()}


def run(nb: nbformat.NotebookNode, cwd: Path = NBS) -> nbformat.NotebookNode:
    """Execute `nb` in a fresh python3 kernel started with `kernel_env()` in `cwd`; raises on the first failing cell."""
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name='python3', resources={'metadata': {'path': str(cwd)}}
    )
    return client.execute(env=kernel_env())


def test_kernel_is_this_python_without_its_bin_on_path():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'import shutil, sys\nprint(sys.executable)\nprint(shutil.which("deepearth-prepare"))'
            )
        ]
    )
    out = run(nb).cells[0].outputs[0]['text'].split()
    assert Path(out[0]).resolve() == Path(sys.executable).resolve()
    assert out[1] == 'None', 'the kernel should not find the console commands through PATH'


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_a_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type != 'code' or not flags(c) & SKIP_FLAGS]
    try:
        run(nb)
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f'{path.name}: {str(e)[-3000:]}', pytrace=False)
