"""Seams between evaluation, metrics and training: one read of the split file per run, one direction of imports."""

import ast
from pathlib import Path

import pytest
import torch

import deepearth_training.split as split_module
import deepearth_training.train as train_module
from deepearth_training.holdout import split_from_store
from deepearth_training.split import read_split, save_split
from deepearth_training.split_spec import SplitSpec
from deepearth_training.store import open_store
from deepearth_training.train import TrainConfig, fit
from deepearth_training.train_command import evaluate_checkpoint

PACKAGE = Path(train_module.__file__).parent


def imported_modules(name: str) -> set[str]:
    """The package modules that module `name` imports."""
    tree = ast.parse((PACKAGE / f'{name}.py').read_text())
    return {n.module.split('.')[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_metrics_imports_neither_evaluation_nor_split():
    assert not {'evaluation', 'split'} & imported_modules('metrics')
    assert 'metrics' in imported_modules('evaluation')


@pytest.fixture
def counted_reads(monkeypatch):
    """The split files parsed while the test runs: every reader of a split file goes through one private parse."""
    calls, original = [], split_module._read_split_json

    def counted(path):
        calls.append(Path(path))
        return original(path)

    monkeypatch.setattr(split_module, '_read_split_json', counted)
    return calls


def test_a_training_run_reads_its_split_file_once(tiny_store, tmp_path, counted_reads):
    split = save_split(split_from_store(open_store(tiny_store)), tmp_path / 'split.json')
    cfg = TrainConfig(
        store=str(tiny_store), split=str(split), out=str(tmp_path / 'run'), mode='geo', epochs=1, progress=False
    )
    fit(cfg)
    assert counted_reads == [split]
    assert torch.load(tmp_path / 'run' / 'last.pt', weights_only=False)['split_hash'] == read_split(split).content_hash
    assert (tmp_path / 'run' / 'predictions.parquet').is_file()


def test_a_checkpoint_is_not_evaluated_on_a_changed_split(tiny_store, tmp_path):
    result = split_from_store(open_store(tiny_store))
    split = save_split(result, tmp_path / 'split.json')
    cfg = TrainConfig(
        store=str(tiny_store), split=str(split), out=str(tmp_path / 'run'), mode='geo', epochs=1, progress=False
    )
    fit(cfg)
    save_split(split_from_store(open_store(tiny_store), SplitSpec(seed=result.spec.seed + 1)), split)
    with pytest.raises(ValueError, match='not the one .* was trained on'):
        evaluate_checkpoint(tmp_path / 'run' / 'last.pt', progress=False)
