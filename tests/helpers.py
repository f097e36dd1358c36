"""Helpers shared by several test modules: synthetic observation tables, an independent geodesic, a store-equals-source
check, the JavaScript that reads a Leaflet map's state in the browser, and `once_per_run` for what is built once
for all pytest-xdist workers."""

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pyproj import Geod

from deepearth_training.source_tables import OBSERVATIONS, VISION_DIR, VISION_INDEX, shard_name
from deepearth_training.store import open_store

GEOD = Geod(ellps='WGS84')


def once_per_run(
    tmp_path_factory,  # pytest's session tmp_path_factory
    name: str,  # names the shared folder and lock file
    build: Callable[[Path], object],  # writes into the new, empty folder it is given; returns JSON-serialisable data
):
    """`build`'s result, computed once per test run however many pytest-xdist workers ask: the first builds into a
    folder all workers share, under a file lock; the others wait for it, then read its saved result. A failed build
    saves nothing, so the next worker to ask builds again (and fails the same way)."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get('PYTEST_XDIST_WORKER') else root
    done = root / f'{name}.json'
    with open(root / f'{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root / name, ignore_errors=True)
            (root / name).mkdir()
            result = build(root / name)
            tmp = done.with_suffix('.partial')
            tmp.write_text(json.dumps(result))
            tmp.rename(done)
    return json.loads(done.read_text())


PAGE_WAIT_S = 60  # how long a browser test waits for a page to finish drawing (generous: the machine may be loaded)


def observations(n: int = 2500, seed: int = 0) -> pd.DataFrame:
    """Clustered observations over Central Florida with every column a split file needs."""
    rng = np.random.default_rng(seed)
    hubs = np.column_stack([rng.uniform(28.08, 28.93, 25), rng.uniform(-81.88, -80.95, 25)])
    h = rng.integers(0, len(hubs), n)
    sp = rng.integers(0, 40, n)
    gbif = rng.choice(10**9, n, replace=False)
    day = rng.integers(1, 29, n).astype(float)
    day[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            'observation_id': [f'{g}_1' for g in gbif],
            'gbif_id': gbif,
            'image_index': 1,
            'taxon_id': (sp + 900).astype(str),
            'taxon_name': [f'Species {s}' for s in sp],
            'latitude': hubs[h, 0] + rng.normal(0, 0.04, n),
            'longitude': hubs[h, 1] + rng.normal(0, 0.04, n),
            'year': rng.integers(2010, 2026, n),
            'month': rng.integers(1, 13, n).astype(float),
            'day': day,
            'has_vision': rng.random(n) < 0.95,
        }
    )


def geod_km(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(lat1, lon1, lat2, lon2)
    return GEOD.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())[2].reshape(lat1.shape) / 1000


def source_embeddings(src):
    """{(gbif_id, image_index): float32 or float16 embedding [prod(grid)]} read naively from the source."""
    vi = pq.read_table(src / VISION_INDEX).to_pandas()
    vi['image_index'] = vi.groupby('gbif_id').cumcount() + 1
    out = {}
    for f, part in vi.groupby('file_idx'):
        t = pq.read_table(src / VISION_DIR / shard_name(f))
        for g, i, r in zip(part.gbif_id, part.image_index, part.row_idx):
            assert t.column('gbif_id')[r].as_py() == g
            out[(g, i)] = np.asarray(t.column('embedding')[r].values.to_numpy(zero_copy_only=False))
    return out


def check_store(store_path, src, dtype):
    s = open_store(store_path)
    o = s.observations
    emb = source_embeddings(src)
    vis = o[o.has_vision]
    assert len(vis) == len(emb) == len(s.vision)
    for g, i, vr in zip(vis.gbif_id, vis.image_index, vis.vision_row):
        want = emb[(g, i)].astype(dtype).reshape(s.vision_shape)
        assert np.array_equal(s.vision[vr], want), (g, i)
        assert np.allclose(
            s.pooled[vr], want.astype(np.float32).reshape(-1, s.vision_shape[-1]).mean(0), rtol=1e-6, atol=1e-6
        )
    # metadata and language, row by row against the source table
    so = pq.read_table(src / OBSERVATIONS).to_pandas().set_index('gbif_id')
    first = o[o.image_index == 1].set_index('gbif_id')
    assert list(first.index) == list(so.index)  # source order kept, every occurrence present once
    for c in ('latitude', 'longitude', 'year', 'month', 'day', 'hour', 'minute', 'second'):
        assert np.array_equal(first[c].to_numpy(), so[c].to_numpy().astype(first[c].dtype), equal_nan=True), c
    assert (first.taxon_id == so.taxon_id.astype(str)).all() and (first.taxon_name == so.taxon_name).all()
    for g, lang in zip(so.index, so.language_embedding):
        assert np.array_equal(s.language[first.species_idx[g]], lang)
    n_rows = so.num_vision_embeddings.clip(lower=1)
    assert (o.groupby('gbif_id').size().reindex(so.index).to_numpy() == n_rows.to_numpy()).all()
    return s


STATE_JS = """
const m = window[arguments[0]];
if (!window.L || !m) return null;
let rects = 0, buffers = 0, points = 0;
m.eachLayer(l => {
  if (l instanceof L.Rectangle) rects++;
  else if (l instanceof L.Polygon) buffers++;
  else if (l instanceof L.CircleMarker) points++;
});
return {rects: rects, buffers: buffers, points: points,
        drawn: document.querySelectorAll('svg path.test-region').length,
        labels: Array.from(document.querySelectorAll('.leaflet-control-layers label')).map(l => l.textContent.trim()),
        resources: performance.getEntriesByType('resource').map(e => e.name)};
"""

POPUP_JS = """
const m = window[arguments[0]];
let marker = null;
m.eachLayer(l => { if (!marker && l instanceof L.CircleMarker && l.feature) marker = l; });
marker.fire('click', {latlng: marker.getLatLng()}, true);
const el = document.querySelector('.leaflet-popup-content');
return [marker.feature.properties.id, el ? el.textContent : null];
"""


def train_flags(store, split, out, *more) -> list[str]:
    """deepearth-train flags for a one-epoch language run without progress bars."""
    return ['--store', str(store), '--split', str(split), '--mode', 'language', '--epochs', '1', '--out', str(out),
            '--no-progress', *more]  # fmt: skip


def one_error(capsys) -> str:
    """The single `error:` line a command printed on stderr."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: '), err
    return err[0]


def box_distance_km(lat, lon, r) -> np.ndarray:
    """Distance from points to box r (south, north, west, east): golden-section search along each edge with Geod."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    edges = [
        ((r.south, r.west), (r.south, r.east)),
        ((r.north, r.west), (r.north, r.east)),
        ((r.south, r.west), (r.north, r.west)),
        ((r.south, r.east), (r.north, r.east)),
    ]
    best = np.full(len(lat), np.inf)
    g = (np.sqrt(5) - 1) / 2
    for (la0, lo0), (la1, lo1) in edges:
        f = lambda t: geod_km(lat, lon, la0 + t * (la1 - la0), lo0 + t * (lo1 - lo0))
        a, b = np.zeros(len(lat)), np.ones(len(lat))
        for _ in range(60):
            c, d = b - g * (b - a), a + g * (b - a)
            left = f(c) < f(d)
            b, a = np.where(left, d, b), np.where(left, a, c)
        best = np.minimum(best, np.minimum(f((a + b) / 2), np.minimum(f(np.zeros(len(lat))), f(np.ones(len(lat))))))
    inside = (lat >= r.south) & (lat <= r.north) & (lon >= r.west) & (lon <= r.east)
    return np.where(inside, 0.0, best)
