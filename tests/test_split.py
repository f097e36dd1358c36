"""Split constraints checked independently of the code that enforces them (pyproj's Geod on WGS84)."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepearth_training.regions as regions
from deepearth_training.geo import geodesic_km
from deepearth_training.split_spec import PUBLISHED_CENTRES, SplitSpec, published_spec
from deepearth_training.regions import check_region_centres
from deepearth_training.split import (
    load_split,
    load_train_test_split,
    read_region_centres,
    read_split,
    save_split,
)
from deepearth_training.holdout import make_split
from deepearth_training.geo import nearest_km
from helpers import GEOD, box_distance_km, geod_km, observations

SPEC = SplitSpec(buffer_km=1.5, seed=7)


@pytest.fixture(scope='module')
def obs():
    return observations()


@pytest.fixture(scope='module')
def result(obs):
    return make_split(obs, SPEC)


def test_region_sides_on_the_ellipsoid(result):
    for r in result.regions.itertuples():
        ns = geod_km(r.south, r.center_lng, r.north, r.center_lng)
        ew = GEOD.line_length(np.linspace(r.west, r.east, 201), np.full(201, r.center_lat)) / 1000
        assert ns == pytest.approx(SPEC.region_size_km, abs=1e-6)
        assert ew == pytest.approx(SPEC.region_size_km, abs=1e-6)
        assert r.south < r.center_lat < r.north and r.west < r.center_lng < r.east


def test_regions_separated_and_disjoint(result):
    reg = result.regions
    assert len(reg) == SPEC.n_regions
    for i in range(len(reg)):
        for j in range(i + 1, len(reg)):
            a, b = reg.iloc[i], reg.iloc[j]
            assert geod_km(a.center_lat, a.center_lng, b.center_lat, b.center_lng) >= SPEC.min_distance_km
            overlap = a.south <= b.north and b.south <= a.north and a.west <= b.east and b.west <= a.east
            assert not overlap


def test_regions_representative(result):
    o = result.observations
    for r in result.regions.itertuples():
        inside = o.latitude.between(r.south, r.north) & o.longitude.between(r.west, r.east)
        assert inside.sum() >= SPEC.min_region_observations
        assert o.taxon_name[inside].nunique() >= SPEC.min_region_species
        centre = o[(o.latitude == r.center_lat) & (o.longitude == r.center_lng)]
        assert len(centre) and int(centre.gbif_id.iloc[0]) == r.center_gbif_id


def test_membership_and_temporal_rule(result):
    o, a = result.observations, result.assignments
    region = np.zeros(len(o), int)
    for r in result.regions.itertuples():
        region[(o.latitude.between(r.south, r.north) & o.longitude.between(r.west, r.east)).to_numpy()] = r.region_id
    reason = a.split_reason.astype(str).to_numpy()
    expect_spatial = np.array([f'spatial_test_region_{k}' for k in region], dtype=object)
    assert (reason[region > 0] == expect_spatial[region > 0]).all()
    assert not np.char.startswith(reason[region == 0].astype(str), 'spatial').any()
    year = o.year.to_numpy()
    split = a.split.astype(str).to_numpy()
    assert (year[split == 'train'] < SPEC.test_year).all()
    assert (split[year >= SPEC.test_year] == 'test').all()
    assert (reason[(year >= SPEC.test_year) & (region == 0)] == 'temporal_test').all()
    both = int(((year >= SPEC.test_year) & (region > 0)).sum())
    assert both > 0 and result.report['n_temporal_and_spatial'] == both


def test_buffer_exclusion(result):
    o, a = result.observations, result.assignments
    split = a.split.astype(str).to_numpy()
    lat, lon = o.latitude.to_numpy(), o.longitude.to_numpy()
    d = np.full(len(lat), np.inf)
    for r in result.regions.itertuples():
        # points farther from the centre than its farthest corner plus 1 km are > 1 km from the box (triangle inequality)
        reach = geod_km(r.center_lat, r.center_lng, np.array([r.south, r.north]), np.array([r.west, r.east])).max()
        near = geod_km(lat, lon, r.center_lat, r.center_lng) <= reach + SPEC.buffer_km + 1
        d[near] = np.minimum(d[near], box_distance_km(lat[near], lon[near], r))
    assert (d[split == 'train'] > SPEC.buffer_km).all()
    excluded = split == 'excluded'
    assert excluded.sum() > 0
    assert ((d[excluded] > 0) & (d[excluded] <= SPEC.buffer_km)).all()
    assert (o.year.to_numpy()[excluded] < SPEC.test_year).all()
    assert result.report['splits']['excluded']['n'] == excluded.sum()


def test_vision_only_and_counts(obs, result):
    assert len(result.observations) == obs.has_vision.sum()
    rep = result.report
    assert sum(v['n'] for v in rep['splits'].values()) == len(result.observations)
    assert sum(v['n'] for v in rep['reasons'].values()) == len(result.observations)
    per_region = {r['region_id']: r['n_observations'] for r in rep['regions']}
    counts = result.assignments.region_id.value_counts()
    assert all(per_region[k] == counts.get(k, 0) for k in per_region)


def test_species_only_in_test(result):
    o, a = result.observations, result.assignments
    train = set(o.taxon_name[a.split == 'train'])
    test = set(o.taxon_name[a.split == 'test'])
    sp = result.report['species']
    assert sp['train'] == len(train) and sp['test'] == len(test)
    assert sp['test_only_names'] == sorted(test - train)


def test_leakage_figures(result):
    o, a = result.observations, result.assignments
    tr = o[a.split == 'train']
    sp = o[(a.region_id > 0).to_numpy()]
    brute = geod_km(
        sp.latitude.to_numpy()[:, None],
        sp.longitude.to_numpy()[:, None],
        tr.latitude.to_numpy()[None],
        tr.longitude.to_numpy()[None],
    ).min(1)
    lk = result.report['leakage']['spatial_test_nearest_train_km']
    assert lk['min'] == pytest.approx(brute.min(), abs=1e-9) and lk['median'] == pytest.approx(
        np.median(brute), abs=1e-9
    )
    assert lk['min'] > SPEC.buffer_km
    gap = result.report['leakage']['temporal_test_gap_days']
    assert gap['min'] > 0


def test_nearest_km_matches_brute_force():
    rng = np.random.default_rng(1)
    q = rng.uniform([28.0, -82.0], [29.0, -80.9], (500, 2))
    ref = rng.uniform([28.0, -82.0], [29.0, -80.9], (3000, 2))
    brute = geod_km(q[:, :1], q[:, 1:], ref[None, :, 0], ref[None, :, 1]).min(1)
    assert np.allclose(nearest_km(q[:, 0], q[:, 1], ref[:, 0], ref[:, 1]), brute, atol=1e-9)


def test_deterministic_file_bytes(obs, result, tmp_path):
    a = save_split(result, tmp_path / 'a.json')
    b = save_split(make_split(obs, SPEC), tmp_path / 'b.json')
    assert a.read_bytes() == b.read_bytes()
    other = make_split(obs, SplitSpec(buffer_km=1.5, seed=8))
    assert not np.allclose(other.regions.center_lat, result.regions.center_lat)
    assert sorted(tmp_path.iterdir()) == sorted([a, b])  # no temporary files left behind


def test_file_roundtrip_and_hash(result, tmp_path):
    p = save_split(result, tmp_path / 'split.json')
    doc = json.loads(p.read_text())
    assert list(doc)[:6] == [
        'dataset_info',
        'split_strategy',
        'train_spatial_bounds',
        'test_spatial_regions',
        'split_statistics',
        'observation_mappings',
    ]
    assert {'spec', 'content_hash', 'buffer', 'leakage_report'} <= set(doc)
    first = next(iter(doc['observation_mappings'].values()))
    assert set(first) == {
        'gbif_id',
        'taxon_id',
        'taxon_name',
        'image_index',
        'split',
        'split_reason',
        'latitude',
        'longitude',
        'year',
        'month',
        'day',
    }
    assert set(doc['test_spatial_regions'][0]) == {
        'region_id',
        'center_gbif_id',
        'center_species',
        'center_lat',
        'center_lng',
        'bounds',
        'size_km',
    }
    train, test = load_train_test_split(p)
    a = result.assignments.split.astype(str)
    ids = result.observations.observation_id
    assert train == sorted(ids[a == 'train']) and test == sorted(ids[a == 'test'])  # the file is in ID order
    got = read_split(p).assignments.loc[ids]
    assert (got.split_reason.to_numpy() == result.assignments.split_reason.astype(str).to_numpy()).all()
    assert read_split(p).content_hash == doc['content_hash']
    back = load_split(p)
    assert back.spec == result.spec and back.report == result.report
    moved = (
        {'split': 'test', 'split_reason': 'temporal_test'}
        if a.iloc[0] == 'train'
        else {'split': 'train', 'split_reason': 'temporal_train'}
    )
    doc['observation_mappings'][ids.iloc[0]].update(moved)  # consistent, but not what was hashed
    p.write_text(json.dumps(doc))
    for read in (read_split, load_train_test_split, load_split):
        with pytest.raises(ValueError, match='modified'):
            read(p)


def test_reads_published_layout(tmp_path):
    mapping = lambda g, split, reason, year, month: {
        'gbif_id': g,
        'taxon_id': 7,
        'taxon_name': 'Quercus virginiana',
        'image_index': 1,
        'split': split,
        'split_reason': reason,
        'latitude': 28.07,
        'longitude': -81.51,
        'year': year,
        'month': month,
        'day': None,
    }
    doc = {
        'dataset_info': {
            'dataset_name': 'central-florida-native-plants',
            'version': '0.2.0',
            'split_created': '2025-08-01T12:00:00',
            'description': 'Spatial and temporal split',
        },
        'split_strategy': {
            'temporal_split': {'train_years': 'all except 2025', 'test_years': [2025]},
            'spatial_split': {'num_test_regions': 1, 'region_size_km': 10.0, 'min_distance_km': 15.0},
        },
        'train_spatial_bounds': {'north': 28.9, 'south': 28.0, 'east': -80.9, 'west': -81.9},
        'test_spatial_regions': [
            {
                'region_id': 1,
                'center_gbif_id': 11,
                'center_species': 'Quercus virginiana',
                'center_lat': 28.073125,
                'center_lng': -81.516095,
                'bounds': {'north': 28.118, 'south': 28.028, 'east': -81.465, 'west': -81.567},
                'size_km': 10.0,
            }
        ],
        'split_statistics': {'total_observations': 4, 'train_count': 2, 'test_count': 2},
        'observation_mappings': {
            '10_1': mapping(10, 'train', 'temporal_train', 2019, 5.0),
            '11_1': mapping(11, 'test', 'spatial_test_region_1', 2020, None),
            '12_1': mapping(12, 'test', 'temporal_test', 2025, 3.0),
            '12_2': mapping(12, 'train', 'temporal_train', 2018, 1.0),
        },
    }
    p = tmp_path / 'central_florida_split.json'
    p.write_text(json.dumps(doc, indent=2))
    assert load_train_test_split(p) == (['10_1', '12_2'], ['11_1', '12_1'])
    assert read_split(p).assignments.loc['11_1', 'split_reason'] == 'spatial_test_region_1'
    assert len(read_split(p).content_hash) == 64
    back = load_split(p)
    assert back.spec.test_year == 2025 and back.spec.regions == ((28.073125, -81.516095),)
    assert back.report['n_temporal_and_spatial'] == 0 and back.report['splits']['test']['n'] == 2
    assert read_region_centres(p) == ((28.073125, -81.516095),)
    doc['observation_mappings']['12_1']['split'] = 'train'
    p.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"12_1 has split 'train' but split_reason 'temporal_test'"):
        load_split(p)


def test_bad_split_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        load_train_test_split(tmp_path / 'missing.json')
    (tmp_path / 'x.json').write_text('{"observation_mappings": {"1_1": {"split": "validation", "split_reason": "r"}}}')
    with pytest.raises(ValueError, match=r"1_1 has split 'validation'"):
        load_train_test_split(tmp_path / 'x.json')
    (tmp_path / 'y.json').write_text('[1, 2]')
    with pytest.raises(ValueError, match='not a split file'):
        load_train_test_split(tmp_path / 'y.json')


@pytest.mark.parametrize(
    'spec, message',
    [
        (
            SplitSpec(n_regions=8, min_distance_km=50),
            r'placed at most \d of .* this is the search falling short, not a proof',
        ),
        (
            SplitSpec(n_regions=35, min_distance_km=40),
            r'at most \d+ of the \d+ candidate .* \(proven: their centres fall into',
        ),
        (SplitSpec(n_regions=2000), r'at most \d+ fit \(proven by a packing bound\)'),
        (SplitSpec(min_region_species=41), r'the most diverse 40 species'),
        (SplitSpec(min_region_observations=10**6), r'the fullest holds \d+ observations'),
        (
            SplitSpec(n_regions=2, regions=((28.5, -81.4), (28.6, -81.4))),
            r'regions 1 and 2: centres 11\.\d+ km apart, 3\.\d+ km short',
        ),
        (
            SplitSpec(n_regions=2, region_size_km=30, regions=((28.5, -81.4), (28.6, -81.25))),
            r'regions 1 and 2: 30 km squares overlap',
        ),
    ],
)
def test_infeasible_constraints_are_clear_errors(obs, spec, message):
    with pytest.raises(ValueError, match=message):
        make_split(obs, spec)


def test_bad_input_names_the_observation(obs):
    bad = obs.copy()
    i = obs.index[obs.has_vision][3]
    bad.loc[i, 'latitude'] = np.nan
    with pytest.raises(ValueError, match=f"observation {bad.observation_id[i]}: latitude is missing"):
        make_split(bad, SPEC)
    with pytest.raises(ValueError, match=r"lack column\(s\) \['year'\]"):
        make_split(obs.drop(columns='year'), SPEC)
    with pytest.raises(ValueError, match='n_regions=5 but 2 predefined'):
        SplitSpec(regions=((28.5, -81.4), (28.8, -81.4)))


def test_published_preset(obs):
    check_region_centres(PUBLISHED_CENTRES, published_spec())
    res = make_split(obs, published_spec())
    assert res.regions[['center_lat', 'center_lng']].to_numpy().tolist() == [list(c) for c in PUBLISHED_CENTRES]
    for r, (_, lo) in zip(res.regions.itertuples(), PUBLISHED_CENTRES):
        assert geod_km(r.south, lo, r.north, lo) == pytest.approx(10.0, abs=1e-6)


def test_region_centres_file(tmp_path):
    p = tmp_path / 'centres.csv'
    p.write_text('latitude,longitude\n28.5,-81.4\n28.8,-81.1\n')
    assert read_region_centres(p) == ((28.5, -81.4), (28.8, -81.1))
    (tmp_path / 'bad.csv').write_text('lat,lon\n28.5,-81.4\n')
    with pytest.raises(ValueError, match=r"missing column\(s\) \['latitude', 'longitude'\]"):
        read_region_centres(tmp_path / 'bad.csv')


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n_regions=st.integers(1, 4),
    size=st.floats(2, 15),
    gap=st.floats(0, 30),
    buffer=st.floats(0, 3),
    test_year=st.integers(2012, 2025),
)
def test_constraints_hold_or_the_split_says_why(seed, n_regions, size, gap, buffer, test_year):
    obs = observations(600, seed=seed % 97)
    spec = SplitSpec(
        n_regions=n_regions,
        region_size_km=size,
        min_distance_km=size * 2**0.5 + gap,
        buffer_km=buffer,
        seed=seed,
        test_year=test_year,
        min_region_observations=3,
        min_region_species=2,
    )
    try:
        res = make_split(obs, spec)
    except ValueError as e:
        assert 'km' in str(e)
        return
    reg, o, a = res.regions, res.observations, res.assignments
    assert len(reg) == n_regions
    c = reg[['center_lat', 'center_lng']].to_numpy()
    d = geod_km(c[:, None, 0], c[:, None, 1], c[None, :, 0], c[None, :, 1])
    assert (d[~np.eye(n_regions, dtype=bool)] >= spec.min_distance_km).all()
    for r in reg.itertuples():
        assert geod_km(r.south, r.center_lng, r.north, r.center_lng) == pytest.approx(size, abs=1e-6)
    split, year = a.split.astype(str).to_numpy(), o.year.to_numpy()
    assert (year[split == 'train'] < test_year).all() and (split[year >= test_year] == 'test').all()
    inside = np.zeros(len(o), bool)
    for r in reg.itertuples():
        inside |= (o.latitude.between(r.south, r.north) & o.longitude.between(r.west, r.east)).to_numpy()
    assert (split[inside] == 'test').all() and ((a.region_id.to_numpy() > 0) == inside).all()


def test_default_preset_places_twenty_regions_twenty_km_apart(default_obs):
    spec = SplitSpec(n_regions=20, min_distance_km=20, seed=0)
    res = make_split(default_obs, spec)
    c = res.regions[['center_lat', 'center_lng']].to_numpy()
    d = geod_km(c[:, None, 0], c[:, None, 1], c[None, :, 0], c[None, :, 1])
    assert len(c) == 20 and (d[~np.eye(20, dtype=bool)] >= 20).all()
    for i in range(20):
        for j in range(i + 1, 20):
            a, b = res.regions.iloc[i], res.regions.iloc[j]
            assert a.north < b.south or b.north < a.south or a.east < b.west or b.east < a.west
    assert make_split(default_obs, spec).regions.equals(res.regions)


def test_impossible_counts_rejected_before_any_square_is_counted(obs, monkeypatch):
    def counting(*args):
        raise AssertionError('squares were counted')

    monkeypatch.setattr(regions, '_square_counts', counting)
    with pytest.raises(ValueError, match=r'cannot place 2000 test regions .* where at most \d+ fit \(proven'):
        make_split(obs, SplitSpec(n_regions=2000))


def test_packing_bound_is_a_bound(obs):
    """No set of centres found by brute force beats the bound: greedy over many random orders."""
    lat, lon = obs.latitude.to_numpy()[:400], obs.longitude.to_numpy()[:400]
    d = geod_km(lat[:, None], lon[:, None], lat[None], lon[None])
    bound = regions.packing_bound(lat, lon, 30)
    rng = np.random.default_rng(0)
    for _ in range(50):
        chosen = []
        for i in rng.permutation(len(lat)):
            if all(d[i, j] >= 30 for j in chosen):
                chosen.append(i)
        assert len(chosen) <= bound


def test_weighting_places_or_observations(default_obs):
    def per_region(weighting):
        res = [make_split(default_obs, SplitSpec(seed=s, weighting=weighting)) for s in range(4)]
        return np.median([r['n_observations'] for x in res for r in x.report['regions']])

    assert per_region('observations') > per_region('places')
    with pytest.raises(ValueError, match="weighting='people'"):
        SplitSpec(weighting='people')


def test_geodesic_near_antipodal_pairs():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-70, 70, 30), rng.uniform(-180, 180, 30)
    c, d = -a + rng.uniform(-0.3, 0.3, 30), b + 180 + rng.uniform(-0.5, 0.5, 30)
    ref = geod_km(a, b, c, d)
    assert np.allclose(geodesic_km(a, b, c, d), ref, rtol=1e-9, atol=0)
    assert geodesic_km(0, 0, 0, 180) == pytest.approx(geod_km(0, 0, 0, 180), rel=1e-12)


@pytest.mark.parametrize(
    'entry, message',
    [
        (None, 'mapping is NoneType'),
        ('train', 'mapping is str'),
        (['train'], 'mapping is list'),
        ({'split': 'test', 'split_reason': 'temporal_train'}, "has split 'test' but split_reason 'temporal_train'"),
        ({'split': 'test', 'split_reason': 'holiday'}, "has split_reason 'holiday'"),
    ],
)
def test_malformed_mappings_name_the_entry(result, tmp_path, entry, message):
    p = save_split(result, tmp_path / 'split.json')
    doc = json.loads(p.read_text())
    oid = next(iter(doc['observation_mappings']))
    doc['observation_mappings'][oid] = entry
    doc.pop('content_hash')
    for k in ('format', 'spec', 'buffer', 'leakage_report'):
        doc.pop(k)
    p.write_text(json.dumps(doc))
    for read in (load_train_test_split, read_split, load_split):
        with pytest.raises(ValueError, match=f'observation {oid}.*' + message.replace('(', r'\(')):
            read(p)


def test_our_file_without_its_hash_is_not_taken_for_a_published_one(result, tmp_path):
    p = save_split(result, tmp_path / 'split.json')
    doc = json.loads(p.read_text())
    doc.pop('content_hash')
    p.write_text(json.dumps(doc))
    for read in (load_train_test_split, read_split, load_split):
        with pytest.raises(ValueError, match="no 'content_hash'"):
            read(p)
