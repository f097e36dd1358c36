"""Area of applicability: agreement with scipy's distances, the whisker, invariances, extrapolation, bad input."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from deepearth_training.applicability import (
    aoa_threshold,
    area_of_applicability,
    embedding_space,
    space_time_space,
    store_applicability,
)
from deepearth_training.store import open_store


def test_di_matches_scipy_distances():
    rng = np.random.default_rng(1)
    train, query = rng.normal(size=(230, 5)), rng.normal(size=(40, 5)) * 2
    folds = rng.integers(0, 6, 230)
    a = area_of_applicability(train, query, folds)
    unit = pdist(train).mean()
    d = cdist(train, train)
    d[folds[:, None] == folds[None]] = np.inf
    np.testing.assert_allclose(a.mean_distance, unit, rtol=1e-9)
    np.testing.assert_allclose(a.train_di, d.min(1) / unit, rtol=1e-9)
    np.testing.assert_allclose(a.di, cdist(query, train).min(1) / unit, rtol=1e-9)


def test_threshold_is_the_box_plot_whisker():
    x = np.array([0.1, 0.2, 0.2, 0.3, 0.3, 0.35, 0.4, 0.9, 2.0])
    q1, q3 = np.quantile(x, [0.25, 0.75])
    assert aoa_threshold(x) == max(v for v in x if v <= q3 + 1.5 * (q3 - q1)) == 0.4


def test_embedding_di_ignores_the_units_of_each_column():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 8))
    folds = np.arange(300) % 4
    a = area_of_applicability(*embedding_space(x[:250], x[250:], 4), folds[:250])
    b = area_of_applicability(*embedding_space(x[:250] * np.arange(1, 9), x[250:] * np.arange(1, 9), 4), folds[:250])
    np.testing.assert_allclose(a.di, b.di, rtol=1e-6)


def test_a_future_year_and_a_far_place_are_outside_space_time():
    rng = np.random.default_rng(3)
    n = 400
    train = (
        rng.uniform(28.0, 29.0, n),
        rng.uniform(-82.0, -81.0, n),
        rng.integers(2010, 2025, n),
        rng.integers(1, 13, n).astype(float),
        np.full(n, 15.0),
    )
    query = (
        np.array([28.5, 28.5, 31.0]),
        np.array([-81.5, -81.5, -81.5]),
        np.array([2020, 2045, 2020]),
        np.array([6.0, 6.0, np.nan]),
        np.array([15.0, 15.0, np.nan]),
    )
    folds = (np.floor((train[0] - 28) * 4) * 4 + np.floor((train[1] + 82) * 4)).astype(int)
    a = area_of_applicability(*space_time_space(train, query), folds)
    assert a.inside.tolist() == [True, False, False]


def test_bad_input_fails_with_a_reason(tiny_store):
    with pytest.raises(ValueError, match='at least two folds'):
        area_of_applicability(np.zeros((3, 2)), np.zeros((1, 2)), np.zeros(3))
    store = open_store(tiny_store)
    obs = store.observations
    no_vision = obs.observation_id[obs.vision_row < 0].tolist()
    ids = obs.observation_id[obs.vision_row >= 0].tolist()
    with pytest.raises(ValueError, match='needs a vision embedding'):
        store_applicability(store, ids[:100], no_vision[:1], np.arange(100) % 3)


def test_store_applicability_on_the_tiny_store(tiny_store):
    store = open_store(tiny_store)
    ids = store.observations.observation_id[store.observations.vision_row >= 0].tolist()
    ids = [ids[i] for i in np.random.default_rng(0).permutation(len(ids))]  # the store is grouped by species
    aoa = store_applicability(store, ids[:180], ids[180:], np.arange(180) % 5)
    assert set(aoa) == {'embedding', 'space_time'}
    for a in aoa.values():
        assert a.di.shape == (len(ids) - 180,) and np.isfinite(a.di).all() and a.threshold > 0
