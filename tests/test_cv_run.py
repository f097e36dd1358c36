"""Training every fold of a cross-validation folder (`deepearth-train --cv`): the folder must agree with its
cv.json, the summary keeps temporal and spatial apart, and every interval stays inside [0, 100] %."""

import json
import shutil

import numpy as np
import pytest

from deepearth_training.cv import main as cv_main
from deepearth_training.cv_run import cv_summary, fold_paths, t_interval
from deepearth_training.train_command import main


def make_folds(store, out, k: int) -> None:
    assert cv_main(['--store', str(store), '--out', str(out), '--folds', str(k), '--block-km', '20']) == 0


@pytest.fixture(scope='module')
def cv_dir(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp('cv') / 'folds'
    make_folds(tiny_store, out, 3)
    return out


def test_rewriting_with_fewer_folds_leaves_no_stale_fold_files(tiny_store, tmp_path):
    make_folds(tiny_store, tmp_path, 5)
    make_folds(tiny_store, tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cv.json', 'fold_1.json', 'fold_2.json', 'fold_3.json']
    assert [p.name for p in fold_paths(tmp_path)] == ['fold_1.json', 'fold_2.json', 'fold_3.json']


def test_train_cv_refuses_fold_files_that_cv_json_does_not_list(tiny_store, cv_dir, tmp_path, capsys):
    folder = tmp_path / 'folds'
    shutil.copytree(cv_dir, folder)
    shutil.copy(folder / 'fold_1.json', folder / 'fold_4.json')
    code = main(['--cv', str(folder), '--store', str(tiny_store), '--epochs', '1', '--out', str(tmp_path / 'run')])
    err = capsys.readouterr().err
    assert code == 2 and 'fold_4.json' in err and 'cv.json' in err
    assert not (tmp_path / 'run').exists()
    (folder / 'fold_4.json').unlink()
    (folder / 'fold_2.json').unlink()
    with pytest.raises(ValueError, match='missing.*fold_2.json'):
        fold_paths(folder)


def test_train_cv_refuses_a_folder_without_cv_json(tiny_store, tmp_path, capsys):
    assert main(['--cv', str(tmp_path), '--store', str(tiny_store), '--out', str(tmp_path / 'run')]) == 2
    assert 'no cv.json' in capsys.readouterr().err
    (tmp_path / 'cv.json').write_text('{}')
    with pytest.raises(ValueError, match='lists no folds'):
        fold_paths(tmp_path)


def test_fold_mean_interval_stays_inside_0_100_percent():
    s = t_interval([0.912, 0.977, 1.0, 0.99])
    assert 0 <= s['ci95'][0] <= s['mean'] <= s['ci95'][1] <= 1 and s['n_folds'] == 4
    low = t_interval([0.0, 0.05, 0.0])
    assert low['ci95'][0] == 0.0


def test_t_interval_over_folds():
    s = t_interval([0.4, 0.5, 0.6, 0.5])
    half = 3.182446 * np.std([0.4, 0.5, 0.6, 0.5], ddof=1) / 2  # t(0.975, 3)
    assert s['mean'] == pytest.approx(0.5) and s['ci95'] == pytest.approx([0.5 - half, 0.5 + half], rel=1e-5)
    summary = cv_summary([{'spatial': {'model': {'top1': x, 'top5': 1.0, 'macro': x}, 'n': 1}} for x in (0.4, 0.6)])
    assert summary['spatial']['top1']['n_folds'] == 2 and summary['temporal'] == {}
    assert 'all' not in summary  # temporal and spatial rows are never pooled


def test_train_cv_writes_every_fold_and_the_summary(tiny_store, cv_dir, tmp_path, capsys):
    args = ['--cv', str(cv_dir), '--store', str(tiny_store), '--mode', 'vision', '--epochs', '2']
    assert main(args + ['--out', str(tmp_path / 'run'), '--no-progress']) == 0
    doc = json.loads((tmp_path / 'run' / 'cv_metrics.json').read_text())
    assert [f['fold'] for f in doc['folds']] == [1, 2, 3] and doc['n_folds'] == 3
    assert doc['estimates'] == json.loads((cv_dir / 'cv.json').read_text())['estimates']
    for k, f in enumerate(doc['folds'], 1):
        metrics = json.loads((tmp_path / 'run' / f'fold_{k}' / 'metrics.json').read_text())
        assert f['final'] == metrics['final'] and f['best_epoch'] == metrics['best_epoch']
        assert f['split'] == str(cv_dir / f'fold_{k}.json')
    for subset in ('temporal', 'spatial'):
        for name in ('top1', 'top5', 'macro', 'unseen_as_errors_top1', 'per_occurrence_top1'):
            s = doc['summary'][subset][name]
            values = [
                f['final'][subset]['model'][name]
                if name in ('top1', 'top5', 'macro')
                else f['final'][subset][name.replace('_top1', '')]['top1']
                for f in doc['folds']
            ]
            assert s['mean'] == pytest.approx(np.mean(values)) and s['n_folds'] == 3
            assert 0 <= s['ci95'][0] <= s['mean'] <= s['ci95'][1] <= 1
    out = capsys.readouterr().out
    assert '| spatial | top1 |' in out and '(3 folds)' in out and doc['estimates'] in out
