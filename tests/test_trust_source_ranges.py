"""Numbers read from a source are range-checked before anything is built: a bad grid is one line, no store, no partial."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepearth_training.prepare import main as prepare_main
from deepearth_training.source_tables import GRID_METADATA_KEY, VISION_DIR


def with_shards(tiny_source, tmp_path, grid_text: str, original_shape: str | None = None, empty: bool = False):
    """A copy of the tiny source whose every shard says token grid `grid_text` (and `original_shape`, empty rows)."""
    src = shutil.copytree(tiny_source, tmp_path / 'src')
    for p in sorted((src / VISION_DIR).glob('*.parquet')):
        t = pq.read_table(p)
        if original_shape is not None:
            t = t.set_column(2, 'original_shape', pa.array([original_shape] * len(t)))
        if empty:
            t = t.set_column(1, 'embedding', pa.array([[]] * len(t), pa.list_(pa.float32())))
        meta = {**(t.schema.metadata or {}), GRID_METADATA_KEY.encode(): grid_text.encode()}
        pq.write_table(t.replace_schema_metadata(meta), p)
    return src


def prepare_fails(src, tmp_path, capsys) -> str:
    """Run deepearth-prepare on `src`; it must fail in one line and leave no store, partial folder or lock."""
    assert prepare_main(['--source', str(src), '--store', str(tmp_path / 'store'), '--quiet']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['src']
    return err[0]


def test_negative_grid_in_metadata(tiny_source, tmp_path, capsys):
    src = with_shards(tiny_source, tmp_path, json.dumps([-2, -2, 2, 1408]))  # product = 8 x 1408, as the rows say
    assert 'token grid [-2, -2, 2, 1408] has a dimension below 1' in prepare_fails(src, tmp_path, capsys)


def test_zero_frames(tiny_source, tmp_path, capsys):
    src = with_shards(tiny_source, tmp_path, json.dumps([0, 2, 2, 1408]), '[0, 1408]', empty=True)
    assert 'token grid [0, 2, 2, 1408] has a dimension below 1' in prepare_fails(src, tmp_path, capsys)


def test_absurd_grid(tiny_source, tmp_path, capsys):
    src = with_shards(tiny_source, tmp_path, json.dumps([1 << 20, 1 << 10, 1, 1408]), f'[{1 << 30}, 1408]')
    assert 'damaged metadata' in prepare_fails(src, tmp_path, capsys)


@pytest.mark.parametrize('text', ['[8, 24, 24]', '[2.5, 2, 2, 1408]', '"big"', 'not json'])
def test_malformed_grid(text, tiny_source, tmp_path, capsys):
    src = with_shards(tiny_source, tmp_path, text)
    err = prepare_fails(src, tmp_path, capsys)
    assert 'embeddings_000000.parquet' in err and ('not four integers' in err or 'not JSON' in err), err
