"""Execute notebooks in place so their saved outputs are current, then clean them with nbdev_clean.

Cells flagged `#| cuda` run only where CUDA is available; `--skip slow` also skips `#| slow` cells
(whose previous outputs are then kept). Usage: python tools/execute_nbs.py [--skip slow] nbs/00_ids.ipynb ...
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell


def cell_flags(cell) -> set[str]:
    """The words of a code cell's `#|` directives, e.g. {'slow'} for `#| slow`."""
    lines = cell.source.splitlines()
    return {w for l in lines if l.startswith('#|') for w in l[2:].split()}


def execute(path: Path, skip: set[str]) -> None:
    """Run every code cell of `path` whose flags avoid `skip`, stopping at the first error."""
    nb = read_nb(path)
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        shell = CaptureShell()
        for cell in nb.cells:
            if cell.cell_type != 'code' or cell_flags(cell) & skip:
                continue
            cell.outputs = []
            shell.cell(cell)
            if shell.exc:
                raise RuntimeError(f'{path.name}: cell failed:\n{cell.source}') from shell.exc
    finally:
        os.chdir(cwd)
    write_nb(nb, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='+', type=Path)
    p.add_argument('--skip', nargs='*', default=[], help='flags whose cells are not run')
    a = p.parse_args()
    skip = set(a.skip)
    import torch

    if not torch.cuda.is_available():
        skip.add('cuda')
    for nb in a.notebooks:
        print(f'executing {nb}', flush=True)
        execute(nb.resolve(), skip)
    subprocess.run(['nbdev_clean'], check=True)


if __name__ == '__main__':
    sys.exit(main())
