"""The synthetic generator: published layout, determinism, realism, presets and CLI."""

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepearth_training.autocorr import observations_autocorrelation
from deepearth_training.source_tables import OBSERVATIONS, VISION_DIR, VISION_INDEX, shard_name
from deepearth_training.source import read_source
from deepearth_training.prepare import prepare_store
from deepearth_training.store import open_store
from deepearth_training.split import read_split, load_train_test_split
from deepearth_training.split_command import main as split_main
from deepearth_training.occurrences import (
    DEFAULT_CORRELATION_KM,
    LAT_RANGE,
    LON_RANGE,
    PRESETS,
    real_occurrences,
    species_counts,
    year_probabilities,
)
from deepearth_training.synthetic import main, make_synthetic_dataset, synthetic_occurrences

REAL_SPLIT = Path('/work/shared/real/central_florida_split.json')


def digest(d):
    return hashlib.sha256(b''.join(p.read_bytes() for p in sorted(d.rglob('*.parquet')))).hexdigest()


def test_deterministic(tiny_source, tmp_path):
    assert digest(make_synthetic_dataset(tmp_path / 'a', 'tiny', seed=0, progress=False)) == digest(tiny_source)
    assert digest(make_synthetic_dataset(tmp_path / 'b', 'tiny', seed=1, progress=False)) != digest(tiny_source)


def test_layout_and_types(tiny_source):
    schema = pq.read_schema(tiny_source / OBSERVATIONS)
    assert schema.names == [
        'gbif_id',
        'taxon_id',
        'taxon_name',
        'latitude',
        'longitude',
        'year',
        'month',
        'day',
        'hour',
        'minute',
        'second',
        'image_urls',
        'num_images',
        'has_vision',
        'num_vision_embeddings',
        'vision_file_indices',
        'language_embedding',
        'split',
    ]
    assert (
        schema.field('language_embedding').type.value_type == pa.float32()
        and schema.field('taxon_id').type == pa.int64()
    )
    assert pq.read_schema(tiny_source / VISION_INDEX).names == ['gbif_id', 'file_idx', 'row_idx']
    sh = pq.read_table(tiny_source / VISION_DIR / shard_name(0))
    assert (
        sh.column_names == ['gbif_id', 'embedding', 'original_shape']
        and sh.column('original_shape')[0].as_py() == '[8, 1408]'
    )
    src = read_source(tiny_source)
    assert src.grid == PRESETS['tiny']['grid']


def test_realism(tmp_path):
    src = make_synthetic_dataset(
        tmp_path / 'mid', 'tiny', seed=3, n_observations=3000, n_species=60, grid=(1, 1, 1, 1408), progress=False
    )
    o = pq.read_table(
        src / OBSERVATIONS,
        columns=[
            'gbif_id',
            'taxon_name',
            'latitude',
            'longitude',
            'year',
            'month',
            'day',
            'hour',
            'minute',
            'second',
            'num_images',
            'has_vision',
            'num_vision_embeddings',
            'split',
        ],
    ).to_pandas()
    assert o.latitude.between(*LAT_RANGE).all() and o.longitude.between(*LON_RANGE).all()
    assert o.year.between(2010, 2025).all() and abs((o.year == 2025).mean() - 0.07) < 0.02
    per_year = o.year.value_counts().sort_index()
    assert per_year[2024] > 5 * per_year[2010]  # roughly exponential growth
    assert ((o.year == 2025) == (o.split == 'temporal_test')).all() and set(o.split) == {'train', 'temporal_test'}
    assert 0.05 < o.hour.isna().mean() < 0.15 and (o.hour.isna() == o.minute.isna()).all() and o.month.notna().all()
    counts = o.taxon_name.value_counts()
    assert counts.iloc[0] > 5 * counts.iloc[-1] and len(counts) == 60  # long tail (the top species is capped)
    assert (
        (o.num_vision_embeddings > 1).any()
        and (~o.has_vision).any()
        and (o.num_images >= o.num_vision_embeddings).all()
    )
    assert 0.7 < o.has_vision.mean() < 0.8
    # clustered: Clark-Evans ratio (mean nearest-neighbour distance over its value for uniform points) below 1
    # (about 0.69 here; 0.41 on the real occurrences, whose ranges sit where people look)
    xy = o[['latitude', 'longitude']].to_numpy() * [110.9, 97.9]  # km
    d2 = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    area = np.ptp(xy[:, 0]) * np.ptp(xy[:, 1])
    assert np.sqrt(d2.min(1)).mean() / (0.5 * np.sqrt(area / len(xy))) < 0.75
    # per-species ranges: two observations under 0.5 km apart are of the same species more often than any two
    ac = observations_autocorrelation(o)
    assert ac['ratio'][0] > 1.5 and ac['autocorrelated']
    # rows grouped by species, gbif ids increase with date
    assert (o.taxon_name != o.taxon_name.shift()).sum() == 60
    assert np.corrcoef(o.gbif_id, o.year + o.month / 12)[0, 1] > 0.9


def test_species_separable_from_vision(tiny_store):
    s = open_store(tiny_store)
    o = s.observations[s.observations.has_vision]
    x, y = np.asarray(s.pooled)[o.vision_row], o.species_idx.to_numpy()
    half = np.arange(len(y)) % 2 == 0
    classes = np.unique(y[half])
    means = np.stack([x[half & (y == k)].mean(0) for k in classes])
    pred = classes[((means**2).sum(1)[None] - 2 * x[~half] @ means.T).argmin(1)]
    assert (pred == y[~half]).mean() > 0.6  # 20 species: chance is 0.05


def test_language_predictable_from_vision(tiny_store):
    s = open_store(tiny_store)
    o = s.observations[s.observations.has_vision]
    x, y = np.asarray(s.pooled, np.float64)[o.vision_row], s.language[o.species_idx].astype(np.float64)
    half = np.arange(len(y)) % 2 == 0
    mean = y[half].mean(0)
    alpha = np.linalg.solve(
        x[half] @ x[half].T + 1e3 * np.eye(half.sum()), y[half] - mean
    )  # ridge regression, dual form
    r2 = 1 - ((x[~half] @ x[half].T @ alpha + mean - y[~half]) ** 2).sum() / ((y[~half] - y[~half].mean(0)) ** 2).sum()
    assert r2 > 0.3


def test_helpers():
    c = species_counts(33665, 232)
    assert c.sum() == 33665 and (np.diff(c) <= 0).all() and c.min() >= 1
    p = year_probabilities()
    assert np.isclose(p.sum(), 1) and np.isclose(p[-1], 0.07) and (np.diff(p[:-1]) > 0).all()
    with pytest.raises(ValueError, match='at least one observation per species'):
        species_counts(5, 10)


def test_presets():
    assert all(p['grid'][3] == 1408 for p in PRESETS.values())
    assert (
        PRESETS['default']['correlation_km'] == DEFAULT_CORRELATION_KM
        and PRESETS['real-metadata']['correlation_km'] is None
    )
    assert PRESETS['full-grid']['grid'] == (8, 24, 24, 1408)
    d = PRESETS['default']
    assert 7000 <= d['n_observations'] * d['vision_fraction'] <= 7250 and d['n_species'] == 232


def test_full_grid_end_to_end(tmp_path):
    """The real (8, 24, 24, 1408) grid through generator, reader and store, on three observations."""
    src = make_synthetic_dataset(tmp_path / 'src', 'full-grid', seed=0, n_observations=3, n_species=2, progress=False)
    assert (
        pq.read_table(src / VISION_DIR / shard_name(0), columns=['original_shape']).column(0)[0].as_py()
        == '[4608, 1408]'
    )
    src_grid = read_source(src).grid
    assert src_grid == (8, 24, 24, 1408)
    s = open_store(prepare_store(src, tmp_path / 'store', progress=False))
    assert s.vision_shape == (8, 24, 24, 1408) and s.vision.dtype == np.float16 and len(s.vision) >= 1


def test_real_layout_grid_inferred_without_metadata(tmp_path):
    """Shards without the vision_grid metadata (like the real files) get V-JEPA-2's 24 x 24 patches per frame."""
    src = make_synthetic_dataset(tmp_path / 'src', 'full-grid', seed=0, n_observations=2, n_species=1, progress=False)
    for p in (src / VISION_DIR).glob('*.parquet'):
        t = pq.read_table(p)
        pq.write_table(t.replace_schema_metadata(None), p)
    assert read_source(src).grid == (8, 24, 24, 1408)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='unknown preset'):
        make_synthetic_dataset(tmp_path / 'x', 'huge')
    with pytest.raises(ValueError, match='grid'):
        make_synthetic_dataset(tmp_path / 'x', 'tiny', grid=(2, 2, 1408))
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'f').write_text('x')
    with pytest.raises(ValueError, match='not an empty directory'):
        make_synthetic_dataset(tmp_path / 'full', 'tiny')


def test_cli(tmp_path, capsys):
    assert main(['--out', str(tmp_path / 'a'), '--preset', 'tiny', '--seed', '2']) == 0
    assert (tmp_path / 'a' / OBSERVATIONS).is_file() and not (tmp_path / '.a.partial').exists()
    capsys.readouterr()
    assert main(['--out', str(tmp_path / 'a')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    r = subprocess.run(
        ['deepearth-synth', '--out', str(tmp_path / 'b'), '--preset', 'nope'], capture_output=True, text=True
    )
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_correlation_km_flag_and_override(tmp_path):
    assert main(['--out', str(tmp_path / 'c'), '--preset', 'tiny', '--correlation-km', '5', '--quiet']) == 0
    near = synthetic_occurrences('tiny', seed=0, correlation_km=5)
    written = pq.read_table(tmp_path / 'c' / OBSERVATIONS, columns=['gbif_id', 'latitude']).to_pandas()
    assert written.gbif_id.tolist() == near.gbif_id.tolist() and np.allclose(written.latitude, near.latitude)
    with pytest.raises(SystemExit) as e:  # a usage error, before any work
        main(['--out', str(tmp_path / 'd'), '--preset', 'tiny', '--correlation-km', '0'])
    assert e.value.code == 2
    with pytest.raises(ValueError, match='uses the real occurrences'):
        synthetic_occurrences('real-metadata', correlation_km=5)


def test_real_metadata_preset(tmp_path):
    """The real occurrences with synthetic embeddings: one image each, real ids, species, places and dates."""
    real = real_occurrences()
    assert len(real) == 7113 and real.gbif_id.is_unique and real.taxon_name.nunique() == 227
    src = make_synthetic_dataset(tmp_path / 'src', 'real-metadata', seed=0, grid=(1, 1, 1, 1408), progress=False)
    o = pq.read_table(
        src / OBSERVATIONS,
        columns=[
            'gbif_id',
            'taxon_id',
            'taxon_name',
            'latitude',
            'longitude',
            'year',
            'month',
            'day',
            'num_vision_embeddings',
        ],
    ).to_pandas()
    assert (o.num_vision_embeddings == 1).all()
    m = o.set_index('gbif_id').loc[real.gbif_id]
    for c in ('taxon_id', 'taxon_name', 'latitude', 'longitude', 'year', 'month', 'day'):
        assert (m[c].to_numpy() == real[c].to_numpy()).all(), c


def test_real_split_file_reads():
    if not REAL_SPLIT.exists():
        pytest.skip(f'{REAL_SPLIT} is not on this machine')
    train, test = load_train_test_split(REAL_SPLIT)
    assert (len(train), len(test)) == (6439, 674)


def test_published_regions_reproduce_the_published_assignment(tmp_path):
    """`deepearth-split --regions published` on the real-metadata preset gives the published assignment, row for row
    (with the WGS84 squares: no row lies in the few metres where they differ from the published 111 km/degree boxes)."""
    src = make_synthetic_dataset(tmp_path / 'src', 'real-metadata', seed=0, grid=(1, 1, 1, 8), progress=False)
    store = prepare_store(src, tmp_path / 'store', progress=False)
    assert split_main(['--store', str(store), '--out', str(tmp_path / 'split.json'), '--regions', 'published']) == 0
    ours = read_split(tmp_path / 'split.json').assignments
    published = real_occurrences().set_index('observation_id')
    assert sorted(ours.index) == sorted(published.index)
    ours = ours.loc[published.index]
    assert (ours.split.to_numpy() == published.split.to_numpy()).all()
    assert (ours.split_reason.to_numpy() == published.split_reason.to_numpy()).all()
