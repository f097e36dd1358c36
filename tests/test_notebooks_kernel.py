"""Every notebook, run once, top to bottom, in a real Jupyter kernel, as a researcher opening it in JupyterLab would.

This is the test command's only run of the notebooks (it replaces a separate `nbdev_test` pass). The cells run are
exactly the ones `nbdev_test` runs: nbdev's own notebook processor reads each notebook, and a notebook is left out
when its front matter says `skip_exec` or a `.notest` file sits beside it; a cell is left out when it calls
`nbdev_export(`, says `#| eval: false`, or carries one of settings.ini's tst_flags (notest, slow, cuda) as a
directive; the cells run without their `#|` lines, with IN_TEST=1 in the environment, in nbs/.

Unlike `nbdev_test` (in-process, with the test runner's PATH), each notebook gets a fresh kernel (nbclient) whose
Python is this environment's but whose PATH lacks this environment's bin/, as when JupyterLab is started by its
full path. A notebook that calls a console command by name, or leans on the test runner's working directory,
fails here. Skipped only when nbclient is missing.

nbclient is not a widget frontend: it mimics one for ipywidgets' Output widget by sending the widget's state back
to the kernel, and after a cell that drives an Output widget (the split explorer of 25_maps) it then waits out
the whole per-cell timeout although the kernel is idle (jupyter/nbclient#312). No widget frontend is mimicked
here, so such a cell's outputs land in the cell and the cell runs like any other.
"""

import os
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip('nbclient', reason='the kernel tests need the dev setup: bash tools/setup.sh --dev')
import nbformat  # noqa: E402  (installed with nbclient)
from fastcore.basics import str2bool  # noqa: E402
from nbdev.config import get_config  # noqa: E402
from nbdev.frontmatter import FrontmatterProc  # noqa: E402
from nbdev.process import NBProcessor, nb_lang  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
SKIP_FLAGS = set(get_config(path=ROOT).tst_flags.split())
CELL_TIMEOUT = 900  # seconds; generous: the slowest cell takes about a minute on a loaded 2-core machine
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def kernel_env() -> dict:
    """This process's environment, IN_TEST=1 as nbdev_test sets it, with every PATH entry inside this environment's
    prefix removed."""
    prefix = Path(sys.prefix).resolve()
    keep = [
        d for d in os.environ.get('PATH', '').split(os.pathsep) if d and not Path(d).resolve().is_relative_to(prefix)
    ]
    return {**os.environ, 'IN_TEST': '1', 'PATH': os.pathsep.join(keep)}


def skipped(cell) -> bool:
    """Whether nbdev_test leaves out `cell` (a cell of nbdev's processed notebook, with `directives_`)."""
    if cell.cell_type != 'code' or 'nbdev_export(' in cell.source:
        return True
    directives = getattr(cell, 'directives_', {}) or {}
    return directives.get('eval:', [''])[0].lower() == 'false' or bool(SKIP_FLAGS & directives.keys())


def cells_to_test(path: Path) -> list[str] | None:
    """The sources of the code cells nbdev_test would run in `path`, `#|` lines removed; None if it skips the
    whole notebook."""
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    skip_exec = str2bool(getattr(nb, 'frontmatter_', {}).get('skip_exec', False))
    if skip_exec or nb_lang(nb) != 'python' or (path.parent / '.notest').exists():
        return None
    return [c.source for c in nb.cells if not skipped(c)]


class KernelClient(nbclient.NotebookClient):
    """nbclient without its mimicked widget frontend (see the module docstring)."""

    def on_comm_open_jupyter_widget(self, msg):
        return None


def run(nb: nbformat.NotebookNode, cwd: Path = NBS) -> nbformat.NotebookNode:
    """Execute `nb` in a fresh python3 kernel started with `kernel_env()` in `cwd`; raises on the first failing cell."""
    client = KernelClient(nb, timeout=CELL_TIMEOUT, kernel_name='python3', resources={'metadata': {'path': str(cwd)}})
    return client.execute(env=kernel_env())


def code_notebook(sources: list[str]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_kernel_is_this_python_without_its_bin_on_path():
    nb = code_notebook(
        ['import os, shutil, sys\nprint(sys.executable, shutil.which("deepearth-prepare"), os.getcwd())']
    )
    out = run(nb).cells[0].outputs[0]['text'].split()
    assert Path(out[0]).resolve() == Path(sys.executable).resolve()
    assert out[1] == 'None', 'the kernel should not find the console commands through PATH'
    assert Path(out[2]).resolve() == NBS.resolve()


def test_cells_left_out_are_exactly_nbdev_tests(tmp_path):
    cells = [
        '#| export\ndef f(): return 1',
        '#| slow\nraise RuntimeError("slow")',
        '#| cuda\nraise RuntimeError("cuda")',
        '#| notest\nraise RuntimeError("notest")',
        '#| eval: false\nraise RuntimeError("eval")',
        'from nbdev import nbdev_export\nnbdev_export()',
        '#| hide\nx = 2',
        'y = 3  # slow, a word in the code, not a flag',
    ]
    nb = code_notebook(cells)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell('# Title\n> what it is'))
    path = tmp_path / 'nb.ipynb'
    nbformat.write(nb, path)
    assert cells_to_test(path) == ['def f(): return 1', 'x = 2', 'y = 3  # slow, a word in the code, not a flag']
    nb.cells.insert(0, nbformat.v4.new_raw_cell('---\nskip_exec: true\n---'))
    nbformat.write(nb, path)
    assert cells_to_test(path) is None


def test_output_widget_output_lands_in_its_cell():
    """Without a mimicked widget frontend, what a cell prints into an Output widget is the cell's own output."""
    nb = code_notebook(
        [
            'import ipywidgets as w\nout = w.Output()\ndisplay(out)',
            'with out:\n    out.clear_output(wait=True)\n    print("inside")',
            'print("after")',
        ]
    )
    done = run(nb)
    assert done.cells[1].outputs[0]['text'] == 'inside\n' and done.cells[2].outputs[0]['text'] == 'after\n'


def test_a_failing_cell_fails_the_run():
    with pytest.raises(nbclient.exceptions.CellExecutionError, match='ZeroDivisionError'):
        run(code_notebook(['x = 1', '1 / 0', 'x = 2']))


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_a_kernel(path):
    sources = cells_to_test(path)
    if sources is None:
        pytest.skip(f'{path.name}: nbdev_test skips it (skip_exec, .notest, or not Python)')
    try:
        run(code_notebook(sources))
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f'{path.name}: {str(e)[-3000:]}', pytrace=False)
