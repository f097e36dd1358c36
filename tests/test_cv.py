"""Cross-validation (blocks, kNNDM, random) checked from the files deepearth-cv writes, and the splitter interface."""

import contextlib
import json

import numpy as np
import pytest

from deepearth_training.cv import CVSpec, cross_validation, design_figures, main, prediction_domain_km, save_cv
from deepearth_training.holdout import make_split
from deepearth_training.split_spec import SplitSpec
from deepearth_training.splitters import BlockKFold, KNNDMKFold, RandomKFold, RegionHoldout
from deepearth_training.split import load_split, read_split, load_train_test_split
from deepearth_training.store import open_store
from deepearth_training.synthetic import toy_observations
from helpers import box_distance_km, observations


@pytest.fixture(scope='module')
def folds_dir(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp('cv') / 'folds'
    assert (
        main(
            [
                '--store',
                str(tiny_store),
                '--out',
                str(out),
                '--folds',
                '4',
                '--block-km',
                '15',
                '--buffer-km',
                '2',
                '--seed',
                '3',
            ]
        )
        == 0
    )
    return out


def test_cli_writes_every_fold_and_cv_json(folds_dir, tiny_store):
    assert sorted(p.name for p in folds_dir.iterdir()) == ['cv.json'] + [f'fold_{k}.json' for k in range(1, 5)]
    cv = json.loads((folds_dir / 'cv.json').read_text())
    assert cv['spec']['folds'] == 4 and cv['spec']['block_km'] == 15 and cv['spec']['buffer_km'] == 2
    obs = open_store(tiny_store).observations
    assert cv['n_observations'] == int(obs.has_vision.sum())
    for f in cv['folds']:
        train, test = load_train_test_split(folds_dir / f['file'])
        assert (len(train), len(test)) == (f['n_train'], f['n_test'])
        regions = json.loads((folds_dir / f['file']).read_text())['test_spatial_regions']
        assert len(regions) == f['n_blocks'] and all(
            set(r['bounds']) == {'north', 'south', 'east', 'west'} for r in regions
        )


def test_each_observation_is_spatial_test_in_exactly_one_fold(folds_dir):
    maps = [read_split(folds_dir / f'fold_{k}.json').assignments for k in range(1, 5)]
    spatial = np.stack([m.split_reason.str.startswith('spatial_test_region_').to_numpy() for m in maps])
    year = maps[0].year.to_numpy()
    assert (spatial.sum(0)[year < 2025] == 1).all()
    for m in maps:
        assert (m.split[m.year >= 2025] == 'test').all()


def test_training_rows_keep_the_buffer(folds_dir):
    for k in range(1, 5):
        res = load_split(folds_dir / f'fold_{k}.json')
        train = (res.assignments.split == 'train').to_numpy()
        lat, lon = res.observations.latitude.to_numpy()[train], res.observations.longitude.to_numpy()[train]
        d = np.min([box_distance_km(lat, lon, r) for r in res.regions.itertuples()], axis=0)
        assert (d > 2.0 - 1e-6).all()


def test_folds_balanced_in_observations_and_species():
    obs = observations(4000, seed=1)
    folds = cross_validation(obs, CVSpec(folds=5, block_km=8, seed=2))
    n = np.array([(f.assignments.region_id > 0).sum() for f in folds])
    block_sizes = [(f.assignments.region_id == r).sum() for f in folds for r in f.regions.region_id]
    assert n.max() - n.min() <= max(block_sizes)
    species = [f.observations.taxon_name[(f.assignments.region_id > 0).to_numpy()].nunique() for f in folds]
    assert min(species) >= 0.8 * max(species)


def test_deterministic_by_seed():
    obs = observations(1500, seed=4)
    a = cross_validation(obs, CVSpec(folds=3, block_km=12, seed=5))
    b = cross_validation(obs, CVSpec(folds=3, block_km=12, seed=5))
    c = cross_validation(obs, CVSpec(folds=3, block_km=12, seed=6))
    assert all(x.regions.equals(y.regions) for x, y in zip(a, b))
    assert not all(x.regions.equals(y.regions) for x, y in zip(a, c))


@pytest.mark.parametrize(
    'args, message',
    [
        (['--folds', '1'], 'error: folds=1 is out of range'),
        (['--block-km', '-3'], "argument --block-km: '-3' is not a positive finite number"),
        (['--folds', '500', '--block-km', '200'], 'error: cannot make 500 folds'),
    ],
)
def test_cli_errors_are_one_line(tiny_store, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) if 'argument' in message else contextlib.nullcontext():
        code = main(['--store', str(tiny_store), '--out', str(tmp_path / 'o')] + args)
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


def test_an_observation_at_a_pole_is_a_clear_error():
    obs = observations(300, seed=1)
    obs.loc[obs.index[0], 'latitude'] = 90.0
    with pytest.raises(ValueError, match='latitude 90.0000 lies within one 10 km block of the north pole'):
        cross_validation(obs, CVSpec(folds=3, block_km=10))


def test_blocks_wrap_the_antimeridian():
    """The same cluster of points centred on longitude 180 and on longitude 0 gets the same blocks and folds."""
    obs = observations(600, seed=2)
    lon = obs.longitude.to_numpy()
    at_zero = obs.assign(longitude=lon - lon.mean())
    at_180 = obs.assign(longitude=np.mod(lon - lon.mean() + 360.0, 360.0) - 180.0)  # straddles ±180
    a = cross_validation(at_zero, CVSpec(folds=3, block_km=10, seed=1))
    b = cross_validation(at_180, CVSpec(folds=3, block_km=10, seed=1))
    assert (at_180.longitude > 179).any() and (at_180.longitude < -179).any()
    for x, y in zip(a, b):
        assert (x.assignments.region_id.to_numpy() == y.assignments.region_id.to_numpy()).all()
        assert len(x.regions) == len(y.regions)
    west, east = np.concatenate([r.regions.west for r in b]), np.concatenate([r.regions.east for r in b])
    assert ((west >= -180) & (west < 180) & (east >= -180) & (east < 180)).all()
    assert (np.mod(east - west, 360.0) < 1).all()  # every block is 10 km wide, also across ±180


def test_test_year_rows_are_the_temporal_test_of_every_fold():
    """Test-year rows inside a fold's blocks used to count as spatial test, so 'temporal' differed by fold."""
    obs = observations(2000, seed=3)
    folds = cross_validation(obs, CVSpec(folds=4, block_km=8, seed=1))
    test_year = (folds[0].observations.year >= 2025).to_numpy()
    assert test_year.any()
    for f in folds:
        assert (f.assignments.split_reason.to_numpy()[test_year] == 'temporal_test').all()
        assert (f.assignments.region_id.to_numpy()[test_year] == 0).all()


@pytest.mark.parametrize('design', ['blocks', 'knndm', 'random'])
def test_every_design_tests_each_row_once_and_states_its_estimand(design, tmp_path):
    obs = observations(1500, seed=5)
    spec = CVSpec(folds=4, block_km=8, design=design, seed=2)
    folds = cross_validation(obs, spec)
    past = (folds[0].observations.year < 2025).to_numpy()
    tested = np.stack([(f.assignments.region_id > 0).to_numpy() for f in folds])
    assert (tested.sum(0)[past] == 1).all() and not tested[:, ~past].any()
    for f in folds:
        assert not ((f.assignments.split == 'train') & (f.assignments.region_id > 0)).any()
    cv = json.loads(save_cv(folds, spec, tmp_path).read_text())
    words = {'blocks': 'accuracy at ≥ 0 km from training', 'knndm': 'map accuracy over the prediction domain'}
    assert words.get(design, 'random folds') in cv['estimates'] and 'W = ' in cv['estimates']
    assert cv['distances'][design]['W_km'] >= 0 and len(cv['distances'][design]['train_rows_per_fold']) == 4


def test_knndm_matches_the_prediction_domain_at_least_as_well_as_random_and_blocks():
    obs = observations(3000, seed=6)
    spec = CVSpec(folds=5, design='knndm', seed=0)
    folds = cross_validation(obs, spec)
    gpd = prediction_domain_km(folds, spec)
    w = {
        d: design_figures(cross_validation(obs, CVSpec(folds=5, design=d, block_km=10)), gpd)['W_km']
        for d in ('random', 'blocks')
    }
    w_knndm = design_figures(folds, gpd)['W_km']
    assert w_knndm <= w['random'] + 1e-9 and w_knndm < w['blocks']


def test_splitters_share_one_interface():
    obs = observations(800, seed=7)
    spatial = np.flatnonzero(obs.has_vision.to_numpy() & (obs.year.to_numpy() < 2025))  # the rows folds deal
    for s in (
        BlockKFold(n_splits=3, block_km=10.0, buffer_km=1.0, seed=1),
        KNNDMKFold(n_splits=3, seed=1),
        RandomKFold(n_splits=3, seed=1),
    ):
        pairs = list(s.split(obs))
        assert len(pairs) == s.get_n_splits() == 3
        assert sorted(np.concatenate([te for _, te in pairs])) == spatial.tolist()  # each tested once
        assert all(len(np.intersect1d(tr, te)) == 0 and len(tr) > 0 for tr, te in pairs)
    ((train, test),) = RegionHoldout(SplitSpec(n_regions=2, vision_only=False, seed=1)).split(obs)
    assert RegionHoldout().get_n_splits() == 1 and len(test) > 0 and len(np.intersect1d(train, test)) == 0


def test_cv_folds_and_the_region_holdout_are_the_split_results_of_splitters():
    obs = observations(800, seed=7)
    spec = CVSpec(folds=3, block_km=10.0, buffer_km=1.0, seed=1)
    folds = cross_validation(obs, spec)
    again = list(BlockKFold(n_splits=3, block_km=10.0, buffer_km=1.0, seed=1).split_results(obs))
    assert [f.report for f in folds] == [r.report for r in again]
    split_spec = SplitSpec(n_regions=2, seed=1)
    (held,) = RegionHoldout(split_spec).split_results(obs)
    assert held.report == make_split(obs, split_spec).report


def test_region_holdout_positions_index_the_table_given():
    obs = toy_observations(1500, seed=2).set_axis(np.arange(1500) + 10_000)  # ~10 % without vision; labels not 0..N-1
    ((train, test),) = RegionHoldout(SplitSpec(n_regions=2, seed=1)).split(obs)  # vision_only: rows with vision
    split = make_split(obs, SplitSpec(n_regions=2, seed=1)).assignments.join(obs.gbif_id)
    gbif = obs.gbif_id.to_numpy()
    assert set(gbif[test]) == set(split.gbif_id[split.region_id > 0]) and len(test) > 0
    assert set(gbif[train]) == set(split.gbif_id[split.split == 'train'])


def test_knndm_refuses_a_buffer(tiny_store, tmp_path, capsys):
    code = main(['--store', str(tiny_store), '--out', str(tmp_path / 'o'), '--design', 'knndm', '--buffer-km', '2'])
    assert code == 0  # the buffer applies to the blocks compared with, not to kNNDM
    cv = json.loads((tmp_path / 'o' / 'cv.json').read_text())
    assert cv['spec']['buffer_km'] == 0 and set(cv['distances']) == {'knndm', 'random', 'blocks'}
    with pytest.raises(ValueError, match='buffer_km=2 is out of range'):
        CVSpec(design='knndm', buffer_km=2)


def test_knndm_group_boxes_wrap_the_antimeridian():
    obs = observations(600, seed=2)
    lon = obs.longitude.to_numpy()
    at_180 = obs.assign(longitude=np.mod(lon - lon.mean() + 360.0, 360.0) - 180.0)
    folds = cross_validation(at_180, CVSpec(folds=3, design='knndm', seed=1))
    sizes = np.concatenate([f.regions.size_km.to_numpy() for f in folds])
    assert sizes.max() < 200  # the data span ~100 km; a box over the globe would be ~20,000 km
