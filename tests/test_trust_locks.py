"""A lock file that is a symlink (or a hard link) to someone's file: refused in one line, the file untouched."""

import os

import pytest

from deepearth_training.prepare import main as prepare_main
from deepearth_training.split import save_split
from deepearth_training.holdout import split_from_store
from deepearth_training.store import open_store
from deepearth_training.train_command import main as train_main

VICTIM = 'my thesis, chapter 1\n'


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


@pytest.fixture(params=[os.symlink, os.link], ids=['symlink', 'hardlink'])
def trap(request, tmp_path):
    """Factory: make `lock` a link (of the param's kind) to a victim file; returns the victim."""

    def make(lock):
        victim = tmp_path / 'victim.txt'
        victim.write_text(VICTIM)
        request.param(victim, lock)
        return victim

    return make


def test_prepare_refuses_a_linked_lock(trap, tiny_source, tmp_path, capsys):
    store = tmp_path / 'store'
    victim = trap(tmp_path / '.store.lock')
    assert prepare_main(['--source', str(tiny_source), '--store', str(store), '--quiet']) != 0
    assert f'{tmp_path / ".store.lock"}: lock file is' in one_error(capsys)
    assert victim.read_text() == VICTIM and not store.exists()


def test_train_refuses_a_linked_lock(trap, tiny_store, tmp_path, capsys):
    split = save_split(split_from_store(open_store(tiny_store)), tmp_path / 'split.json')
    victim = trap(tmp_path / '.run.lock')
    argv = ['--store', str(tiny_store), '--split', str(split), '--mode', 'language', '--epochs', '1']
    assert train_main([*argv, '--out', str(tmp_path / 'run'), '--no-progress']) != 0
    assert f'{tmp_path / ".run.lock"}: lock file is' in one_error(capsys)
    assert victim.read_text() == VICTIM and not (tmp_path / 'run' / 'last.pt').exists()
