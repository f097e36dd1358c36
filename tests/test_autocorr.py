"""The autocorrelation estimate: it follows the generator's correlation scale, matches the real correlogram, scales."""

import json

import numpy as np
import pytest

from deepearth_training.autocorr import BANDS_KM, autocorrelation, band_pairs, observations_autocorrelation, sphere_xyz
from deepearth_training.split import split_hash
from deepearth_training.split_command import main as split_main
from deepearth_training.synthetic import synthetic_occurrences

README_RATIOS = [3.92, 2.25, 2.09, 1.57, 1.29, 1.16, 0.98, 0.97]  # /work/shared/real/README.md, 0-0.5 ... 32-64 km


def _range(preset, correlation_km=None, seed=0):
    o = synthetic_occurrences(preset, seed=seed, correlation_km=correlation_km)
    return observations_autocorrelation(o[o.has_vision])['range_km']


@pytest.mark.parametrize('seed', [0, 1])
def test_estimate_follows_the_correlation_scale(seed):
    """Two scales: the estimated ranges are ordered, and each lies within [1x, 4x] the scale (range radii are
    0.4-1.6 x correlation_km, and same-species pairs reach about two radii; bands are powers of two)."""
    small, large = 5.0, 20.0
    r_small, r_large = _range('default', small, seed), _range('default', large, seed)
    assert r_small < r_large
    assert small <= r_small <= 4 * small and large <= r_large <= 4 * large


def test_real_correlogram_matches_the_published_table():
    o = synthetic_occurrences('real-metadata')
    ac = observations_autocorrelation(o)
    assert ac['range_km'] == 16 and not ac['censored']
    assert all(abs(r - m) < 0.2 * m for r, m in zip(ac['ratio'], README_RATIOS))
    assert all(lo <= r <= hi for r, (lo, hi) in zip(ac['ratio'], ac['ratio_ci95']))
    assert _range('default') == ac['range_km']  # the default preset is calibrated to it


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
    assert ac['range_km'] == 0 and all(lo <= 1 <= hi for lo, hi in ac['ratio_ci95'])


def test_split_buffer_auto(tiny_store, tmp_path):
    out = tmp_path / 'auto.json'
    assert split_main(['--store', str(tiny_store), '--out', str(out), '--buffer-km', 'auto', '--seed', '1']) == 0
    doc = json.loads(out.read_text())
    assert doc['spec']['buffer_km'] == doc['autocorrelation']['range_km'] and doc['autocorrelation']['seed'] == 1
    assert split_hash(out) == doc['content_hash']
    with pytest.raises(SystemExit) as e:  # a usage error, before any work
        split_main(['--store', str(tiny_store), '--out', str(tmp_path / 'x.json'), '--buffer-km', 'near'])
    assert e.value.code == 2 and not (tmp_path / 'x.json').exists()
