"""Evaluation as evidence: the held-out-unit bootstrap, scores by distance, per-occurrence pooling, the validation
blocks (cross-validation over fold files: test_cv_run.py)."""

import numpy as np
import pytest

from deepearth_training.evaluation import (
    by_distance,
    grid_blocks,
    holdout_units,
    occurrence_summary,
    unseen_as_errors,
    validation_split,
)
from deepearth_training.split import load_train_test_split, save_split
from deepearth_training.holdout import make_split
from deepearth_training.geo import nearest_km
from deepearth_training.store import open_store


def test_holdout_units_are_regions_for_spatial_rows_and_blocks_otherwise():
    reasons = np.array(['spatial_test_region_2', 'temporal_test', 'temporal_test', 'spatial_test_region_2'])
    lat, lon = np.array([28.0, 28.0, 28.6, 28.9]), np.array([-81.0, -81.0, -81.5, -81.9])
    u = holdout_units(reasons, lat, lon)
    assert u[0] == u[3] == 'spatial_test_region_2' and u[1].startswith('block_') and u[1] != u[2]


def test_by_distance_uses_the_nearest_training_row(tiny_store):
    store = open_store(tiny_store)
    obs = store.observations
    lat, lon = obs.latitude.to_numpy(), obs.longitude.to_numpy()
    d = nearest_km(lat[:50], lon[:50], lat[50:], lon[50:])
    bands = by_distance(np.ones(50), d)
    assert sum(b['n'] for b in bands) == 50 and bands[-1]['band_km'][1] is None
    for b in bands:
        lo, hi = b['band_km']
        assert b['n'] == int(((d >= lo) & (d < (np.inf if hi is None else hi))).sum())


def test_occurrence_pooling_and_unseen_errors():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    labels, gbif = np.array([0, 0, 1, -1, 1]), np.array([10, 10, 11, 12, 11])
    occ = occurrence_summary(logits, labels, gbif)
    assert occ == {'top1': 1.0, 'top5': 1.0, 'macro': 1.0, 'n': 2}  # occurrence 12 is of an unseen species
    hit = (logits.argmax(1) == labels).astype(float)
    u = unseen_as_errors(hit, np.where(labels >= 0, 1.0, 0.0), labels, np.array([4, 4, 5, 6, 5]))
    assert u['n'] == 5 and u['top1'] == pytest.approx(3 / 5) and u['top5'] == pytest.approx(4 / 5)


def test_validation_blocks_are_whole_and_seeded(tiny_store, tmp_path):
    store = open_store(tiny_store)
    train_ids, _ = load_train_test_split(save_split(make_split(store.observations), tmp_path / 's.json'))
    fit_ids, val_ids = validation_split(store, train_ids, 0.2, seed=4)
    assert sorted(fit_ids + val_ids) == sorted(train_ids) and len(val_ids) >= 0.2 * len(train_ids)
    rows = store.rows(train_ids)
    blocks = grid_blocks(store.observations.latitude.to_numpy()[rows], store.observations.longitude.to_numpy()[rows])
    in_val = np.isin(train_ids, val_ids)
    assert not set(blocks[in_val]) & set(blocks[~in_val])
    assert (
        validation_split(store, train_ids, 0.2, seed=4)
        == (fit_ids, val_ids)
        != validation_split(store, train_ids, 0.2, seed=5)
    )
