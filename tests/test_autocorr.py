"""The autocorrelation estimate: a continuous range with an interval, stable across seeds, on the real correlogram."""

import json

import numpy as np
import pytest

from deepearth_training.autocorr import (
    BANDS_KM,
    autocorrelation,
    band_pairs,
    observations_autocorrelation,
    spatial_blocks,
    sphere_xyz,
)
from deepearth_training.geo import wrap_lon
from deepearth_training.split import read_split
from deepearth_training.split_command import main as split_main
from deepearth_training.synthetic import synthetic_occurrences

README_RATIOS = [3.92, 2.25, 2.09, 1.57, 1.29, 1.16, 0.98, 0.97]  # /work/shared/real/README.md, 0-0.5 ... 32-64 km


@pytest.fixture(scope='module')
def real():
    return synthetic_occurrences('real-metadata')


def _estimate(preset, correlation_km=None, seed=0):
    o = synthetic_occurrences(preset, seed=seed, correlation_km=correlation_km)
    return observations_autocorrelation(o[o.has_vision])['range_estimate_km']


def test_estimate_follows_the_correlation_scale():
    assert _estimate('default', 3.0) < _estimate('default', 30.0)


def test_real_correlogram_matches_the_published_table(real):
    ac = observations_autocorrelation(real)
    assert ac['exact'] and ac['model'] == 'exponential' and ac['autocorrelated'] and not ac['censored']
    assert all(abs(r - m) < 0.006 for r, m in zip(ac['ratio'], README_RATIOS))  # every pair: the README's table
    assert 10 <= ac['range_estimate_km'] <= 18
    lo, hi = ac['range_ci_km']
    assert lo < ac['range_estimate_km'] < hi == ac['range_km']


def test_range_is_stable_across_seeds(real):
    """The band rule gave 16, 8 or 4 km depending on the seed; with every pair counted the seed only draws the
    bootstrap (weights and interval): the fitted range moves by under 5 %, the buffer by under 25 %."""
    acs = [observations_autocorrelation(real, seed=s) for s in (0, 4, 6)]
    est, buf = [a['range_estimate_km'] for a in acs], [a['range_km'] for a in acs]
    assert max(est) - min(est) < 0.05 * np.median(est)
    assert max(buf) - min(buf) < 0.25 * np.median(buf)


def test_weak_clustering_keeps_a_range():
    """5 % of the points in species blobs of 3 km: too weak for any band to clear 1 + tolerance, still a range."""
    rng = np.random.default_rng(0)
    n, sp = 6000, rng.integers(0, 40, 6000)
    centre = np.column_stack([rng.uniform(28, 29, 40), rng.uniform(-82, -81, 40)])
    lat, lon = centre[sp, 0] + rng.normal(0, 3 / 111, n), centre[sp, 1] + rng.normal(0, 3 / 97.6, n)
    free = rng.uniform(size=n) >= 0.05
    lat[free], lon[free] = rng.uniform(28, 29, free.sum()), rng.uniform(-82, -81, free.sum())
    ac = autocorrelation(lat, lon, sp)
    assert ac['ratio_ci95'][0][0] < 1 + ac['tolerance']
    assert ac['autocorrelated'] and 5 <= ac['range_estimate_km'] <= ac['range_km'] <= 20


def test_deterministic_and_json_ready():
    o = synthetic_occurrences('tiny', seed=0)
    a, b = observations_autocorrelation(o, seed=3), observations_autocorrelation(o, seed=3)
    assert a == b and json.loads(json.dumps(a)) == a


def test_sampled_pairs_lie_in_their_band():
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(28, 29, 200_000), rng.uniform(-82, -81, 200_000)
    xyz = sphere_xyz(lat, lon)
    pairs = band_pairs(xyz, pairs_per_band=20_000)
    for (a, p), lo, hi in zip(pairs, BANDS_KM[:-1], BANDS_KM[1:]):
        d = 2 * 6371.0088 * np.arcsin(np.linalg.norm(xyz[a] - xyz[p], axis=1) / (2 * 6371.0088))
        assert len(a) > 5_000 and (d >= lo).all() and (d < hi).all() and (a != p).all()


def test_uncorrelated_labels_stay_at_the_baseline():
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(28, 29, 50_000), rng.uniform(-82, -81, 50_000)
    ac = autocorrelation(lat, lon, rng.integers(0, 20, 50_000))
    assert not ac['exact'] and not ac['autocorrelated'] and ac['range_km'] == 0
    assert all(lo <= 1 <= hi for lo, hi in ac['ratio_ci95'])


def test_split_buffer_auto(tiny_store, tmp_path):
    out = tmp_path / 'auto.json'
    assert split_main(['--store', str(tiny_store), '--out', str(out), '--buffer-km', 'auto', '--seed', '1']) == 0
    doc = json.loads(out.read_text())
    assert doc['spec']['buffer_km'] == doc['autocorrelation']['range_km'] and doc['autocorrelation']['seed'] == 1
    assert doc['autocorrelation']['range_km'] >= doc['autocorrelation']['range_estimate_km']
    assert read_split(out).content_hash == doc['content_hash']
    with pytest.raises(SystemExit) as e:  # a usage error, before any work
        split_main(['--store', str(tiny_store), '--out', str(tmp_path / 'x.json'), '--buffer-km', 'near'])
    assert e.value.code == 2 and not (tmp_path / 'x.json').exists()


def test_default_preset_matches_the_real_correlogram(real):
    """The generator is calibrated: the default preset's same-species ratio under 0.5 km and fitted range lie near
    the real ones (3.9 and 14 km; before the calibration 11 and 27 km)."""
    o = synthetic_occurrences('default', seed=0)
    syn, ref = observations_autocorrelation(o[o.has_vision]), observations_autocorrelation(real)
    assert abs(syn['ratio'][0] - ref['ratio'][0]) < 0.25 * ref['ratio'][0]
    assert abs(syn['range_estimate_km'] - ref['range_estimate_km']) < 0.3 * ref['range_estimate_km']


def test_bootstrap_blocks_across_the_antimeridian():
    rng = np.random.default_rng(3)
    lat = -17.8 + rng.normal(0, 0.1, 1000)
    lon = wrap_lon(np.r_[179.95 - rng.exponential(0.1, 500), -179.95 + rng.exponential(0.1, 500)])  # half each side
    moved = wrap_lon(lon - 120)  # the same places, away from ±180
    assert np.array_equal(spatial_blocks(lat, lon, 10.0), spatial_blocks(lat, moved, 10.0))
    codes = (lat > -17.8).astype(int)
    assert np.allclose(autocorrelation(lat, lon, codes)['ratio_ci95'], autocorrelation(lat, moved, codes)['ratio_ci95'])
