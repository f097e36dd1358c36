"""Data a hostile or careless user can hand the library: impossible values in a source, IDs beyond int64, a store
being prepared by another process, a shared machine's umask, an empty store path, a user's files under --overwrite."""

import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepearth_training.ids import INT64_MAX, create_observation_ids
from deepearth_training.source_tables import OBSERVATIONS
from deepearth_training.prepare import main
from deepearth_training.store import open_store

ROW = 4  # the row each bad-source case damages


def with_values(src, dst, **changes):
    """Copy the source `src` to `dst`, changing observations: column=value at row ROW; return (dst, gbif_id of ROW)."""
    shutil.copytree(src, dst)
    t = pq.read_table(dst / OBSERVATIONS)
    for c, value in changes.items():
        v = t.column(c).to_pylist()
        v[ROW] = value
        t = t.set_column(t.column_names.index(c), c, pa.array(v, t.schema.field(c).type))
    pq.write_table(t, dst / OBSERVATIONS)
    return dst, t.column('gbif_id')[ROW].as_py()


def no_store_left(store):
    """Neither the store, its partial build nor its lock file exists."""
    return not any(
        p.exists() for p in (store, store.parent / f'.{store.name}.partial', store.parent / f'.{store.name}.lock')
    )


def fails_cli(capsys, *argv):
    """Run deepearth-prepare in-process; it must exit 2 with one `error:` line; return that line."""
    assert main(list(map(str, argv))) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1, err
    return err


@pytest.mark.parametrize(
    'changes,words',
    [
        (dict(year=3_000_000_000), ['year 3000000000.0 at row 4 is not an integer in 1..9999']),
        (dict(year=-5), ['year -5.0 at row 4']),
        (dict(month=13.0), ['month 13.0 at row 4 is not an integer in 1..12']),
        (dict(day=40.0), ['day 40.0 at row 4 is not an integer in 1..31']),
        (dict(year=2023, month=2.0, day=30.0), ['day 30.0 at row 4 does not exist in 2023-02']),
        (dict(hour=10.5), ['hour 10.5 at row 4 is not an integer in 0..23']),
        (dict(hour=-3.0), ['hour -3.0 at row 4']),
        (dict(taxon_name=''), ['taxon_name is empty']),
        (dict(taxon_name=' \t'), ['taxon_name is empty']),
    ],
    ids=['year-3e9', 'year-neg', 'month-13', 'day-40', 'feb-30', 'hour-10.5', 'hour-neg', 'name-empty', 'name-blank'],
)
def test_impossible_value(tiny_source, tmp_path, capsys, changes, words):
    bad, gbif_id = with_values(tiny_source, tmp_path / 'bad', **changes)
    err = fails_cli(capsys, '--source', bad, '--store', tmp_path / 'S', '--quiet')
    for w in [f'{OBSERVATIONS}: gbif_id {gbif_id}: ', *words]:
        assert w in err, (w, err)
    assert no_store_left(tmp_path / 'S')


def test_two_ids_one_name_and_one_id_two_names(tiny_source, tmp_path, capsys):
    t = pq.read_table(tiny_source / OBSERVATIONS, columns=['gbif_id', 'taxon_id', 'taxon_name']).to_pandas()
    first = t[t.taxon_id == t.taxon_id[ROW]].iloc[0]  # the first row of ROW's species
    other = t[t.taxon_id != t.taxon_id[ROW]].iloc[0]
    bad, g = with_values(tiny_source, tmp_path / 'ids', taxon_id=999)
    err = fails_cli(capsys, '--source', bad, '--store', tmp_path / 'S')
    assert (
        f"taxon_name '{first.taxon_name}' has several taxon_id values, '{first.taxon_id}' (gbif_id {first.gbif_id}) "
        f"and '999' (gbif_id {g})"
    ) in err, err
    bad, g = with_values(tiny_source, tmp_path / 'names', taxon_name=other.taxon_name)
    err = fails_cli(capsys, '--source', bad, '--store', tmp_path / 'S')
    assert (
        f"taxon_id '{first.taxon_id}' has several taxon_name values, '{first.taxon_name}' (gbif_id {first.gbif_id}) "
        f"and '{other.taxon_name}' (gbif_id {g})"
    ) in err, err
    assert no_store_left(tmp_path / 'S')


def test_console_script_bad_source(tiny_source, tmp_path):
    bad, g = with_values(tiny_source, tmp_path / 'bad', month=13.0)
    r = subprocess.run(
        ['deepearth-prepare', '--source', str(bad), '--store', str(tmp_path / 'S'), '--quiet'],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.startswith('error: ') and r.stderr.count('\n') == 1, r.stderr
    assert f'gbif_id {g}: month 13.0' in r.stderr and no_store_left(tmp_path / 'S')


@pytest.mark.parametrize(
    'gbif_ids,image_indices,words',
    [
        (np.array([1, 2**63], np.uint64), None, f'gbif_id at position 1 must be in [0, {INT64_MAX}], got {2**63}'),
        (np.array([2**64 - 1], np.uint64), None, 'gbif_id at position 0'),
        ([7, 8, 2**63], None, f'at position 2: gbif_id must be in [0, {INT64_MAX}], got {2**63}'),
        ([7, 2**70], None, 'at position 1: gbif_id must be in'),
        ([7, 8], np.array([1, 2**63], np.uint64), 'image_index at position 1'),
        ([7, 8], [1, 2**64], 'at position 1: image_index must be in'),
    ],
)
def test_ids_beyond_int64(gbif_ids, image_indices, words):
    with pytest.raises(ValueError) as e:
        create_observation_ids(gbif_ids, image_indices)
    assert words in str(e.value)


HOLD = """import sys
from deepearth_training.files import pid_lock
with pid_lock(sys.argv[1]):
    print('held', flush=True)
    sys.stdin.read()
"""


def test_live_lock_then_rerun(tiny_source, tmp_path):
    store = tmp_path / 'S'
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD, str(tmp_path / '.S.lock')],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == 'held\n'
        r = subprocess.run(
            ['deepearth-prepare', '--source', str(tiny_source), '--store', str(store), '--quiet'],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr
        assert r.stderr.startswith(f'error: {tmp_path / ".S.lock"}: in use by running process {holder.pid}'), r.stderr
        assert not store.exists() and not (tmp_path / '.S.partial').exists()
    finally:
        holder.communicate('')
    assert holder.returncode == 0 and not (tmp_path / '.S.lock').exists()
    r = subprocess.run(
        ['deepearth-prepare', '--source', str(tiny_source), '--store', str(store), '--quiet'],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert len(open_store(store)) > 0 and not (tmp_path / '.S.lock').exists()


@pytest.mark.parametrize(
    'umask,file_mode,dir_mode', [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)]
)
def test_store_respects_umask(tiny_source, tmp_path, umask, file_mode, dir_mode):
    store = tmp_path / 'S'
    r = subprocess.run(
        ['deepearth-prepare', '--source', str(tiny_source), '--store', str(store), '--quiet'],
        capture_output=True,
        text=True,
        umask=umask,
    )
    assert r.returncode == 0, r.stderr
    paths = [store, *store.rglob('*')]
    assert len(paths) > 5
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in paths}
    want = {k: dir_mode if (tmp_path / k).is_dir() else file_mode for k in modes}
    assert modes == want
    assert sorted(p.name for p in tmp_path.iterdir()) == ['S']  # no temporaries, lock or partial left beside it


def test_empty_store_path():
    with pytest.raises(ValueError, match='store path is empty'):
        open_store('')
    with pytest.raises(ValueError, match='store path is empty'):
        open_store('  ')


def test_empty_store_path_cli(capsys):
    assert 'store path is empty' in fails_cli(capsys, '--verify', '--store', '')


def test_overwrite_keeps_user_files(tiny_source, tiny_store, tmp_path, capsys):
    mine = tmp_path / 'mydir'
    mine.mkdir()
    (mine / 'thesis.tex').write_text('chapter one')
    err = fails_cli(capsys, '--source', tiny_source, '--store', mine, '--overwrite', '--quiet')
    assert 'not a store made by deepearth-prepare' in err and (mine / 'thesis.tex').read_text() == 'chapter one'
    store = shutil.copytree(tiny_store, tmp_path / 'store')  # a real store, with a user's file put inside it
    (store / 'thesis.tex').write_text('chapter two')
    err = fails_cli(capsys, '--source', tiny_source, '--store', store, '--dtype', 'float32', '--overwrite', '--quiet')
    assert (
        'thesis.tex' in err
        and (store / 'thesis.tex').read_text() == 'chapter two'
        and open_store(store).vision.dtype == np.float16
    )
    err = fails_cli(capsys, '--source', tiny_source, '--store', tiny_source, '--overwrite', '--quiet')
    assert 'overlap' in err and (tiny_source / OBSERVATIONS).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mydir', 'store']
    assert os.listdir(mine) == ['thesis.tex']
