"""Training loop, metrics, checkpoints, resume, CLI and 2-process torchrun on the tiny synthetic store."""

import json
import os
import shutil
import subprocess
from dataclasses import asdict

import numpy as np
import pytest
import torch

from deepearth_training.loader import DeepEarthDataset
from deepearth_training.metrics import classification_report
from deepearth_training.registry import space_time_coords
from deepearth_training.split import save_split
from deepearth_training.holdout import split_from_store
from deepearth_training.store import open_store
from deepearth_training.checkpoint import load_model
from deepearth_training.train import TrainConfig, fit
from deepearth_training.train_command import evaluate_checkpoint, main


@pytest.fixture(scope='module')
def tiny_split(tiny_store, tmp_path_factory):
    """A default split of the tiny store."""
    return save_split(split_from_store(open_store(tiny_store)), tmp_path_factory.mktemp('split') / 'split.json')


def config(tiny_store, tiny_split, out, **kw):
    """A short run's settings on the tiny store."""
    return TrainConfig(
        **dict(
            dict(
                store=str(tiny_store),
                split=str(tiny_split),
                out=str(out),
                epochs=3,
                batch_size=32,
                lr=3e-3,
                fusion_dim=64,
                progress=False,
            ),
            **kw,
        )
    )


@pytest.mark.parametrize('mode', ['language', 'vision', 'multimodal', 'geo', 'fusion'])
def test_each_mode_trains_and_writes_outputs(mode, tiny_store, tiny_split, tmp_path):
    m = fit(config(tiny_store, tiny_split, tmp_path, mode=mode, epochs=2))
    losses = [h['train']['loss'] for h in m['history']]
    assert losses[-1] < losses[0]
    per_row = {'predictions.parquet'} if mode != 'multimodal' else set()  # classifiers keep per-row test results
    assert {p.name for p in tmp_path.iterdir()} == {'last.pt', 'best.pt', 'metrics.json', 'curves.png'} | per_row
    doc = json.loads((tmp_path / 'metrics.json').read_text())
    assert doc['final'] == json.loads(json.dumps(m['final'])) and doc['best_epoch'] == m['best_epoch']
    assert m['final'] == m['history'][m['best_epoch'] - 1]['test'] and m['n_val'] > 0
    assert set(m['final']) == {'temporal', 'spatial', 'all'}
    model, ckpt = load_model(tmp_path / 'last.pt')
    assert ckpt['mode'] == mode and ckpt['epoch'] == 2 and len(ckpt['history']) == 2
    assert {
        'model_state_dict',
        'num_classes',
        'species_to_idx',
        'split_hash',
        'library_version',
        'config',
        'optimizer_state_dict',
        'scheduler_state_dict',
    } <= set(ckpt)


def test_full_vision_with_workers(tiny_store, tiny_split, tmp_path):
    m = fit(config(tiny_store, tiny_split, tmp_path, mode='vision', epochs=2, full_vision=True, num_workers=1))
    assert m['history'][-1]['train']['loss'] < m['history'][0]['train']['loss']
    model, ckpt = load_model(tmp_path / 'last.pt')
    store = open_store(tiny_store)
    ids = store.observations.loc[store.observations.has_vision, 'observation_id'][:16].tolist()
    full = DeepEarthDataset(ids, store, mode='vision', species_mapping=ckpt['species_to_idx']).__getitems__(range(16))
    pooled = DeepEarthDataset(ids, store, mode='pooled', species_mapping=ckpt['species_to_idx']).__getitems__(range(16))
    with torch.no_grad():
        assert torch.allclose(model(full['vision_embeddings']), model(pooled['vision_embeddings']), atol=1e-4)


def test_resume_matches_uninterrupted(tiny_store, tiny_split, tmp_path):
    cfg = config(tiny_store, tiny_split, tmp_path / 'full', mode='fusion', grad_accum=2, save_every=1)
    full = fit(cfg)
    resumed = fit(
        TrainConfig(**dict(asdict(cfg), out=str(tmp_path / 'resumed'))), resume=tmp_path / 'full' / 'epoch_001.pt'
    )
    assert resumed['final'] == full['final']
    a, b = load_model(tmp_path / 'full' / 'last.pt')[0], load_model(tmp_path / 'resumed' / 'last.pt')[0]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_resume_refuses_other_settings(tiny_store, tiny_split, tmp_path):
    fit(config(tiny_store, tiny_split, tmp_path, mode='language', epochs=1))
    with pytest.raises(ValueError, match='epochs'):
        fit(
            config(tiny_store, tiny_split, tmp_path, mode='language', epochs=2, batch_size=16),
            resume=tmp_path / 'last.pt',
        )


def test_unseen_species_are_excluded_and_counted():
    results = {
        'label': np.array([0, 1, -1, 1, -1]),
        'loss': np.array([0.1, 0.2, np.nan, 0.3, np.nan]),
        'topk': np.array([[0, 1], [0, 1], [1, 0], [1, 0], [0, 1]]),
    }
    subsets = {'temporal': np.array([1, 1, 1, 0, 0], bool), 'spatial': np.array([0, 0, 0, 1, 1], bool)}
    r = classification_report(results, subsets, train_counts=np.array([3, 1]))
    assert r['temporal']['n'] == 3 and r['temporal']['n_unseen'] == 1 and r['temporal']['model']['n'] == 2
    assert r['temporal']['model']['top1'] == 0.5 and r['temporal']['majority']['top1'] == 0.5
    assert r['spatial']['model'] == {'top1': 1.0, 'top5': 1.0, 'macro': 1.0, 'n': 1}
    assert r['spatial']['loss'] == pytest.approx(0.3)


def test_space_time_coords_day_of_year():
    ts = torch.tensor(
        [[2024, 12, 31, -1, -1, -1], [2023, 12, 31, -1, -1, -1], [2000, 2, 29, 0, 0, 0], [1900, 3, 1, 0, 0, 0]]
    )
    c = space_time_coords(torch.zeros(4, 2), ts)
    assert c[:, 2].tolist() == [366, 365, 60, 60]
    with pytest.raises(ValueError, match='impossible date'):
        space_time_coords(torch.zeros(1, 2), torch.tensor([[2020, 13, 1, 0, 0, 0]]))


def test_cli_errors(tiny_store, tiny_split, tmp_path, capsys):
    assert main(['--store', str(tmp_path / 'missing'), '--split', str(tiny_split), '--out', str(tmp_path)]) == 2
    assert main(['--store', str(tiny_store), '--split', str(tmp_path / 'missing.json'), '--out', str(tmp_path)]) == 2
    assert main(['--store', str(tiny_store), '--split', str(tiny_split), '--out', str(tmp_path), '--resume']) == 2
    assert main(['--store', str(tiny_store), '--out', str(tmp_path)]) == 2  # neither --split nor --cv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith('error: ') for line in err) and '--split FILE and --cv DIR' in err[-1]
    with pytest.raises(SystemExit):
        main(['--store', str(tiny_store), '--split', str(tiny_split), '--mode', 'audio'])


@pytest.mark.skipif(shutil.which('torchrun') is None, reason='torchrun not on PATH')
def test_torchrun_two_processes_match_one(tiny_store, tiny_split, tmp_path):
    args = [
        '--store',
        str(tiny_store),
        '--split',
        str(tiny_split),
        '--mode',
        'vision',
        '--epochs',
        '3',
        '--batch-size',
        '32',
        '--lr',
        '3e-3',
        '--device',
        'cpu',
        '--no-progress',
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [
            'torchrun',
            '--standalone',
            '--nproc_per_node',
            '2',
            '--no-python',
            'deepearth-train',
            *args,
            '--out',
            str(tmp_path / 'ddp'),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = json.loads((tmp_path / 'ddp' / 'metrics.json').read_text())
    assert ddp['world_size'] == 2 and ddp['epochs_run'] == 3
    # metrics reduced over the two ranks equal those of one process evaluating the same weights
    assert_close(
        ddp['final'], json.loads(json.dumps(evaluate_checkpoint(tmp_path / 'ddp' / 'best.pt', progress=False)))
    )
    # and training matches a one-process run on the same data up to dropout noise (same global batches)
    one = fit(config(tiny_store, tiny_split, tmp_path / 'one', mode='vision'))
    assert ddp['history'][0]['train']['loss'] == pytest.approx(one['history'][0]['train']['loss'], rel=0.05)
    last_ddp, last_one = (
        ddp['history'][-1]['test'],
        one['history'][-1]['test'],
    )  # the same epoch (each run picks its own best)
    for s in ('temporal', 'spatial'):
        assert last_ddp[s]['n'] == last_one[s]['n'] and last_ddp[s]['majority'] == last_one[s]['majority']
        noise = max(
            0.2, 3.5 / last_one[s]['n']
        )  # dropout differs per process: about 3 of the 10 temporal rows may flip
        assert last_ddp[s]['model']['top1'] == pytest.approx(last_one[s]['model']['top1'], abs=noise)
        assert last_ddp[s]['model']['top5'] == pytest.approx(last_one[s]['model']['top5'], abs=noise)


def assert_close(a, b, path='final'):
    """Nested dicts equal, floats to 1e-6 relative."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            assert_close(a[k], b[k], f'{path}.{k}')
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-6), path
    else:
        assert a == b, path


CONTRACT_KEYS = {'model', 'ci95', 'by_distance', 'per_occurrence', 'unseen_as_errors'}


def test_metrics_json_carries_the_evidence(tiny_store, tiny_split, tmp_path):
    fit(config(tiny_store, tiny_split, tmp_path, mode='vision', epochs=2))
    doc = json.loads((tmp_path / 'metrics.json').read_text())
    assert doc['best_epoch'] in (1, 2) and doc['selection'] == 'lowest validation loss'
    for s in ('temporal', 'spatial'):
        f = doc['final'][s]
        assert CONTRACT_KEYS <= set(f)
        assert set(f['ci95']) == {'top1', 'top5', 'macro'}
        for k in ('top1', 'top5', 'macro'):
            lo, hi = f['ci95'][k]
            assert lo <= f['model'][k] + 1e-9 and f['model'][k] <= hi + 1e-9
        assert sum(b['n'] for b in f['by_distance']) == f['model']['n']
        assert all(set(b) == {'band_km', 'n', 'top1'} for b in f['by_distance'])
        for k in ('per_occurrence', 'unseen_as_errors'):
            assert set(f[k]) == {'top1', 'top5', 'macro', 'n'}
        assert f['unseen_as_errors']['n'] == f['n'] and f['unseen_as_errors']['top1'] <= f['model']['top1']
    losses = [h['val']['loss'] for h in doc['history']]
    assert doc['best_epoch'] == 1 + losses.index(min(losses))


def test_reported_model_is_the_best_checkpoint(tiny_store, tiny_split, tmp_path):
    m = fit(config(tiny_store, tiny_split, tmp_path, mode='geo', epochs=3))
    best = torch.load(tmp_path / 'best.pt', weights_only=False)
    assert best['epoch'] == m['best_epoch']
    assert evaluate_checkpoint(tmp_path / 'best.pt', progress=False) == m['final']


def test_no_validation_reports_the_last_epoch(tiny_store, tiny_split, tmp_path):
    m = fit(config(tiny_store, tiny_split, tmp_path, mode='geo', epochs=2, val_fraction=0.0))
    assert m['best_epoch'] == 2 and m['n_val'] == 0 and 'val' not in m['history'][-1]
    assert m['selection'] == 'last epoch (no validation set)' and m['final'] == m['history'][-1]['test']
    with pytest.raises(ValueError, match=r'val_fraction must be in \[0, 1\)'):
        fit(config(tiny_store, tiny_split, tmp_path / 'x', mode='geo', val_fraction=1.0))


def test_language_is_labelled_a_sanity_check(tiny_store, tiny_split, tmp_path, capsys):
    assert (
        main(
            [
                '--store',
                str(tiny_store),
                '--split',
                str(tiny_split),
                '--mode',
                'language',
                '--epochs',
                '1',
                '--out',
                str(tmp_path),
                '--no-progress',
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert '| language (lookup sanity check) | spatial |' in out and 'reported epoch 1' in out
