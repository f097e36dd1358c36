"""The store interface the loader, split and training code rely on."""

import pickle

import numpy as np
import pytest

from deepearth_training.source_tables import LANGUAGE_DIM
from deepearth_training.store import OBSERVATION_COLUMNS, Store, open_store


def test_interface(tiny_store):
    s = open_store(tiny_store)
    assert isinstance(s, Store) and s.path == tiny_store and len(s) == len(s.observations)
    assert list(s.observations.columns) == OBSERVATION_COLUMNS
    o = s.observations
    assert (o.index == np.arange(len(o))).all() and o.observation_id.is_unique
    assert o.gbif_id.dtype == np.int64 and o.image_index.dtype == np.int64 and o.species_idx.dtype == np.int32
    assert o.year.dtype == np.int64 and all(
        o[c].dtype == np.float64 for c in ('month', 'day', 'hour', 'minute', 'second')
    )
    assert o.has_vision.dtype == bool and o.vision_row.dtype == np.int64
    assert (o.vision_row[~o.has_vision] == -1).all() and (o.image_index[~o.has_vision] == 1).all()
    assert (np.diff(o.vision_row[o.has_vision].to_numpy()) == 1).all() and o.vision_row.max() == len(s.vision) - 1
    assert (o.observation_id == o.gbif_id.astype(str) + '_' + o.image_index.astype(str)).all()
    assert (
        list(s.species.columns[:3]) == ['taxon_id', 'taxon_name', 'n_observations']
        and (s.species.index == np.arange(len(s.species))).all()
    )
    assert (s.species.taxon_name.to_numpy()[o.species_idx] == o.taxon_name.to_numpy()).all()
    assert s.language.shape == (len(s.species), LANGUAGE_DIM) and s.language.dtype == np.float32
    assert (
        s.vision.dtype == np.float16
        and s.vision.shape == (len(s.vision), *s.vision_shape)
        and s.vision_shape == (2, 2, 2, 1408)
    )
    assert s.pooled.dtype == np.float32 and s.pooled.shape == (len(s.vision), 1408)
    m = s.manifest
    assert m['format_version'] == 1 and {'counts', 'shapes', 'dtypes', 'source', 'checksums'} <= set(m)


def test_rows(tiny_store):
    s = open_store(tiny_store)
    ids = s.observations.observation_id.to_numpy()[[5, 0, 17, 5]].tolist()
    r = s.rows(ids)
    assert r.dtype == np.int64 and r.tolist() == [5, 0, 17, 5]
    assert s.rows(ids[0]).tolist() == [5]
    with pytest.raises(KeyError) as e:
        s.rows(ids + [f'{k}_1' for k in range(12)])
    assert (
        '12 unknown' in str(e.value)
        and "'0_1'" in str(e.value)
        and "'9_1'" in str(e.value)
        and "'11_1'" not in str(e.value)
    )


def test_pickle(tiny_store):
    s = open_store(tiny_store)
    blob = pickle.dumps(s)
    t = pickle.loads(blob)
    assert len(blob) < 1000 and isinstance(t.vision, np.memmap) and np.array_equal(t.vision[3], s.vision[3])
    assert t.observations.equals(s.observations) and np.array_equal(t.language, s.language)
