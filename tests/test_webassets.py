"""Pages from deepearth_training.webassets opened in headless Chromium that can reach 127.0.0.1 only.

With Leaflet inlined the map draws, its popup shows a species name that is markup as text, and nothing is
fetched but tiles; failing tiles bring up the tiles notice; without a local Leaflet the page says it needs
the internet.
"""

import time

import folium
import pytest

from deepearth_training import webassets
from deepearth_training.webassets import escape_html, find_leaflet, offline_html, save_offline

EVIL = '<img src=x onerror="document.title=\'owned\'">'

STATE_JS = """
const m = window[arguments[0]];
if (!window.L || !m) return null;
let rects = 0, circles = 0, points = 0;
m.eachLayer(l => { if (l instanceof L.Rectangle) rects++; else if (l instanceof L.CircleMarker) circles++;
                   else if (l instanceof L.Marker) points++; });
return {rects: rects, circles: circles, points: points,
        remote: performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin)),
        tiles_notice: !!document.querySelector('.deepearth-tiles-notice'),
        network_notice: (document.querySelector('.deepearth-network-notice') || {}).textContent || null};
"""

POPUP_JS = """
const m = window[arguments[0]];
let c = null;
m.eachLayer(l => { if (!c && l instanceof L.CircleMarker) c = l; });
c.openPopup();
const el = document.querySelector('.leaflet-popup-content');
return el ? [el.textContent.trim(), el.querySelectorAll('img').length] : null;
"""


def example_map(tiles) -> folium.Map:
    """Rectangles, a circle marker with a folium Popup, GeoJSON points with popups, and a layer control."""
    m = folium.Map(location=[28.5, -81.4], zoom_start=9, tiles=tiles)
    folium.Rectangle([[28.4, -81.5], [28.6, -81.3]], tooltip='Region 0').add_to(m)
    folium.CircleMarker([28.5, -81.4], radius=6, popup=folium.Popup(escape_html(EVIL))).add_to(m)
    pts = {
        'type': 'FeatureCollection',
        'features': [
            {
                'type': 'Feature',
                'properties': {'species': 'Quercus virginiana'},
                'geometry': {'type': 'Point', 'coordinates': [-81.45, 28.55]},
            }
        ],
    }
    folium.GeoJson(pts, name='points', popup=folium.GeoJsonPopup(fields=['species'])).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def _state(browser, name: str, ready) -> dict:
    """The page's map state once `ready(state)` holds (or after 20 s)."""
    deadline, state = time.time() + 20, None
    while time.time() < deadline:
        state = browser.execute_script(STATE_JS, name)
        if state and ready(state):
            break
        time.sleep(0.2)
    return state


@pytest.mark.browser
def test_offline_map_draws_and_escapes(browser, serve_directory, tmp_path):
    if find_leaflet() is None:
        pytest.skip('no local Leaflet: run `bash tools/setup.sh`')
    m = example_map(tiles='OpenStreetMap')
    save_offline(m, tmp_path / 'map.html')
    browser.get(serve_directory(tmp_path) + 'map.html')
    state = _state(browser, m.get_name(), lambda s: s['rects'] and s['tiles_notice'])
    assert state is not None, 'Leaflet did not load'
    assert (state['rects'], state['circles'], state['points']) == (1, 1, 1)
    assert state['network_notice'] is None
    assert state['tiles_notice'], 'tiles cannot load here, and the page should say so'
    assert all('tile.openstreetmap' in u for u in state['remote']), state['remote']
    text, n_img = browser.execute_script(POPUP_JS, m.get_name())
    assert (text, n_img) == (EVIL, 0)
    assert browser.title != 'owned'
    errors = [
        e['message']
        for e in browser.get_log('browser')
        if e['level'] == 'SEVERE' and not any(s in e['message'] for s in ('tile.openstreetmap', 'favicon'))
    ]
    assert not errors, errors


@pytest.mark.browser
def test_without_local_leaflet_the_page_says_it_needs_the_network(browser, serve_directory, tmp_path, monkeypatch):
    monkeypatch.setattr(webassets, 'find_leaflet', lambda: None)
    m = example_map(tiles=None)
    (tmp_path / 'map.html').write_text(offline_html(m.get_root().render()), encoding='utf-8')
    browser.get(serve_directory(tmp_path) + 'map.html')
    notice = browser.find_element('css selector', '.deepearth-network-notice')
    assert notice.is_displayed() and 'needs the internet' in notice.text and 'leaflet.js' in notice.text
