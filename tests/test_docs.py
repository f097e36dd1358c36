"""The docs site: tools/build_docs.py builds it offline, then headless Chromium opens every page.

Checks that each page loads (title, heading, no console error, links to pages that exist), that every
exported name of the modules shown has its API reference entry, and that the split map draws its
test regions with the local Leaflet. Chromium resolves no host but 127.0.0.1, so nothing is fetched
from the internet.
"""
import functools
import http.server
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
CHROMIUM, CHROMEDRIVER = Path('/usr/bin/chromium'), Path('/usr/bin/chromedriver')
MAPS_NB = NBS / '06_maps.ipynb'
SITE_TITLE = 'deepearth_training'
REQUIRED_API = {'ids.html': ['create_observation_id', 'parse_observation_id'], 'geo.html': ['geodesic_km', 'square_region']}


def notebooks() -> list[str]:
    """Every notebook the site is built from, relative to nbs/ (nbdev skips names starting with `_` or `.`)."""
    return sorted(p.relative_to(NBS).as_posix() for p in NBS.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts))


@pytest.fixture(scope='module')
def built(tmp_path_factory) -> tuple[Path, dict]:
    """Build the site into a temporary folder; return it and {notebook: page} from the build's report."""
    out = tmp_path_factory.mktemp('site') / '_docs'
    r = subprocess.run([sys.executable, 'tools/build_docs.py', '--out', str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f'docs build failed:\n{r.stdout}\n{r.stderr}'
    pages = dict((nb, page) for page, nb in re.findall(r'^\s+(\S+\.html)\s+<- nbs/(\S+)', r.stdout, re.M))
    return out, pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def site_url(built):
    """The built site served over HTTP on the loopback interface."""
    out, _ = built
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()
    server.server_close()


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    """Headless Chromium that can reach 127.0.0.1 only."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f'{CHROMIUM} or {CHROMEDRIVER} missing: run `bash tools/install_browser.sh`')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', '--window-size=1280,900',
                 f'--user-data-dir={tmp_path_factory.mktemp("chromium-profile")}',
                 '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1']:
        opts.add_argument(flag)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_every_notebook_has_a_page(built):
    out, pages = built
    assert sorted(pages) == notebooks()
    for page in pages.values():
        assert (out / page).is_file(), page
    assert pages['index.ipynb'] == 'index.html'


def _console_errors(driver) -> list[str]:
    """SEVERE console messages, except failed loads from non-loopback hosts (map tiles when offline)."""
    errors = []
    for e in driver.get_log('browser'):
        msg = e['message']
        if e['level'] != 'SEVERE':
            continue
        url = msg.split(' ', 1)[0]
        if 'Failed to load resource' in msg and url.startswith('http') and urlparse(url).hostname != '127.0.0.1':
            continue
        errors.append(msg)
    return errors


_LOCAL_ASSETS_JS = """
const bad = [];
const docs = [document, ...Array.from(document.querySelectorAll('iframe')).map(f => f.contentDocument).filter(d => d)];
for (const d of docs) {
  for (const s of d.querySelectorAll('script[src]')) if (new URL(s.src, d.baseURI).hostname !== '127.0.0.1') bad.push(s.src);
  for (const l of d.querySelectorAll('link[rel=stylesheet]')) if (new URL(l.href, d.baseURI).hostname !== '127.0.0.1') bad.push(l.href);
}
return bad;
"""


def test_pages_load(built, site_url, browser):
    out, pages = built
    for nb, page in pages.items():
        browser.get(site_url + page)
        assert browser.title.endswith(f' – {SITE_TITLE}'), (page, browser.title)
        h1 = browser.find_element('css selector', 'main h1.title').text
        assert h1 and h1 in browser.title, (page, h1)
        assert browser.find_elements('css selector', 'nav.sidebar a'), page
        assert browser.execute_script(_LOCAL_ASSETS_JS) == [], f'{page} loads scripts or styles from the internet'
        errors = _console_errors(browser)
        assert not errors, f'{page}: {errors}'
        hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        for href in hrefs:
            if href.startswith(site_url):
                target = href[len(site_url):].split('#')[0].split('?')[0] or 'index.html'
                assert (out / target).is_file(), f'{page} links to {href}, which was not built'
                assert not target.endswith('.ipynb'), f'{page} links to a notebook: {href}'


def _exported_entries(pages: dict) -> dict[str, list[str]]:
    """{page: [anchor, ...]} for the public top-level names in deepearth_training/_modidx.py on built pages."""
    from deepearth_training._modidx import d
    built_pages = set(pages.values())
    want = {}
    for mod, syms in d['syms'].items():
        for name, (doc, _) in syms.items():
            short = name[len(mod) + 1:]
            page, _, anchor = doc.partition('#')
            if '.' in short or short.startswith('_') or page not in built_pages:
                continue
            want.setdefault(page, []).append(anchor)
    return want


def test_api_reference_entries(built, site_url, browser):
    _, pages = built
    want = _exported_entries(pages)
    for page, names in REQUIRED_API.items():
        assert set(names) <= set(want.get(page, [])), f'{page} should document {names}'
    for page, anchors in sorted(want.items()):
        browser.get(site_url + page)
        found = browser.execute_script("""
            return arguments[0].filter(a => { const e = document.getElementById(a);
              return e && /^H[2-4]$/.test(e.tagName) && e.closest('.cell.doc') && e.offsetHeight > 0; });""", anchors)
        missing = sorted(set(anchors) - set(found))
        assert not missing, f'{page} lacks API reference entries for {missing}'


_MAP_STATE_JS = """
if (!window.L || !window.L.Map) return null;
const maps = Object.values(window).filter(v => v instanceof L.Map);
const rects = [];
for (const m of maps) m.eachLayer(l => { if (l instanceof L.Rectangle && l._path && document.contains(l._path)) {
  const b = l._path.getBoundingClientRect(); rects.push({w: b.width, h: b.height, d: l._path.getAttribute('d')}); } });
return {maps: maps.length, rects: rects,
        labels: Array.from(document.querySelectorAll('.leaflet-control-layers label')).map(l => l.textContent.trim()),
        leaflet: Array.from(document.scripts).map(s => s.src).filter(s => /leaflet/.test(s))};
"""


def _regions_in_map(doc: str) -> int:
    """The number of rectangles a saved folium map declares (one `L.rectangle` per test region)."""
    return len(re.findall(r'\bL\.rectangle\(', doc))


def _regions_in_legend(labels: list[str]) -> int | None:
    """The number of test regions the map's layer control states, e.g. 'test regions (5)'; None if it states none."""
    found = [int(m.group(1)) for l in labels for m in [re.search(r'test regions \((\d+)\)', l)] if m]
    return found[0] if found else None


def test_split_map_draws_regions(built, site_url, browser):
    if not MAPS_NB.exists():
        pytest.skip('nbs/06_maps.ipynb does not exist yet, so there is no saved split map to check')
    _, pages = built
    page = pages['06_maps.ipynb']
    browser.get(site_url + page)
    frames = browser.find_elements('css selector', 'main .cell-output iframe[srcdoc]')
    declared = [_regions_in_map(f.get_attribute('srcdoc')) for f in frames]
    assert any(declared), f'{page}: no saved folium map with region rectangles'
    for frame, n_regions in zip(frames, declared):
        if not n_regions:
            continue
        browser.switch_to.frame(frame)
        try:
            deadline, state = time.time() + 20, None
            while time.time() < deadline:
                state = browser.execute_script(_MAP_STATE_JS)
                if state and len(state['rects']) >= n_regions:
                    break
                time.sleep(0.2)
            assert state is not None, f'{page}: Leaflet did not load inside the map'
            assert all('127.0.0.1' in s for s in state['leaflet']), state['leaflet']
            assert state['maps'] >= 1
            drawn = [r for r in state['rects'] if r['w'] > 0 and r['h'] > 0 and r['d']]
            stated = _regions_in_legend(state['labels'])
            assert stated in (None, n_regions), f'{page}: the legend states {stated} regions, the map declares {n_regions}'
            assert len(drawn) == n_regions, f'{page}: {len(drawn)} region rectangles drawn, {n_regions} expected'
        finally:
            browser.switch_to.default_content()
