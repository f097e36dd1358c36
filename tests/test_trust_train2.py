"""Hostile and unlucky inputs to training, round 2: splits without test rows, paths that look like math, files
without the fields they should hold, store files truncated under a running loader."""

import json
import shutil
from pathlib import Path

import pytest

from deepearth_training.split import SplitSpec, save_split, split_from_store
from deepearth_training.store import open_store
from deepearth_training.benchmark import plot_report
from deepearth_training.train_command import main


def run_flags(store, split, out, *more) -> list[str]:
    """deepearth-train flags for a one-epoch language run without progress bars."""
    return [
        '--store',
        str(store),
        '--split',
        str(split),
        '--mode',
        'language',
        '--epochs',
        '1',
        '--out',
        str(out),
        '--no-progress',
        *more,
    ]


def one_error(capsys) -> str:
    """The single `error:` line the command printed on stderr."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


def test_split_without_test_rows_refused_before_training(tiny_store, tmp_path, capsys):
    split = save_split(
        split_from_store(open_store(tiny_store), SplitSpec(n_regions=0, test_year=3000)), tmp_path / 'no_test.json'
    )
    assert main(run_flags(tiny_store, split, tmp_path / 'run')) == 2
    line = one_error(capsys)
    assert str(split) in line and 'no test rows' in line, line
    assert not (tmp_path / 'run' / 'last.pt').exists()  # refused before an epoch ran


def test_store_named_like_math_trains_and_draws(tiny_store, tmp_path, capsys):
    store = tmp_path / 'st$\\bad$'
    shutil.copytree(tiny_store, store)
    split = save_split(split_from_store(open_store(store)), tmp_path / 'split.json')
    assert main(run_flags(store, split, tmp_path / 'run')) == 0, capsys.readouterr().err
    assert (tmp_path / 'run' / 'curves.png').read_bytes()[:4] == b'\x89PNG'


def test_bench_chart_of_a_report_with_math_like_names(tmp_path):
    report = {
        'results': [{'mode': 'a$\\bad$', 'path': 'loader', 'batch_size': 4, 'median_ms_per_batch': 1.0}],
        'modes': ['a$\\bad$'],
        'runs': 1,
        'vision_shape': [2, 2, 2, 8],
        'vision_dtype': 'f$\\oops$',
    }
    assert plot_report(report, tmp_path / 'b.png').read_bytes()[:4] == b'\x89PNG'
