"""Every kind of bad source gives one clear line naming the file (and gbif_id) and leaves no store behind."""

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepearth_training.source_tables import OBSERVATIONS, VISION_DIR, VISION_INDEX, check_columns, shard_name
from deepearth_training.source import parse_original_shape, read_source
from deepearth_training.prepare import prepare_store


@pytest.fixture
def src(tiny_source, tmp_path):
    """A private copy of the tiny source that a test may damage."""
    return shutil.copytree(tiny_source, tmp_path / 'src')


def rewrite(path, fn):
    """Rewrite a Parquet file through fn(table) -> table, keeping its schema metadata."""
    t = pq.read_table(path)
    pq.write_table(fn(t).replace_schema_metadata(t.schema.metadata), path)


def set_embedding(path, row, fn):
    """Replace the embedding list of one shard row by fn(list)."""

    def f(t):
        e = t.column('embedding').to_pylist()
        e[row] = fn(e[row])
        return t.set_column(
            t.column_names.index('embedding'), 'embedding', pa.array(e, t.schema.field('embedding').type)
        )

    rewrite(path, f)
    return pq.read_table(path, columns=['gbif_id']).column(0)[row].as_py()


def fails(src, tmp_path, *words, exc=ValueError):
    """prepare_store must raise exc with a one-line message containing words, and leave no store or partial dir."""
    with pytest.raises(exc) as e:
        prepare_store(src, tmp_path / 'store', progress=False)
    msg = str(e.value)
    assert '\n' not in msg, msg
    for w in words:
        assert str(w) in msg, (w, msg)
    assert not (tmp_path / 'store').exists() and not (tmp_path / '.store.partial').exists()
    return msg


def test_truncated_embedding(src, tmp_path):
    shard = src / VISION_DIR / shard_name(1)
    g = set_embedding(shard, 4, lambda e: e[:-3])
    fails(src, tmp_path, shard_name(1), f'gbif_id {g}', f'{8 * 1408 - 3} values')


@pytest.mark.parametrize('shape', ['[8, 1407]', '[9, 1408]', '[8; 1408]', '8x1408'])
def test_wrong_original_shape(src, tmp_path, shape):
    shard = src / VISION_DIR / shard_name(2)

    def f(t):
        s = t.column('original_shape').to_pylist()
        s[3] = shape
        return t.set_column(2, 'original_shape', pa.array(s))

    rewrite(shard, f)
    g = pq.read_table(shard).column('gbif_id')[3].as_py()
    fails(src, tmp_path, shard_name(2), f'gbif_id {g}', shape)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_embedding(src, tmp_path, bad):
    shard = src / VISION_DIR / shard_name(0)
    g = set_embedding(shard, 7, lambda e: e[:50] + [bad] + e[51:])
    fails(src, tmp_path, shard_name(0), f'gbif_id {g}', 'non-finite')


def test_null_inside_embedding(src, tmp_path):
    shard = src / VISION_DIR / shard_name(0)
    g = set_embedding(shard, 2, lambda e: e[:5] + [None] + e[6:])
    fails(src, tmp_path, shard_name(0), f'gbif_id {g}', 'null')


def test_float16_overflow(src, tmp_path):
    shard = src / VISION_DIR / shard_name(0)
    g = set_embedding(shard, 1, lambda e: e[:5] + [1e6] + e[6:])
    fails(src, tmp_path, shard_name(0), f'gbif_id {g}', 'float16 range', "dtype='float32'")
    s = prepare_store(src, tmp_path / 'f32', dtype='float32', progress=False)
    assert np.load(s / 'vision.npy').max() == 1e6


def test_missing_shard(src, tmp_path):
    (src / VISION_DIR / shard_name(3)).unlink()
    fails(src, tmp_path, shard_name(3), 'not found', exc=FileNotFoundError)


def test_duplicate_gbif_rows(src, tmp_path):
    rewrite(src / OBSERVATIONS, lambda t: pa.concat_tables([t, t.slice(10, 1)]))
    g = pq.read_table(src / OBSERVATIONS, columns=['gbif_id']).column(0)[10].as_py()
    fails(src, tmp_path, OBSERVATIONS, f'gbif_id {g}', '2 rows')


def test_inconsistent_language(src, tmp_path):
    t = pq.read_table(src / OBSERVATIONS)
    taxon = t.column('taxon_id').to_numpy()
    k = int(np.flatnonzero(taxon == taxon[0])[3])  # 4th row of the first species

    def f(t):
        lang = t.column('language_embedding').to_pylist()
        lang[k][100] += 1e-3
        return t.set_column(
            t.column_names.index('language_embedding'), 'language_embedding', pa.array(lang, pa.list_(pa.float32()))
        )

    rewrite(src / OBSERVATIONS, f)
    gk, g0 = t.column('gbif_id')[k].as_py(), t.column('gbif_id')[0].as_py()
    fails(src, tmp_path, OBSERVATIONS, f'gbif_id {gk}', f'gbif_id {g0}', 'language_embedding differs')


def test_language_wrong_length_and_nan(src, tmp_path):
    def f(t, fn):
        lang = t.column('language_embedding').to_pylist()
        lang[5] = fn(lang[5])
        return t.set_column(
            t.column_names.index('language_embedding'), 'language_embedding', pa.array(lang, pa.list_(pa.float32()))
        )

    g = pq.read_table(src / OBSERVATIONS, columns=['gbif_id']).column(0)[5].as_py()
    rewrite(src / OBSERVATIONS, lambda t: f(t, lambda v: v[:-1]))
    fails(src, tmp_path, f'gbif_id {g}', '7167 values')
    rewrite(src / OBSERVATIONS, lambda t: f(t, lambda v: v + [0.0] if len(v) == 7167 else v))
    rewrite(src / OBSERVATIONS, lambda t: f(t, lambda v: [float('nan')] + v[1:]))
    fails(src, tmp_path, f'gbif_id {g}', 'non-finite')


@pytest.mark.parametrize(
    'file,column',
    [
        (OBSERVATIONS, 'year'),
        (OBSERVATIONS, 'language_embedding'),
        (OBSERVATIONS, 'taxon_id'),
        (VISION_INDEX, 'row_idx'),
        (f'{VISION_DIR}/{shard_name(0)}', 'original_shape'),
    ],
)
def test_missing_column(src, tmp_path, file, column):
    rewrite(src / file, lambda t: t.drop_columns([column]))
    fails(src, tmp_path, file.split('/')[-1], 'missing required column', column)


def test_wrong_column_type(src, tmp_path):
    rewrite(
        src / OBSERVATIONS,
        lambda t: t.set_column(t.column_names.index('latitude'), 'latitude', t.column('latitude').cast(pa.string())),
    )
    fails(src, tmp_path, OBSERVATIONS, 'latitude', 'unsupported type')


def test_index_disagrees_with_shard(src, tmp_path):
    vi = pq.read_table(src / VISION_INDEX).to_pandas()
    a, b = vi.index[(vi.file_idx == 0)][:2]
    vi.loc[[a, b], 'row_idx'] = vi.loc[[b, a], 'row_idx'].to_numpy()  # swap two rows of shard 0
    if vi.gbif_id[a] == vi.gbif_id[b]:
        pytest.skip('same observation')
    pq.write_table(pa.Table.from_pandas(vi, preserve_index=False), src / VISION_INDEX)
    fails(src, tmp_path, shard_name(0), 'holds gbif_id')


def test_index_count_mismatch(src, tmp_path):
    vi = pq.read_table(src / VISION_INDEX)
    g = vi.column('gbif_id')[0].as_py()
    pq.write_table(vi.slice(1), src / VISION_INDEX)
    fails(src, tmp_path, VISION_INDEX, f'gbif_id {g}', 'num_vision_embeddings')


def test_duplicate_index_entry(src, tmp_path):
    vi = pq.read_table(src / VISION_INDEX)
    pq.write_table(pa.concat_tables([vi, vi.slice(0, 1)]), src / VISION_INDEX)
    fails(src, tmp_path, VISION_INDEX, 'listed twice')


def test_unknown_gbif_in_index(src, tmp_path):
    vi = pq.read_table(src / VISION_INDEX).to_pandas()
    vi.loc[0, 'gbif_id'] = 12345
    pq.write_table(pa.Table.from_pandas(vi, preserve_index=False), src / VISION_INDEX)
    fails(src, tmp_path, VISION_INDEX, 'gbif_id 12345', 'not in')


def test_has_vision_inconsistent(src, tmp_path):
    t = pq.read_table(src / OBSERVATIONS)
    k = int(np.flatnonzero(t.column('has_vision').to_numpy(zero_copy_only=False))[0])
    hv = t.column('has_vision').to_pylist()
    hv[k] = False
    rewrite(src / OBSERVATIONS, lambda t: t.set_column(t.column_names.index('has_vision'), 'has_vision', pa.array(hv)))
    fails(src, tmp_path, OBSERVATIONS, f'gbif_id {t.column("gbif_id")[k]}', 'has_vision')


def test_taxon_with_two_names(src, tmp_path):
    t = pq.read_table(src / OBSERVATIONS)
    names = t.column('taxon_name').to_pylist()
    names[1] = names[1] + ' var. other'
    rewrite(
        src / OBSERVATIONS, lambda t: t.set_column(t.column_names.index('taxon_name'), 'taxon_name', pa.array(names))
    )
    fails(src, tmp_path, OBSERVATIONS, 'several taxon_name')


def test_bad_coordinates(src, tmp_path):
    t = pq.read_table(src / OBSERVATIONS)
    lat = t.column('latitude').to_pylist()
    lat[3] = float('nan')
    rewrite(src / OBSERVATIONS, lambda t: t.set_column(t.column_names.index('latitude'), 'latitude', pa.array(lat)))
    fails(src, tmp_path, f'gbif_id {t.column("gbif_id")[3]}', 'invalid coordinates')


def test_unreadable_file(src, tmp_path):
    (src / VISION_INDEX).write_bytes(b'not parquet')
    fails(src, tmp_path, VISION_INDEX, 'not a readable Parquet file')


def test_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match='source directory not found'):
        read_source(tmp_path / 'nowhere')


def test_check_columns_and_shape_parser(tiny_source):
    assert 'split' in check_columns(tiny_source / OBSERVATIONS, {}).names
    assert parse_original_shape(' [4608,1408] ') == (4608, 1408)
    with pytest.raises(ValueError, match='malformed original_shape'):
        parse_original_shape('[4608, 1408')


def test_vision_file_indices(src, tmp_path):
    """vision_file_indices must name the files of the index (as a set: once per file or once per embedding)."""
    t = pq.read_table(src / OBSERVATIONS)
    vfi = t.column('vision_file_indices').to_pylist()
    k = next(i for i, v in enumerate(vfi) if len(v) == 1)
    set_vfi = lambda v: rewrite(
        src / OBSERVATIONS,
        lambda t: t.set_column(
            t.column_names.index('vision_file_indices'), 'vision_file_indices', pa.array(v, pa.list_(pa.int64()))
        ),
    )
    set_vfi(vfi[:k] + [vfi[k] * 2] + vfi[k + 1 :])  # the same file listed twice: same set, accepted
    read_source(src)
    set_vfi(vfi[:k] + [[vfi[k][0] + 1]] + vfi[k + 1 :])
    fails(src, tmp_path, VISION_INDEX, f'gbif_id {t.column("gbif_id")[k]}', 'vision_file_indices')


def test_unlisted_shard_row(src, tmp_path, capsys):
    """A shard row that the index does not list belongs to no observation: warned about, counted, not stored."""
    shard = src / VISION_DIR / shard_name(0)
    rewrite(shard, lambda t: pa.concat_tables([t, t.slice(0, 1).set_column(0, 'gbif_id', pa.array([777], pa.int64()))]))
    assert read_source(src).unlisted.gbif_id.tolist() == [777]
    with pytest.warns(UserWarning, match=r'1 shard row\(s\) are not listed.*gbif_id 777'):
        s = prepare_store(src, tmp_path / 'store', progress=False)
    from deepearth_training.prepare import main
    from deepearth_training.store import open_store

    store = open_store(s)
    assert store.manifest['counts']['unlisted_shard_rows'] == 1 and 777 not in store.observations.gbif_id.tolist()
    assert main(['--source', str(src), '--store', str(tmp_path / 'cli'), '--quiet']) == 0
    assert capsys.readouterr().err.startswith('warning: 1 shard row(s)')
