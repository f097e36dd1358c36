"""Seams between evaluation, metrics and training: one parse of the split per run, one direction of imports."""

import ast
from pathlib import Path

import deepearth_training.evaluation as evaluation_module
import deepearth_training.metrics as metrics_module
import deepearth_training.split as split_module
import deepearth_training.train as train_module
from deepearth_training.split import save_split
from deepearth_training.holdout import split_from_store
from deepearth_training.store import open_store
from deepearth_training.train import TrainConfig, fit

PACKAGE = Path(train_module.__file__).parent


def imported_modules(name: str) -> set[str]:
    """The package modules that module `name` imports."""
    tree = ast.parse((PACKAGE / f'{name}.py').read_text())
    return {n.module.split('.')[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_metrics_imports_neither_evaluation_nor_split():
    assert not {'evaluation', 'split'} & imported_modules('metrics')
    assert 'metrics' in imported_modules('evaluation')


def test_a_training_run_parses_its_split_assignments_once(tiny_store, tmp_path, monkeypatch):
    split = save_split(split_from_store(open_store(tiny_store)), tmp_path / 'split.json')
    calls = []
    original = split_module.load_split_assignments

    def counted(path):
        calls.append(path)
        return original(path)

    for module in (split_module, train_module, evaluation_module, metrics_module):  # wherever the name is bound
        monkeypatch.setattr(module, 'load_split_assignments', counted, raising=False)
    cfg = TrainConfig(
        store=str(tiny_store), split=str(split), out=str(tmp_path / 'run'), mode='geo', epochs=1, progress=False
    )
    fit(cfg)
    assert len(calls) == 1
    assert (tmp_path / 'run' / 'predictions.parquet').is_file()
