"""Species names that look like Jinja template source reach the split map as literal, inert text."""

import time

import matplotlib
import numpy as np
import pytest

from deepearth_training.maps import save_map, split_map, write_split_visuals
from deepearth_training.split_spec import SplitSpec
from deepearth_training.holdout import make_split
from helpers import observations

matplotlib.use('Agg')

MKDIR = 'Rubus {{ cycler.__init__.__globals__.os.mkdir(cycler.__name__) }} argutus'
NAMES = [MKDIR, 'Plantago {{ 7*7 }} major', 'Carex {% raw %}x', 'Salix {# c #} nigra']


def hostile_split(n: int = 300):
    obs = observations(n, seed=3)
    obs['taxon_name'] = np.resize(NAMES, n)
    return make_split(obs, SplitSpec(n_regions=1, min_region_species=1, seed=1))


def test_template_payloads_stay_text_in_the_written_map(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, html_path = write_split_visuals(hostile_split(), tmp_path / 'out', dpi=40)
    assert not (tmp_path / 'Cycler').exists() and sorted(p.name for p in tmp_path.iterdir()) == ['out']
    html = html_path.read_text()
    for name in NAMES:
        assert name in html, name
    assert 'Plantago 49 major' not in html and 'Salix  nigra' not in html


@pytest.mark.browser
def test_template_payloads_show_literally_in_the_browser(browser, serve_directory, tmp_path):
    m = split_map(hostile_split(), tiles=None, leaflet_url=serve_directory.leaflet_url)
    save_map(m, tmp_path / 'hostile.html')
    browser.get(serve_directory(tmp_path) + 'hostile.html')
    deadline, species = time.time() + 20, None
    while time.time() < deadline and not species:
        species = browser.execute_script(
            'const m = window[arguments[0]]; if (!window.L || !m) return null; const s = [];'
            'm.eachLayer(l => { if (l.feature) s.push(l.feature.properties.species); }); return s;',
            m.get_name(),
        )
        time.sleep(0.2)
    assert sorted(set(species)) == sorted(NAMES)


def test_split_command_visuals_with_hostile_species(tiny_source, tmp_path, monkeypatch):
    """The reported path: deepearth-split --visuals on a store whose species carry the payloads."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepearth_training.prepare import prepare_store
    from deepearth_training.source_tables import OBSERVATIONS
    from deepearth_training.split_command import main

    src = shutil.copytree(tiny_source, tmp_path / 'src')
    t = pq.read_table(src / OBSERVATIONS)
    names = t.column('taxon_name').to_pylist()
    renamed = dict(zip(sorted(set(names)), NAMES))  # four species, every row of each
    k = t.schema.get_field_index('taxon_name')
    pq.write_table(t.set_column(k, 'taxon_name', pa.array([renamed.get(n, n) for n in names])), src / OBSERVATIONS)
    store = prepare_store(src, tmp_path / 'store', progress=False)
    monkeypatch.chdir(tmp_path)
    argv = ['--store', str(store), '--out', 'split.json', '--visuals', 'vis', '--all-rows', '--n-regions', '1']
    assert main([*argv, '--min-region-species', '1', '--min-region-observations', '1']) == 0
    assert not (tmp_path / 'Cycler').exists()
    html = (tmp_path / 'vis' / 'split_map.html').read_text()
    assert all(n in html for n in NAMES) and 'Plantago 49 major' not in html
