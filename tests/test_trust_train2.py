"""Hostile and unlucky inputs to training, round 2: splits without test rows, paths that look like math, files
without the fields they should hold, store files truncated under a running loader."""

import shutil
import subprocess
import sys

import pytest

from deepearth_training.split_spec import SplitSpec
from deepearth_training.split import save_split
from deepearth_training.holdout import split_from_store
from deepearth_training.store import open_store
from deepearth_training.benchmark import plot_report
from deepearth_training.checkpoint import load_checkpoint, save_checkpoint
from deepearth_training.train_command import evaluate_checkpoint, main
from helpers import one_error, train_flags


def test_split_without_test_rows_refused_before_training(tiny_store, tmp_path, capsys):
    split = save_split(
        split_from_store(open_store(tiny_store), SplitSpec(n_regions=0, test_year=3000)), tmp_path / 'no_test.json'
    )
    assert main(train_flags(tiny_store, split, tmp_path / 'run')) == 2
    line = one_error(capsys)
    assert str(split) in line and 'no test rows' in line, line
    assert not (tmp_path / 'run' / 'last.pt').exists()  # refused before an epoch ran


def test_store_named_like_math_trains_and_draws(tiny_store, tmp_path, capsys):
    store = tmp_path / 'st$\\bad$'
    shutil.copytree(tiny_store, store)
    split = save_split(split_from_store(open_store(store)), tmp_path / 'split.json')
    assert main(train_flags(store, split, tmp_path / 'run')) == 0, capsys.readouterr().err
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


@pytest.fixture(scope='module')
def finished_run(tiny_store, tmp_path_factory):
    """A finished one-epoch language run on the tiny store (split, run folder)."""
    tmp = tmp_path_factory.mktemp('finished')
    split = save_split(split_from_store(open_store(tiny_store)), tmp / 'split.json')
    assert main(train_flags(tiny_store, split, tmp / 'run')) == 0
    return split, tmp / 'run'


def without(ckpt: dict, field: str) -> dict:
    """`ckpt` less `field`; 'config.x' drops x from its config."""
    if field.startswith('config.'):
        return dict(ckpt, config={k: v for k, v in ckpt['config'].items() if k != field[7:]})
    return {k: v for k, v in ckpt.items() if k != field}


@pytest.mark.parametrize(
    'field', ['config', 'species_to_idx', 'rng_states', 'history', 'optimizer_state_dict', 'epoch', 'config.seed']
)
def test_resume_from_a_checkpoint_lacking_a_field_names_file_and_field(
    field, finished_run, tiny_store, tmp_path, capsys
):
    split, run = finished_run
    shutil.copytree(run, tmp_path / 'run')
    save_checkpoint(without(load_checkpoint(run / 'last.pt'), field), tmp_path / 'run' / 'last.pt')
    assert main(train_flags(tiny_store, split, tmp_path / 'run', '--resume')) == 2
    line = one_error(capsys)
    assert str(tmp_path / 'run' / 'last.pt') in line and f"no field '{field.split('.')[-1]}'" in line, line


@pytest.mark.parametrize('field', ['config', 'species_to_idx', 'config.seed', 'config.store'])
def test_evaluating_a_checkpoint_lacking_a_field_names_file_and_field(field, finished_run, tmp_path):
    save_checkpoint(without(load_checkpoint(finished_run[1] / 'last.pt'), field), tmp_path / 'x.pt')
    with pytest.raises(ValueError, match=rf"x\.pt: the checkpoint.* has no field '{field.split('.')[-1]}'"):
        evaluate_checkpoint(tmp_path / 'x.pt', progress=False)


def test_checkpoint_with_foreign_model_arguments_names_file(finished_run, tmp_path):
    save_checkpoint(dict(load_checkpoint(finished_run[1] / 'last.pt'), model_kwargs={'bogus': 1}), tmp_path / 'x.pt')
    with pytest.raises(ValueError, match=r"x\.pt: cannot rebuild the 'language' model"):
        evaluate_checkpoint(tmp_path / 'x.pt', progress=False)


TRUNCATE_WHILE_TRAINING = """
import os, sys
from deepearth_training.loader import DeepEarthDataset
from deepearth_training.train_command import main

vision, calls, get = sys.argv[1], [], DeepEarthDataset.__getitems__


def truncating(self, indices):
    calls.append(indices)
    if len(calls) == 2:  # after the first batch, cut the file to its header
        os.truncate(vision, 128)
    return get(self, indices)


DeepEarthDataset.__getitems__ = truncating
sys.exit(main(sys.argv[2:]))
"""


def test_vision_file_truncated_while_training_is_one_error(tiny_store, tmp_path):
    store = shutil.copytree(tiny_store, tmp_path / 'store')
    split = save_split(split_from_store(open_store(store)), tmp_path / 'split.json')
    flags = train_flags(store, split, tmp_path / 'run', '--full-vision', '--batch-size', '16')
    flags[flags.index('language')] = 'vision'
    r = subprocess.run(
        [sys.executable, '-c', TRUNCATE_WHILE_TRAINING, str(store / 'vision.npy'), *flags],
        capture_output=True,
        text=True,
        timeout=600,
    )
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(err) == 1, (r.returncode, r.stderr[-2000:])
    assert err[0].startswith(f'error: {store / "vision.npy"}: ') and 'truncated' in err[0], err


def test_evaluating_on_a_split_without_test_rows_names_the_split(finished_run, tiny_store, tmp_path):
    split = save_split(
        split_from_store(open_store(tiny_store), SplitSpec(n_regions=0, test_year=3000)), tmp_path / 'no_test.json'
    )
    with pytest.raises(ValueError, match=r'no_test\.json: the split has no test rows'):
        evaluate_checkpoint(finished_run[1] / 'last.pt', split=split, progress=False)
