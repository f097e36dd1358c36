"""The split figure and the folium map: what they draw, and that they are written atomically."""

import dataclasses
import re

import matplotlib
import numpy as np
import pytest
from matplotlib.patches import Polygon, Rectangle

from deepearth_training.maps import (
    GROUPS,
    buffer_outline,
    save_figure,
    save_map,
    split_figure,
    split_groups,
    split_map,
    write_split_visuals,
)
from deepearth_training.split_spec import SplitSpec
from deepearth_training.split import load_split, save_split
from deepearth_training.holdout import make_split
from helpers import geod_km, observations

matplotlib.use('Agg')


@pytest.fixture(scope='module')
def result():
    return make_split(observations(1500, seed=4), SplitSpec(buffer_km=2.0, seed=3))


def test_groups(result):
    g = split_groups(result)
    a = result.assignments
    assert set(g) == set(GROUPS)
    assert (g[(a.region_id > 0).to_numpy()] == 'spatial test').all()
    assert (g[(a.split == 'train').to_numpy()] == 'train').all()
    assert (g[(a.split_reason == 'temporal_test').to_numpy()] == 'temporal test').all()


def test_buffer_outline_is_at_buffer_distance(result):
    r = result.regions.iloc[0]
    lat, lon = buffer_outline((r.south, r.north, r.west, r.east), 2.0)
    # edge midpoints of the outline are 2 km from the box edge, measured independently with pyproj
    assert geod_km(lat.max(), r.center_lng, r.north, r.center_lng) == pytest.approx(2.0, abs=1e-3)
    assert geod_km(r.center_lat, lon.max(), r.center_lat, r.east) == pytest.approx(2.0, abs=1e-3)


def test_figure(result, tmp_path):
    fig = split_figure(result)
    ax_map = fig.axes[0]
    assert len(fig.axes) == 3
    assert sum(isinstance(p, Rectangle) for p in ax_map.patches) == len(result.regions)
    assert sum(isinstance(p, Polygon) and not isinstance(p, Rectangle) for p in ax_map.patches) == len(result.regions)
    bars = sum(c.datavalues.sum() for c in fig.axes[1].containers)
    assert bars == len(result.observations)
    p = save_figure(fig, tmp_path / 'fig.png', dpi=60)
    assert p.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and [q.name for q in tmp_path.iterdir()] == ['fig.png']
    matplotlib.pyplot.close(fig)


def test_map_html(result, tmp_path):
    html = save_map(split_map(result), tmp_path / 'map.html').read_text()
    assert len(re.findall(r'\bL\.rectangle\(', html)) == len(result.regions)
    assert len(re.findall(r'\bL\.polygon\(', html)) == len(result.regions)
    assert 'L.control.layers' in html and f'test regions ({len(result.regions)})' in html
    first = result.observations.iloc[0]
    assert first.observation_id in html and first.taxon_name in html
    assert '"ID"' in html and '"Species"' in html and '"Date"' in html
    assert [q.name for q in tmp_path.iterdir()] == ['map.html']


def test_offline_map_loads_nothing_remote(result, tmp_path):
    html = save_map(split_map(result, tiles=None, leaflet_url='assets/'), tmp_path / 'map.html').read_text()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(urls) == ['assets/leaflet.css', 'assets/leaflet.js']
    assert 'tile.openstreetmap' not in html


def test_max_points(result):
    html = split_map(result, max_points=10).get_root().render()
    n = len(result.observations)
    assert html.count('"type": "Feature"') <= 10 * len(GROUPS) < n
    assert 'train (10 of' in html


def test_map_dates_keep_unknowns_unknown(result):
    obs = result.observations.copy()
    obs[['year', 'month', 'day']] = obs[['year', 'month', 'day']].astype('float64')
    obs.iloc[:3, [obs.columns.get_loc(c) for c in ('year', 'month', 'day')]] = [
        [2020, 3, 7],
        [2021, np.nan, 5],
        [2022, 12, np.nan],
    ]
    html = split_map(dataclasses.replace(result, observations=obs)).get_root().render()
    dates = [re.search(rf'"date": "([^"]*)", "id": "{i}"', html).group(1) for i in obs['observation_id'].iloc[:3]]
    assert dates == ['2020-03-07', '2021', '2022-12']


def test_visuals_from_a_split_file(result, tmp_path):
    png, html = write_split_visuals(load_split(save_split(result, tmp_path / 'split.json')), tmp_path / 'out')
    assert png.stat().st_size > 10_000 and html.stat().st_size > 10_000


def test_figure_draws_a_sample_of_many_points(result):
    fig = split_figure(result, max_points=100)
    drawn = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert drawn == 100
    assert any('100 of' in t.get_text() for t in fig.axes[0].texts)
    assert sum(c.datavalues.sum() for c in fig.axes[1].containers) == len(result.observations)
    matplotlib.pyplot.close(fig)
