"""Prepared values equal the source values exactly (up to the float16 cast), for every image of every observation."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepearth_training.source_tables import OBSERVATIONS, VISION_DIR, shard_name
from deepearth_training.prepare import prepare_store
from deepearth_training.store import open_store, verify_store
from deepearth_training.synthetic import make_synthetic_dataset
from helpers import check_store


def test_float16_store_equals_source(tiny_source, tiny_store):
    s = check_store(tiny_store, tiny_source, np.float16)
    assert (
        (s.observations.image_index > 1).any()
        and s.observations.hour.isna().any()
        and (~s.observations.has_vision).any()
    )


def test_float32_store_equals_source(tiny_source, tmp_path):
    s = check_store(
        prepare_store(tiny_source, tmp_path / 'f32', dtype='float32', progress=False), tiny_source, np.float32
    )
    assert s.vision.dtype == np.float32 and s.manifest['dtypes']['vision'] == 'float32'


def test_float16_source_lists(tmp_path, tiny_store):
    src = make_synthetic_dataset(tmp_path / 'src16', 'tiny', seed=0, source_dtype='float16', progress=False)
    assert pq.read_schema(src / VISION_DIR / shard_name(0)).field('embedding').type.value_type == pa.float16()
    s = check_store(prepare_store(src, tmp_path / 'store', progress=False), src, np.float16)
    # the tiny preset's values are float16-representable, so float16 and float32 sources give the same vision bytes
    assert s.manifest['checksums']['vision.npy'] == open_store(tiny_store).manifest['checksums']['vision.npy']


def test_taxon_id_as_string(tiny_source, tiny_store, tmp_path):
    import shutil

    src = shutil.copytree(tiny_source, tmp_path / 'src')
    t = pq.read_table(src / OBSERVATIONS)
    t = t.set_column(t.column_names.index('taxon_id'), 'taxon_id', t.column('taxon_id').cast(pa.string()))
    pq.write_table(t, src / OBSERVATIONS)
    s, ref = open_store(prepare_store(src, tmp_path / 'store', progress=False)), open_store(tiny_store)
    assert s.observations.equals(ref.observations) and s.species.equals(ref.species)
    assert np.array_equal(s.language, ref.language)


def test_multi_image_rows(tiny_store):
    s = open_store(tiny_store)
    o = s.observations
    multi = o.groupby('gbif_id').image_index.max()
    g = multi.index[multi > 1][0]
    rows = s.rows([f'{g}_{k}' for k in range(1, multi[g] + 1)])
    vr = o.vision_row.to_numpy()[rows]
    assert (vr >= 0).all() and len(set(vr)) == len(vr)
    assert not any(np.array_equal(s.vision[vr[0]], s.vision[v]) for v in vr[1:])  # distinct images
    with pytest.raises(KeyError):
        s.rows([f'{g}_{multi[g] + 1}'])


def test_nan_times_kept(tiny_store, tiny_source):
    o = open_store(tiny_store).observations
    so = pq.read_table(tiny_source / OBSERVATIONS, columns=['gbif_id', 'hour', 'day']).to_pandas().set_index('gbif_id')
    first = o[o.image_index == 1].set_index('gbif_id')
    assert first.hour.isna().sum() == so.hour.isna().sum() > 0
    assert (first.hour.isna() == so.hour.isna()).all()


def test_species_table(tiny_store):
    s = open_store(tiny_store)
    sp, o = s.species, s.observations
    assert sp.taxon_id.is_unique and list(sp.taxon_name) == sorted(sp.taxon_name)
    assert (sp.n_observations.to_numpy() == np.bincount(o.species_idx, minlength=len(sp))).all()
    assert (sp.n_with_vision.to_numpy() == np.bincount(o.species_idx[o.has_vision], minlength=len(sp))).all()


def test_verify(tiny_store):
    assert verify_store(tiny_store, progress=False)


def test_integer_time_columns(tiny_source, tiny_store, tmp_path):
    """month/day/... stored as integers (no nulls) are accepted and read as float64."""
    import shutil

    src = shutil.copytree(tiny_source, tmp_path / 'src')
    t = pq.read_table(src / OBSERVATIONS)
    month = t.column('month').cast(pa.int64())
    pq.write_table(t.set_column(t.column_names.index('month'), 'month', month), src / OBSERVATIONS)
    s, ref = open_store(prepare_store(src, tmp_path / 'store', progress=False)), open_store(tiny_store)
    assert s.observations.month.dtype == np.float64 and s.observations.equals(ref.observations)


@pytest.mark.parametrize('seed,grid', [(1, (3, 2, 5, 1408)), (2, (1, 4, 1, 1408))])
def test_other_grids_and_seeds(tmp_path, seed, grid):
    """Non-square token grids keep every value in place (no transposed or shifted axes)."""
    src = make_synthetic_dataset(
        tmp_path / 'src', 'tiny', seed=seed, n_observations=80, n_species=7, grid=grid, progress=False
    )
    s = check_store(prepare_store(src, tmp_path / 'store', progress=False), src, np.float16)
    assert s.vision_shape == grid
