"""`deepearth-split --check FILE --store STORE`: a split file re-derived from its recorded spec on the store."""

import json

import pytest

from deepearth_training.split_command import main


@pytest.fixture(scope='module')
def split_file(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp('split') / 'split.json'
    assert main(['--store', str(tiny_store), '--out', str(out), '--buffer-km', '1']) == 0
    return out


def rehashed(split_file, tmp_path, edit) -> tuple:
    """A copy of the split file with `edit(doc)` applied and its content hash recomputed; returns (path, edited IDs)."""
    from deepearth_training.split import content_hash

    doc = json.loads(split_file.read_text())
    ids = edit(doc['observation_mappings'])
    doc['content_hash'] = content_hash(doc)
    path = tmp_path / 'rehashed.json'
    path.write_text(json.dumps(doc))
    return path, ids


def move_to_train(maps: dict, n: int = 3) -> list:
    ids = [k for k, m in maps.items() if m['split'] == 'test'][:n]
    for k in ids:
        maps[k].update(split='train', split_reason='temporal_train')
    return ids


def drop_first(maps: dict) -> list:
    first = next(iter(maps))
    del maps[first]
    return [first]


def test_unedited_file_passes(split_file, tiny_store, capsys):
    assert main(['--store', str(tiny_store), '--check', str(split_file)]) == 0
    assert 'every row agrees' in capsys.readouterr().out


def test_edited_and_rehashed_file_fails_naming_rows(split_file, tiny_store, tmp_path, capsys):
    path, ids = rehashed(split_file, tmp_path, move_to_train)
    assert main(['--store', str(tiny_store), '--check', str(path)]) == 1
    out = capsys.readouterr().out
    assert f'{len(ids)} row(s) differ' in out
    for k in ids:
        line = next(l for l in out.splitlines() if l.startswith(k))
        assert line.split()[1:3] == ['train', 'temporal_train'] and line.split()[3] == 'test', line


def test_removed_row_is_reported(split_file, tiny_store, tmp_path, capsys):
    path, ids = rehashed(split_file, tmp_path, drop_first)
    assert main(['--store', str(tiny_store), '--check', str(path)]) == 1
    out = capsys.readouterr().out
    assert '1 row(s) differ' in out and ids[0] in out


def test_accidental_edit_is_refused_first(split_file, tiny_store, tmp_path, capsys):
    doc = json.loads(split_file.read_text())
    move_to_train(doc['observation_mappings'], 1)
    (tmp_path / 'edited.json').write_text(json.dumps(doc))
    assert main(['--store', str(tiny_store), '--check', str(tmp_path / 'edited.json')]) == 2
    assert 'does not match the content' in capsys.readouterr().err


def test_out_or_check_is_required(tiny_store, capsys):
    assert main(['--store', str(tiny_store)]) == 2
    assert '--out FILE is required' in capsys.readouterr().err
