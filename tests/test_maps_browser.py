"""The saved split map opened in headless Chromium, with Leaflet served from 127.0.0.1: one rectangle per region."""

import time

import pytest

from deepearth_training.maps import save_map, split_map
from deepearth_training.split_spec import SplitSpec
from deepearth_training.holdout import make_split
from helpers import POPUP_JS, STATE_JS, observations


@pytest.mark.browser
def test_saved_map_draws_one_rectangle_per_region(browser, serve_directory, tmp_path):
    result = make_split(observations(1200, seed=5), SplitSpec(n_regions=4, buffer_km=1.0, seed=2))
    m = split_map(result, tiles=None, leaflet_url=serve_directory.leaflet_url)
    save_map(m, tmp_path / 'split_map.html')
    base = serve_directory(tmp_path)
    browser.get(base + 'split_map.html')
    deadline, state = time.time() + 20, None
    while time.time() < deadline:
        state = browser.execute_script(STATE_JS, m.get_name())
        if state and state['drawn'] >= len(result.regions):
            break
        time.sleep(0.2)
    assert state is not None, 'Leaflet did not load'
    assert state['rects'] == state['drawn'] == len(result.regions) == 4
    assert state['buffers'] == 4
    assert state['points'] == len(result.observations)
    assert 'test regions (4)' in state['labels'] and any(l.startswith('train (') for l in state['labels'])
    assert all(r.startswith(base) for r in state['resources']), state['resources']
    assert '/leaflet/leaflet.js' in serve_directory.requests
    errors = [
        e['message'] for e in browser.get_log('browser') if e['level'] == 'SEVERE' and 'favicon' not in e['message']
    ]
    assert not errors, errors
    obs_id, text = browser.execute_script(POPUP_JS, m.get_name())
    assert text is not None and obs_id in text and 'Species' in text and 'Date' in text


HOSTILE = '<img src=x onerror=alert(1)>'

HOSTILE_POPUP_JS = """
const m = window[arguments[0]];
window.__alerts = [];
window.alert = msg => window.__alerts.push(String(msg));
let marker = null;
m.eachLayer(l => { if (!marker && l instanceof L.CircleMarker && l.feature) marker = l; });
marker.fire('click', {latlng: marker.getLatLng()}, true);
const el = document.querySelector('.leaflet-popup-content');
return {text: el ? el.textContent : null, imgs: document.querySelectorAll('img').length};
"""


@pytest.mark.browser
def test_species_names_show_as_text_in_popups(browser, serve_directory, tmp_path):
    obs = observations(300, seed=3).assign(taxon_name=HOSTILE)
    m = split_map(
        make_split(obs, SplitSpec(n_regions=1, min_region_species=1, seed=1)),
        tiles=None,
        leaflet_url=serve_directory.leaflet_url,
    )
    save_map(m, tmp_path / 'hostile.html')
    browser.get(serve_directory(tmp_path) + 'hostile.html')
    deadline, state = time.time() + 20, None
    while time.time() < deadline and state is None:
        state = browser.execute_script('return window.L && window[arguments[0]] ? 1 : null', m.get_name())
        time.sleep(0.2)
    got = browser.execute_script(HOSTILE_POPUP_JS, m.get_name())
    time.sleep(0.5)
    assert got['text'] is not None and HOSTILE in got['text'], got
    assert got['imgs'] == 0 and browser.execute_script('return window.__alerts') == []
