"""Hostile and unlucky inputs to training: crafted or broken checkpoints, impossible settings, diverging runs, full disks."""

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deepearth_training
from deepearth_training.split_spec import SplitSpec
from deepearth_training.split import save_split
from deepearth_training.holdout import split_from_store
from deepearth_training.prepare import prepare_store
from deepearth_training.store import open_store
from deepearth_training.train import TrainConfig, fit
from deepearth_training.checkpoint import load_model
from deepearth_training.train_command import evaluate_checkpoint, main
from helpers import one_error, train_flags


@pytest.fixture(scope='module')
def tiny_split(tiny_store, tmp_path_factory):
    """A default split of the tiny store."""
    return save_split(split_from_store(open_store(tiny_store)), tmp_path_factory.mktemp('split') / 'split.json')


@pytest.fixture(scope='module')
def run_dir(tiny_store, tiny_split, tmp_path_factory):
    """A finished one-epoch language run on the tiny store."""
    out = tmp_path_factory.mktemp('run') / 'run'
    fit(config(tiny_store, tiny_split, out))
    return out


def config(tiny_store, tiny_split, out, **kw):
    """A one-epoch language run's settings on the tiny store."""
    return TrainConfig(
        **dict(
            dict(
                store=str(tiny_store),
                split=str(tiny_split),
                out=str(out),
                mode='language',
                epochs=1,
                batch_size=32,
                progress=False,
            ),
            **kw,
        )
    )


class Evil:
    """A pickle that runs a shell command when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


# 1. code execution from a checkpoint


def test_every_torch_load_is_weights_only():
    package = Path(deepearth_training.__file__).parent
    calls = [(p.name, m) for p in package.glob('*.py') for m in re.findall(r'torch\.load\([^)]*\)', p.read_text())]
    assert calls and all('weights_only=True' in m for _, m in calls), calls


def test_checkpoint_holds_plain_data_only(run_dir):
    ckpt = torch.load(run_dir / 'last.pt', map_location='cpu', weights_only=True)
    assert type(ckpt['torch_version']) is str and ckpt['torch_version'] == str(torch.__version__)
    assert {'model_state_dict', 'num_classes', 'species_to_idx', 'mode', 'store_id'} <= set(ckpt)


def test_crafted_pickle_never_runs(tiny_store, tiny_split, tmp_path, capsys):
    marker = tmp_path / 'pwned'
    torch.save({'model_state_dict': Evil(marker), 'mode': 'language', 'model_kwargs': {}}, tmp_path / 'evil.pt')
    for load in (load_model, evaluate_checkpoint):
        with pytest.raises(
            ValueError, match=r'evil\.pt: refused, not a checkpoint: it asks to load the Python object posix\.system'
        ):
            load(tmp_path / 'evil.pt')
    assert main(train_flags(tiny_store, tiny_split, tmp_path / 'run', '--resume', str(tmp_path / 'evil.pt'))) == 2
    assert 'evil.pt: refused' in one_error(capsys)
    assert not marker.exists()


# 2. truncated or foreign checkpoints, another store or split


@pytest.mark.parametrize('content', [b'', b'{"model_state_dict": 1}', 'half'], ids=['empty', 'json', 'truncated'])
def test_broken_checkpoint_is_one_error(content, run_dir, tiny_store, tiny_split, tmp_path, capsys):
    bad = tmp_path / 'bad.pt'
    bad.write_bytes(run_dir.joinpath('last.pt').read_bytes()[:2000] if content == 'half' else content)
    assert main(train_flags(tiny_store, tiny_split, tmp_path / 'run', '--resume', str(bad))) == 2
    assert f'{bad}: not a readable checkpoint (truncated, or another kind of file)' in one_error(capsys)


def test_resume_refuses_another_store(run_dir, tiny_source, tiny_split, tmp_path, capsys):
    other = prepare_store(tiny_source, tmp_path / 'other_store', dtype='float32', progress=False)
    assert main(train_flags(other, tiny_split, run_dir, '--resume')) == 2
    line = one_error(capsys)
    assert 'cannot resume, the checkpoint was trained on store' in line and f'not --store {other}' in line


def test_resume_refuses_another_split(run_dir, tiny_store, tiny_split, tmp_path, capsys):
    other = save_split(split_from_store(open_store(tiny_store), SplitSpec(seed=1)), tmp_path / 'other.json')
    assert main(train_flags(tiny_store, other, run_dir, '--resume')) == 2
    line = one_error(capsys)
    assert f'trained on split {tiny_split} (' in line and f'not --split {other} (' in line


# 3. impossible values


@pytest.mark.parametrize(
    'flag,value',
    [
        ('--lr', 'inf'),
        ('--lr', 'nan'),
        ('--clip-grad', 'nan'),
        ('--hidden-dim', '0'),
        ('--weight-decay', '-1'),
        ('--threads', '-1'),
    ],
)
def test_impossible_flags_refused(flag, value, tiny_store, tiny_split, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(train_flags(tiny_store, tiny_split, tmp_path / 'run', flag, value))
    assert e.value.code == 2 and f'argument {flag}' in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize(
    'field,value,message',
    [
        ('lr', float('inf'), 'lr must be a positive finite number'),
        ('lr', float('nan'), 'lr must be a positive finite number'),
        ('clip_grad', float('nan'), 'clip_grad must be a non-negative finite number'),
        ('hidden_dim', 0, 'hidden_dim must be at least 1'),
        ('threads', -1, 'threads must be >= 0'),
        ('device', 'foo', "unknown device 'foo'"),
    ],
)
def test_impossible_config_refused(field, value, message, tiny_store, tiny_split, tmp_path):
    with pytest.raises(ValueError, match=re.escape(message)):
        config(tiny_store, tiny_split, tmp_path, **{field: value})


def test_diverging_run_stops_with_error(tiny_store, tiny_split, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(train_flags(tiny_store, tiny_split, out, '--lr', '1e30', '--clip-grad', '0', '--epochs', '2')) == 2
    assert 'training diverged: the loss became' in one_error(capsys)
    if (out / 'metrics.json').exists():
        json.loads((out / 'metrics.json').read_text(), parse_constant=lambda c: pytest.fail(f'{c} in metrics.json'))


def test_unknown_device_is_one_error(tiny_store, tiny_split, tmp_path, capsys):
    assert main(train_flags(tiny_store, tiny_split, tmp_path / 'run', '--device', 'foo')) == 2
    assert "unknown device 'foo'; expected auto, cpu, cuda or cuda:N" in one_error(capsys)


def test_out_that_is_a_file_refused(tiny_store, tiny_split, tmp_path, capsys):
    (tmp_path / 'notes.txt').write_text('mine')
    assert main(train_flags(tiny_store, tiny_split, tmp_path / 'notes.txt')) == 2
    assert 'notes.txt: is a file, not a run folder' in one_error(capsys)
    assert (tmp_path / 'notes.txt').read_text() == 'mine'


def test_existing_run_not_overwritten(run_dir, tiny_store, tiny_split, capsys):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert main(train_flags(tiny_store, tiny_split, run_dir)) == 2
    assert (
        'already holds a run (last.pt, metrics.json); continue it with --resume, or choose another --out'
        in one_error(capsys)
    )
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


# 4. disk full


def _no_space(*a, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_during_checkpoint(tiny_store, tiny_split, tmp_path, capsys, monkeypatch):
    def half_then_full(obj, f, *a, **kw):
        Path(f).write_bytes(b'PK\x03\x04 half')
        _no_space()

    monkeypatch.setattr(torch, 'save', half_then_full)
    out = tmp_path / 'run'
    assert main(train_flags(tiny_store, tiny_split, out)) == 2
    assert one_error(capsys) == f'error: No space left on device: {out / "last.pt"}'
    assert sorted(p.name for p in out.iterdir()) == []


def test_disk_full_during_metrics(tiny_store, tiny_split, tmp_path, capsys, monkeypatch):
    write_text = Path.write_text
    monkeypatch.setattr(
        Path,
        'write_text',
        lambda self, *a, **kw: _no_space() if self.name.startswith('.metrics.json.tmp') else write_text(self, *a, **kw),
    )
    out = tmp_path / 'run'
    assert main(train_flags(tiny_store, tiny_split, out)) == 2
    assert one_error(capsys) == f'error: No space left on device: {out / "metrics.json"}'
    assert sorted(p.name for p in out.iterdir()) == ['best.pt', 'last.pt']  # whole checkpoints, no temporaries


# 6. threads and curves


def test_cpu_run_uses_one_thread_and_restores_the_callers(tiny_store, tiny_split, tmp_path, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    before = torch.get_num_threads()
    m = fit(config(tiny_store, tiny_split, tmp_path / 'auto', device='cpu'))
    assert m['torch_threads'] == 1 and torch.get_num_threads() == before
    assert fit(config(tiny_store, tiny_split, tmp_path / 'two', device='cpu', threads=2))['torch_threads'] == 2


def test_curves_drawn_once_at_the_end(tiny_store, tiny_split, tmp_path, monkeypatch):
    train = sys.modules['deepearth_training.train']
    drawn, plot = [], train.plot_history
    monkeypatch.setattr(
        train, 'plot_history', lambda history, *a, **kw: drawn.append(len(history)) or plot(history, *a, **kw)
    )
    fit(config(tiny_store, tiny_split, tmp_path / 'run', epochs=3))
    assert drawn == [3] and (tmp_path / 'run' / 'curves.png').is_file()


def test_a_run_folder_being_trained_is_locked(tiny_store, tiny_split, tmp_path, capsys):
    out = tmp_path / 'run'
    code = 'import sys, time; from deepearth_training.files import pid_lock\nwith pid_lock(sys.argv[1]):\n    print("held", flush=True); time.sleep(60)'
    holder = subprocess.Popen(
        [sys.executable, '-c', code, str(tmp_path / '.run.lock')], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == 'held'
        assert main(train_flags(tiny_store, tiny_split, out)) == 2
        assert f'in use by running process {holder.pid}' in one_error(capsys)
        assert not (out / 'last.pt').exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(train_flags(tiny_store, tiny_split, out)) == 0
    assert 'device: cpu' in capsys.readouterr().out
