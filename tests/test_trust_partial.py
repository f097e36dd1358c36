"""`.NAME.partial` folders: the project removes only those carrying its marker; a user's folder of that name is kept."""

import pytest

from deepearth_training.prepare import main as prepare_main
from deepearth_training.synthetic import main as synth_main


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


def users_folder(path, name='thesis.tex'):
    path.mkdir()
    (path / name).write_text('chapter 1')
    return path


def test_synth_keeps_a_users_partial_folder(tmp_path, capsys):
    mine = users_folder(tmp_path / '.src.partial')
    assert synth_main(['--out', str(tmp_path / 'src'), '--quiet', '--n-observations', '20']) == 2
    assert f'{mine} exists but was not made by deepearth' in one_error(capsys)
    assert (mine / 'thesis.tex').read_text() == 'chapter 1' and not (tmp_path / 'src').exists()


def test_synth_replaces_its_own_left_over(tmp_path):
    from deepearth_training.files import PARTIAL_MARKER, new_partial

    (new_partial(tmp_path / 'src') / 'half.parquet').write_bytes(b'PAR1')
    assert synth_main(['--out', str(tmp_path / 'src'), '--quiet', '--n-observations', '20']) == 0
    assert not (tmp_path / '.src.partial').exists() and not (tmp_path / 'src' / PARTIAL_MARKER).exists()
    assert (tmp_path / 'src' / 'observations.parquet').is_file()


@pytest.mark.parametrize('progress', [False, True], ids=['fresh', 'with-progress-file'])
def test_prepare_keeps_a_users_partial_folder(progress, tiny_source, tmp_path, capsys):
    mine = users_folder(tmp_path / '.store.partial', 'observations.parquet')  # a name a store also has
    if progress:  # even one that looks like an interrupted prepare, but lacks the marker
        (mine / 'progress.json').write_text('{"fingerprint": {}, "done_shards": []}')
    assert prepare_main(['--source', str(tiny_source), '--store', str(tmp_path / 'store'), '--quiet']) == 2
    assert f'{mine} exists but was not made by deepearth' in one_error(capsys)
    assert (mine / 'observations.parquet').read_text() == 'chapter 1' and not (tmp_path / 'store').exists()
