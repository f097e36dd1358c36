"""The vision kNN baseline: agreement with a plain per-query loop, ties, bad input, and its place in a run's metrics."""

import json
from collections import Counter

import numpy as np
import pytest

from deepearth_training.neighbours import K_GRID, choose_k, knn_baseline, knn_rank, nearest_rows, unit_rows
from deepearth_training.store import open_store


def loop_knn(ref, ref_species, query, k, m):
    """Reference: for each query, float64 cosines, a stable sort, Counter votes, ties to the species seen first."""
    out = []
    for q in np.asarray(query, np.float64):
        r = np.asarray(ref, np.float64)
        cos = r @ q / (np.linalg.norm(r, axis=1) * np.linalg.norm(q))
        near = sorted(range(len(r)), key=lambda i: (-cos[i], i))[:m]
        votes = Counter(ref_species[i] for i in near[:k])
        first = {}
        for pos, i in enumerate(near):
            first.setdefault(ref_species[i], pos)
        ranked = sorted(first, key=lambda s: (-votes.get(s, 0), first[s]))[:5]
        out.append(ranked + [-1] * (5 - len(ranked)))
    return np.array(out)


@pytest.mark.parametrize('k', [1, 3, 7])
def test_vectorised_knn_matches_a_loop(k):
    rng = np.random.default_rng(k)
    ref = rng.normal(size=(300, 16))
    species = rng.integers(0, 12, 300)
    query = rng.normal(size=(40, 16))
    near = nearest_rows(unit_rows(ref), unit_rows(query), n=20, chunk=7)
    np.testing.assert_array_equal(knn_rank(species[near], k), loop_knn(ref, species, query, k, 20))


@pytest.mark.parametrize('k', [1, 5])
def test_many_exact_ties_match_the_loop(k):
    rng = np.random.default_rng(k)
    ref = rng.integers(1, 3, size=(300, 3)).astype(float)  # 8 distinct directions: ties everywhere
    species = rng.integers(0, 12, 300)
    query = rng.integers(1, 3, size=(30, 3)).astype(float)
    near = nearest_rows(unit_rows(ref), unit_rows(query), n=20, chunk=7)
    np.testing.assert_array_equal(knn_rank(species[near], k), loop_knn(ref, species, query, k, 20))


def test_exact_ties_go_to_the_lower_row_and_repeat():
    ref = unit_rows(np.array([[1.0, 0], [1.0, 0], [0, 1.0], [1.0, 0]]))  # three identical rows
    near = nearest_rows(ref, unit_rows(np.array([[1.0, 0.0]])), n=4)
    np.testing.assert_array_equal(near, [[0, 1, 3, 2]])
    np.testing.assert_array_equal(nearest_rows(ref, unit_rows(np.array([[1.0, 0.0]])), n=2), [[0, 1]])
    species = np.array([5, 4, 9, 4])
    np.testing.assert_array_equal(knn_rank(species[near], 2), [[5, 4, 9, -1, -1]])  # 1 vote each: nearer row wins
    np.testing.assert_array_equal(knn_rank(species[near], 3), [[4, 5, 9, -1, -1]])


def test_skip_self_never_returns_the_query_row():
    x = unit_rows(np.random.default_rng(0).normal(size=(50, 4)))
    near = nearest_rows(x, x, n=5, skip_self=True, chunk=8)
    assert not (near == np.arange(50)[:, None]).any()


def test_choose_k_prefers_the_smaller_k_on_ties():
    species = np.array([[1, 2, 2, 2, 2]] * 3)
    assert choose_k(species, np.array([1, 2, 2]), grid=(1, 3, 5)) == (3, {1: 1 / 3, 3: 2 / 3, 5: 2 / 3})


def test_rows_without_vision_are_named(tiny_store):
    store = open_store(tiny_store)
    obs = store.observations
    no_vision = obs.observation_id[obs.vision_row < 0].tolist()
    with_vision = obs.observation_id[obs.vision_row >= 0].tolist()
    assert no_vision, 'the tiny preset has rows without vision'
    with pytest.raises(ValueError, match=f'observation {no_vision[0]} has no vision embedding'):
        knn_baseline(store, with_vision[:50], [], [no_vision[0]])


def test_knn_baseline_is_deterministic_and_beats_chance(tiny_store):
    store = open_store(tiny_store)
    ids = store.observations.observation_id[store.observations.vision_row >= 0].tolist()
    ids = [ids[i] for i in np.random.default_rng(0).permutation(len(ids))]  # the store is grouped by species
    a = knn_baseline(store, ids[:150], ids[150:180], ids[180:])
    b = knn_baseline(store, ids[:150], ids[150:180], ids[180:])
    np.testing.assert_array_equal(a.topk, b.topk)
    assert a.k == b.k and a.k in K_GRID and a.chosen_on == 'validation'
    truth = store.observations.species_idx.to_numpy()[store.rows(ids[180:])]
    assert (a.topk[:, 0] == truth).mean() > 1 / 20 * 3  # 20 species: far above chance


def test_run_metrics_carry_knn_and_aoa(tiny_store, tmp_path):
    from deepearth_training.split import save_split
    from deepearth_training.holdout import split_from_store
    from deepearth_training.train import TrainConfig, fit

    split = save_split(split_from_store(open_store(tiny_store)), tmp_path / 'split.json')
    fit(
        TrainConfig(
            store=str(tiny_store), split=str(split), out=str(tmp_path / 'run'), mode='geo', epochs=1, progress=False
        )
    )
    doc = json.loads((tmp_path / 'run' / 'metrics.json').read_text())
    for s in ('temporal', 'spatial'):
        f = doc['final'][s]
        assert set(f['knn']) == {'top1', 'top5', 'macro', 'n', 'k', 'chosen_on'}
        assert f['knn']['n'] == f['model']['n'] and f['knn']['chosen_on'] == 'validation'
        assert set(f['aoa']) == {'embedding', 'space_time'}
        for a in f['aoa'].values():
            assert a['inside']['n'] + a['outside']['n'] == f['model']['n'] and a['threshold'] > 0


def test_a_language_run_on_every_row_has_no_vision_baselines(tiny_store, tmp_path):
    from deepearth_training.evaluation import evaluation_context, run_baselines, validation_split
    from deepearth_training.split_spec import SplitSpec
    from deepearth_training.split import read_split, load_train_test_split, save_split
    from deepearth_training.holdout import split_from_store

    store = open_store(tiny_store)
    split = save_split(split_from_store(store, SplitSpec(vision_only=False)), tmp_path / 'split.json')
    train_ids, test_ids = load_train_test_split(split)
    train_ids, val_ids = validation_split(store, train_ids, 0.1)
    context = evaluation_context(store, read_split(split).assignments, train_ids, test_ids)
    assert (store.observations.vision_row.to_numpy()[store.rows(train_ids + test_ids)] < 0).any()
    assert run_baselines(store, context, train_ids, val_ids) is None
