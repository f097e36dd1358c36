"""Loader tests on the tiny synthetic store: values equal the source parquet, errors, workers, unseen species."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from deepearth_training.dates import TIME_FIELDS, UNKNOWN_TIME
from deepearth_training.loader import DeepEarthDataset, get_training_batch, species_mapping
from deepearth_training.store import open_store


@pytest.fixture(scope='module')
def store(tiny_store):
    return open_store(tiny_store)


@pytest.fixture(scope='module')
def source_values(tiny_source, store):
    """Per observation ID, straight from the source parquet files with pyarrow: metadata, language, vision."""
    obs = pq.read_table(tiny_source / 'observations.parquet').to_pandas().set_index('gbif_id')
    vi = pq.read_table(tiny_source / 'vision_index.parquet').to_pandas()
    vi['image_index'] = vi.groupby('gbif_id').cumcount() + 1
    T, H, W, C = store.vision_shape
    vision = {}
    for f, rows in vi.groupby('file_idx'):
        t = pq.read_table(
            tiny_source / 'vision_embeddings' / f'embeddings_{f:06d}.parquet', columns=['gbif_id', 'embedding']
        )
        emb = t.column('embedding').combine_chunks().values.to_numpy(zero_copy_only=False).reshape(len(t), T, H, W, C)
        assert (t.column('gbif_id').to_numpy()[rows.row_idx] == rows.gbif_id.to_numpy()).all()
        for g, k, r in zip(rows.gbif_id, rows.image_index, rows.row_idx):
            vision[f'{g}_{k}'] = emb[r]
    return obs, vision


def _vision_ids(store, n=None):
    ids = store.observations.loc[store.observations.has_vision, 'observation_id'].tolist()
    return ids if n is None else ids[:n]


def test_batch_values_equal_the_source(store, source_values):
    obs, vision = source_values
    rng = np.random.default_rng(0)
    multi = store.observations.observation_id[store.observations.image_index > 1].tolist()
    assert multi, 'the tiny store should have observations with several images'
    ids = list(rng.choice(_vision_ids(store), 24, replace=False)) + multi[:4]
    b = get_training_batch(store, ids)
    gbif = [int(i.split('_')[0]) for i in ids]
    src = obs.loc[gbif]
    assert b['observation_ids'] == ids and b['species'] == src.taxon_name.tolist()
    assert (b['locations'].numpy() == src[['latitude', 'longitude']].to_numpy(np.float32)).all()
    want_t = np.stack(
        [np.where(np.isnan(src[f].to_numpy(float)), UNKNOWN_TIME, src[f].to_numpy(float)) for f in TIME_FIELDS], 1
    )
    assert (b['timestamps'].numpy() == want_t).all() and b['timestamps'].dtype == torch.int64
    assert (b['language_embeddings'].numpy() == np.stack(src.language_embedding.to_numpy()).astype(np.float32)).all()
    want_v = np.stack([vision[i] for i in ids])
    assert b['vision_embeddings'].dtype == torch.float16
    assert (b['vision_embeddings'].numpy() == want_v.astype(np.float16)).all()
    p = get_training_batch(store, ids, pooled=True, include_language=False)['vision_embeddings'].numpy()
    assert p.dtype == np.float32 and np.allclose(p, want_v.mean(axis=(1, 2, 3)), rtol=1e-5, atol=1e-5)


def test_unknown_time_fields_use_the_explicit_code(store):
    obs = store.observations
    has_nan = obs[['month', 'day', 'hour', 'minute', 'second']].isna().any(axis=1)
    assert has_nan.any(), 'the tiny store should have observations with unknown time fields'
    row = obs[has_nan].iloc[0]
    ts = get_training_batch(store, [row.observation_id], include_vision=False)['timestamps'][0].tolist()
    for f, v in zip(TIME_FIELDS, ts):
        assert v == (UNKNOWN_TIME if pd.isna(row[f]) else int(row[f]))


def test_unknown_ids_raise_and_list_them(store):
    ids = _vision_ids(store, 2) + ['999_1', '12_3']
    with pytest.raises(KeyError, match='999_1') as e:
        get_training_batch(store, ids)
    assert '12_3' in str(e.value)
    with pytest.raises(KeyError, match='999_1'):
        DeepEarthDataset(ids, store, mode='language')


def test_missing_vision_is_an_error_not_zeros(store):
    no_vision = store.observations.loc[~store.observations.has_vision, 'observation_id'].tolist()[:3]
    with pytest.raises(ValueError, match=no_vision[0]):
        get_training_batch(store, _vision_ids(store, 1) + no_vision)
    with pytest.raises(ValueError, match=no_vision[0]):
        DeepEarthDataset(no_vision, store, mode='pooled')
    assert DeepEarthDataset(no_vision, store, mode='language')[0]['language_embeddings'].shape == (1, 7168)


@pytest.mark.parametrize('mode', ['multimodal', 'pooled'])
def test_worker_processes_give_the_same_batches(store, mode):
    ds = DeepEarthDataset(_vision_ids(store, 40), store, mode=mode)
    load = lambda workers: list(DataLoader(ds, batch_size=8, collate_fn=DeepEarthDataset.collate, num_workers=workers))
    main, workers = load(0), load(2)
    assert len(main) == len(workers) == 5
    for a, b in zip(main, workers):
        assert a.keys() == b.keys() and a['observation_ids'] == b['observation_ids'] and a['species'] == b['species']
        assert all(torch.equal(a[k], b[k]) for k in a if torch.is_tensor(a[k]))


def test_distributed_sampler_partitions_the_ids(store):
    ds = DeepEarthDataset(_vision_ids(store, 50), store, mode='geo')
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        seen += [
            i
            for b in DataLoader(ds, batch_size=7, sampler=sampler, collate_fn=DeepEarthDataset.collate)
            for i in b['observation_ids']
        ]
    assert len(seen) == 50 and set(seen) == set(ds.observation_ids)


def test_unseen_species_are_flagged_never_relabelled(store):
    ids = _vision_ids(store)
    obs = store.observations.set_index('observation_id').loc[ids]
    held_out = obs.taxon_name.value_counts().index[:2].tolist()
    train = [i for i, s in zip(ids, obs.taxon_name) if s not in held_out]
    mapping = species_mapping(store, train)
    assert list(mapping) == sorted(set(obs.loc[train].taxon_name)) and list(mapping.values()) == list(
        range(len(mapping))
    )
    test = DeepEarthDataset(ids, store, mode='language', species_mapping=mapping)
    unseen = obs.taxon_name.isin(held_out).to_numpy()
    assert test.n_unseen == unseen.sum() > 0
    assert (test.labels[unseen] == -1).all()
    assert (test.labels[~unseen] == obs.taxon_name[~unseen].map(mapping).to_numpy()).all()
    b = test[np.flatnonzero(unseen)[0]]
    assert b['label'].tolist() == [-1] and b['seen'].tolist() == [False]
    batch = DeepEarthDataset.collate(test.__getitems__(list(range(len(ids)))))
    assert (batch['seen'].numpy() == ~unseen).all() and (batch['label'].numpy()[unseen] == -1).all()


def test_species_mapping_needs_training_ids(store):
    with pytest.raises(ValueError, match='at least one'):
        species_mapping(store, [])


def test_a_single_string_is_refused_not_read_character_by_character(store):
    one = _vision_ids(store, 1)[0]
    for call in (
        lambda: get_training_batch(store, one),
        lambda: species_mapping(store, one),
        lambda: DeepEarthDataset(one, store, mode='language'),
    ):
        with pytest.raises(ValueError, match=r'single string .* for a batch of one'):
            call()
    assert get_training_batch(store, [one])['observation_ids'] == [one]
    assert store.rows(one).tolist() == store.rows([one]).tolist()  # Store.rows reads a string as one ID


def test_store_rows_resolves_any_order_repeats_and_numpy_strings(store):
    ids = store.observations.observation_id.tolist()
    ask = [ids[5], ids[0], ids[5], np.str_(ids[-1])]
    assert store.rows(ask).tolist() == [5, 0, 5, len(ids) - 1] and store.rows(ask).dtype == np.int64
    assert store.rows([]).shape == (0,)


def test_kept_batches_are_never_overwritten_by_later_ones(store):
    ids = store.observations.observation_id.tolist()
    vids = _vision_ids(store)
    kept = [
        get_training_batch(store, ids[k * 64 : (k + 1) * 64], include_vision=False) for k in range(3)
    ]  # 1.8 MB: pooled
    kept += [get_training_batch(store, vids[k * 16 : (k + 1) * 16]) for k in range(3)]
    fresh = [get_training_batch(store, ids[k * 64 : (k + 1) * 64], include_vision=False) for k in range(3)]
    fresh += [get_training_batch(store, vids[k * 16 : (k + 1) * 16]) for k in range(3)]
    for a, b in zip(kept, fresh):
        assert all(torch.equal(a[k], b[k]) for k in a if torch.is_tensor(a[k]))
    addresses = {b['language_embeddings'].data_ptr() for b in kept + fresh}
    assert len(addresses) == len(kept + fresh)  # no two live batches share a buffer
    freed = {kept[0]['language_embeddings'].data_ptr(), fresh[0]['language_embeddings'].data_ptr()}
    del kept[0], fresh[0]  # nothing refers to these two batches any more: their buffers go back to the pool
    assert get_training_batch(store, ids[:64], include_vision=False)['language_embeddings'].data_ptr() in freed


def test_dataset_batches_use_the_rows_resolved_once(store, monkeypatch):
    ids = _vision_ids(store, 40)[::-1]
    ds = DeepEarthDataset(ids, store, mode='multimodal_pooled')
    want = get_training_batch(store, ids[3:11], pooled=True)
    monkeypatch.setattr(store, 'rows', lambda *a: pytest.fail('a batch looked its IDs up again'))
    got = ds.__getitems__(list(range(3, 11)))
    assert got['observation_ids'] == ids[3:11]
    assert all(torch.equal(got[k], want[k]) for k in want if torch.is_tensor(want[k]))
