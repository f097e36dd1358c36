"""Intervals over few held-out units: the macro interval contains its figure, bounds stay in range, degrees of freedom."""

import numpy as np

from deepearth_training.evaluation import cluster_ci, unit_ci


def rare_species_rows():
    """Eight units; two rare species per unit (one row each, always wrong), a common species right more often in some units.

    A bootstrap resample lacks some rare species, so every resampled macro figure was above the point figure."""
    units = np.repeat(np.arange(8), 20)
    labels = np.where(np.arange(160) % 20 < 2, 1 + units * 2 + np.arange(160) % 20, 0)
    hits = np.where(labels == 0, (np.arange(160) % (2 + units % 3) == 0).astype(float), 0.0)
    return hits, labels, units


def test_macro_interval_contains_the_macro_figure():
    hits, labels, units = rare_species_rows()
    macro = np.mean([hits[labels == c].mean() for c in np.unique(labels)])
    lo, hi = unit_ci(hits, hits, labels, units)['macro']
    assert lo <= macro <= hi


def test_intervals_stay_inside_zero_one_with_extreme_scores():
    units = np.repeat(np.arange(3), [2, 5, 200])
    hits = np.r_[0.0, 0.0, np.ones(205)]
    for lo, hi in unit_ci(hits, hits, np.zeros(207, int), units).values():
        assert 0.0 <= lo <= hi <= 1.0


def test_difference_interval_is_clipped_to_minus_one_one():
    units = np.repeat(np.arange(3), [3, 3, 100])
    d = np.r_[-np.ones(6), np.ones(100)]
    lo, hi = cluster_ci(d, units, bounds=(-1.0, 1.0))['ci95']
    assert -1.0 <= lo < hi <= 1.0


def test_unequal_units_get_fewer_degrees_of_freedom_than_equal_ones():
    rng = np.random.default_rng(0)
    hits = (rng.random(300) < 0.4).astype(float)
    equal = cluster_ci(hits, np.repeat(np.arange(6), 50))
    unequal = cluster_ci(hits, np.repeat(np.arange(6), [250, 10, 10, 10, 10, 10]))
    assert abs(equal['df'] - 5) < 1e-6 < 5 - unequal['df'] and equal['n_units'] == unequal['n_units'] == 6


def test_one_unit_has_no_interval():
    out = cluster_ci(np.ones(10), np.zeros(10))
    assert out['ci95'] is None and out['n_units'] == 1 and out['estimate'] == 1.0
