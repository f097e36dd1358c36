"""Hostile geography: observations around the antimeridian and the poles, and absurd region requests."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from deepearth_training import regions
from deepearth_training.geo import distance_to_region_km, grown_bounds, in_region, local_xy_km, square_region
from deepearth_training.holdout import assign_split, make_split
from deepearth_training.split_spec import SplitSpec
from deepearth_training.prepare import prepare_store
from helpers import geod_km, observations


def haversine_km(lat1, lon1, lat2, lon2, r=6371.0088):
    """Great-circle km on a sphere, written out here: an independent check of the ellipsoidal code."""
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def to_fiji(lat, lon):
    """Move Central Florida (28.5 N, 81.4 W) to Fiji: latitude about -17.7, longitudes across ±180."""
    return np.asarray(lat) - 28.5 - 17.7, (np.asarray(lon) + 81.4 + 360) % 360 - 180


def fiji_observations(n=2500, seed=0):
    obs = observations(n, seed)
    obs['latitude'], obs['longitude'] = to_fiji(obs.latitude, obs.longitude)
    return obs


def test_bounds_stay_within_plus_minus_180():
    b = square_region(-17.7, [179.98, -179.98, 180.0, -180.0], 10)
    assert (np.abs(b) <= 180).all()
    g = grown_bounds(b, 5.0)
    assert (np.abs(g) <= 180).all() and (np.abs(g[:, :2]) <= 90).all()


def test_membership_and_distance_across_the_antimeridian():
    box = square_region(-17.7, 179.98, 10)  # crosses ±180
    lon = np.array([179.95, 180.0, -180.0, -179.99, 179.9, -179.9])
    assert in_region(-17.7, lon, box).tolist() == [True, True, True, True, False, False]
    rng = np.random.default_rng(0)
    plat, plon = rng.uniform(-17.9, -17.5, 400), rng.uniform(179.7, 180.3, 400)
    plon = (plon + 180) % 360 - 180
    ours = distance_to_region_km(plat, plon, box)
    # independent: pyproj distance to 2,000 points along each edge, the edge longitudes unwrapped then wrapped
    s, n, w, e = square_region(-17.7, 179.98, 10)
    edge_lon = (np.linspace(w, e + 360, 2000) + 180) % 360 - 180
    edge_lat = np.linspace(s, n, 2000)
    pts = np.r_[np.c_[np.full(2000, s), edge_lon], np.c_[np.full(2000, n), edge_lon]]
    pts = np.r_[pts, np.c_[edge_lat, np.full(2000, w)], np.c_[edge_lat, np.full(2000, e)]]
    brute = geod_km(plat[:, None], plon[:, None], pts[None, :, 0], pts[None, :, 1]).min(1)
    inside = in_region(plat, plon, box)
    assert inside.any() and (~inside).any() and (ours[inside] == 0).all()
    assert np.abs(ours[~inside] - brute[~inside]).max() < 0.01
    xy = local_xy_km([-17.7, -17.7], [179.95, -179.95], 180.0)
    assert np.hypot(*(xy[1] - xy[0])) == pytest.approx(geod_km(-17.7, 179.95, -17.7, -179.95), rel=1e-3)


def test_buffer_holds_across_the_antimeridian():
    """No training row lies within the buffer of a spatial test row, measured independently (haversine)."""
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-17.9, -17.5, 6000), rng.uniform(179.6, 180.4, 6000)
    lon = (lon + 180) % 360 - 180
    bounds = square_region([-17.7, -17.6], [179.99, -179.8], 10)
    code, _ = assign_split(lat, lon, np.full(6000, 2020), bounds, 2025, buffer_km=5)
    train, test = code == 0, (code >= 2) & (code <= 3)
    assert test.sum() > 100 and train.sum() > 100
    d = haversine_km(lat[train, None], lon[train, None], lat[None, test], lon[None, test]).min(1)
    assert d.min() > 5 * 0.995  # a sphere is within 0.5 % of the ellipsoid


def test_make_split_around_fiji():
    res = make_split(fiji_observations(), SplitSpec(buffer_km=5, seed=3))
    b = res.regions[['south', 'north', 'west', 'east']].to_numpy()
    assert (np.abs(b) <= 180).all() and len(b) == 5
    o, split = res.observations, res.assignments.split.astype(str).to_numpy()
    tr, te = (split == 'train'), res.assignments.region_id.to_numpy() > 0
    d = haversine_km(
        o.latitude.values[tr, None], o.longitude.values[tr, None], o.latitude.values[te], o.longitude.values[te]
    )
    assert d.min() > 5 * 0.995
    c = res.regions[['center_lat', 'center_lng']].to_numpy()
    dc = haversine_km(c[:, None, 0], c[:, None, 1], c[None, :, 0], c[None, :, 1])[~np.eye(5, dtype=bool)]
    assert dc.min() > 15 * 0.995
    assert res.report['prediction_domain']['prediction_domain']['median_km'] < 50


@pytest.fixture(scope='module')
def fiji_store(tiny_source, tmp_path_factory):
    """The tiny synthetic source moved to Fiji (longitudes across ±180), prepared into a store."""
    src = tmp_path_factory.mktemp('fiji') / 'source'
    shutil.copytree(tiny_source, src)
    table = pd.read_parquet(src / 'observations.parquet')
    table['latitude'], table['longitude'] = to_fiji(table.latitude, table.longitude)
    assert (table.longitude > 179).any() and (table.longitude < -179).any()
    table.to_parquet(src / 'observations.parquet', index=False)
    return prepare_store(src, src.parent / 'store', progress=False)


def run_split(*args, timeout=300):
    """deepearth-split in a child process; the timeout only guards against a hang."""
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([os.getcwd(), os.environ.get('PYTHONPATH', '')])}
    code = 'import sys; from deepearth_training.split_command import main; sys.exit(main(sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_split_around_fiji(fiji_store, tmp_path):
    out = tmp_path / 'fiji.json'
    r = run_split('--store', str(fiji_store), '--out', str(out), '--buffer-km', '5')
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    bounds = [r['bounds'] for r in doc['test_spatial_regions']]
    assert all(abs(b[k]) <= 180 for b in bounds for k in ('west', 'east'))
    assert all(abs(b[k]) <= 90 for b in bounds for k in ('south', 'north'))
    rows = pd.DataFrame(doc['observation_mappings'].values())
    train = rows[rows.split == 'train']
    spatial = rows[rows.split_reason.str.startswith('spatial_test')]
    d = haversine_km(
        train.latitude.values[:, None],
        train.longitude.values[:, None],
        spatial.latitude.values,
        spatial.longitude.values,
    )
    assert len(spatial) and d.min() > 5 * 0.995
    line = next(x for x in r.stdout.splitlines() if x.startswith('nearest training row:'))
    medians = dict(x.split(' median ') for x in line.split(': ', 1)[1].split('; ') if ' median ' in x)
    medians = {k: float(v.split(' km')[0]) for k, v in medians.items()}
    assert set(medians) == {'temporal test', 'spatial test', 'prediction domain'}, line
    assert all(m < 100 for m in medians.values()), line


def test_absurd_region_counts_fail_at_once(tiny_store):
    for n in ('100000', '200'):
        r = run_split(
            '--store', str(tiny_store), '--out', 'never.json', '--n-regions', n, '--min-distance-km', '0',
            '--min-region-observations', '0', '--min-region-species', '0',
        )  # fmt: skip
        assert r.returncode == 2 and r.stderr.startswith('error: ') and r.stderr.count('\n') == 1, r.stderr
        assert f'cannot draw {n} test regions from' in r.stderr or 'proven by a packing bound' in r.stderr
    assert not os.path.exists('never.json')


def test_region_count_cap_and_search_budgets(monkeypatch):
    world = np.random.default_rng(1).uniform([-60, -180], [60, 180], (5000, 2))
    with pytest.raises(ValueError, match='at most 1000 test regions are drawn'):
        regions.select_regions(*world.T, np.zeros(5000, int), SplitSpec(n_regions=1500))
    monkeypatch.setattr(regions, 'MAX_CLASH_PAIRS', 10)
    with pytest.raises(ValueError, match='more than its budget of 10'):
        make_split(observations(), SplitSpec(n_regions=8, min_distance_km=50))


def test_no_square_past_a_pole():
    with pytest.raises(ValueError, match=r'reach past the north pole \(edge at latitude 90\.0'):
        square_region(89.97, 10.0, 10)
    with pytest.raises(ValueError, match='past the south pole'):
        square_region(-90.0, 0.0, 10)
    assert square_region(89.9, 10.0, 10)[1] <= 90
    with pytest.raises(ValueError, match=r'no 10 km square fits around \(89\.99, 0\)'):
        make_split(observations(), SplitSpec(n_regions=1, regions=((89.99, 0.0),)))


def test_an_observation_at_the_pole():
    obs = observations(2500, 0)
    obs.loc[obs.index[:3], ['latitude', 'longitude', 'has_vision']] = [
        [90.0, 0.0, True],
        [90.0, 120.0, True],
        [-90.0, 5.0, True],
    ]
    res = make_split(obs, SplitSpec(seed=1, buffer_km=2))
    assert (res.regions.center_lat.abs() < 89).all()  # no region is centred on the pole
    assert res.assignments.split.iloc[:3].astype(str).isin(['train', 'test']).all()
    lonely = obs.iloc[:20].assign(latitude=89.999, taxon_name='Polar species')
    with pytest.raises(ValueError, match='within 5 km of a pole, where no square fits'):
        make_split(lonely, SplitSpec(n_regions=1, min_region_observations=1, min_region_species=1))
