"""The docs site: tools/docs.py builds it with Sphinx once per session (one build for all pytest-xdist workers), then headless Chromium opens every page.

Uses the `browser` and `serve_directory` fixtures of tests/fixtures_browser.py. Checks that each notebook has
a page, that each page loads with no console error and no script or stylesheet from the internet, that
internal links lead to built pages, that every exported name has its API entry with a parameter table, that
the full-text search finds words from the body of pages, and that the split map draws its test regions with
Leaflet inlined. Chromium resolves no host but 127.0.0.1, so nothing is fetched from the internet.
"""

import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from helpers import PAGE_WAIT_S, once_per_run

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
SITE_TITLE = 'deepearth_training'
SEARCH_WORDS = {'torchrun': 'train.html', 'bfloat16': 'train.html', 'buffer_km': 'split.html'}


def notebooks() -> list[str]:
    """Every notebook the site is built from, relative to nbs/ (nbdev skips names starting with `_` or `.`)."""
    return sorted(
        p.relative_to(NBS).as_posix()
        for p in NBS.rglob('*.ipynb')
        if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts)
    )


@pytest.fixture(scope='session')
def built(tmp_path_factory) -> tuple[Path, dict]:
    """Build the site into a temporary folder, once for all workers; return it and {notebook: page} from the build's
    report."""
    pytest.importorskip('sphinx', reason='the docs need the dev setup: bash tools/setup.sh --dev')
    pytest.importorskip('myst_nb', reason='the docs need the dev setup: bash tools/setup.sh --dev')

    def build(folder: Path) -> dict:
        out = folder / '_docs'
        r = subprocess.run(
            [sys.executable, 'tools/docs.py', '--out', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1800
        )
        assert r.returncode == 0, f'docs build failed:\n{r.stdout}\n{r.stderr}'
        assert 'WARNING' not in r.stderr, r.stderr
        pages = dict((nb, page) for page, nb in re.findall(r'^\s+(\S+\.html) <- nbs/(\S+)', r.stdout, re.M))
        return {'out': str(out), 'pages': pages}

    done = once_per_run(tmp_path_factory, 'site', build)
    return Path(done['out']), done['pages']


@pytest.fixture
def site_url(built, serve_directory) -> str:
    """The built site served over HTTP on 127.0.0.1 (fixtures_browser.serve_directory)."""
    return serve_directory(built[0])


def test_every_notebook_has_a_page(built):
    out, pages = built
    assert sorted(pages) == notebooks()
    for page in pages.values():
        assert (out / page).is_file(), page
    assert pages['index.ipynb'] == 'index.html'


def test_sidebar_lists_every_notebook():
    import yaml

    side = yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents']

    def hrefs(items):
        for e in items:
            if isinstance(e, str):
                yield e
            elif 'section' in e:
                yield from hrefs(e.get('contents') or [])
            elif 'href' in e:
                yield e['href']

    listed = list(hrefs(side))
    assert len(listed) == len(set(listed)), 'nbs/sidebar.yml lists a notebook twice'
    unlisted, missing = sorted(set(notebooks()) - set(listed)), sorted(set(listed) - set(notebooks()))
    assert not unlisted and not missing, f'nbs/sidebar.yml: add {unlisted}, remove {missing}'


def test_quarto_config_for_nbdev_docs():
    """nbs/nbdev.yml is what `nbdev_docs` writes from settings.ini, and _quarto.yml reads it and the sidebar."""
    import yaml
    from nbdev.config import get_config
    from nbdev.quarto import _nbdev_yml

    cfg = get_config(path=ROOT)
    vals = {k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']}
    assert (NBS / 'nbdev.yml').read_text() == _nbdev_yml.format(doc_path=cfg.doc_path.name, **vals)
    quarto = yaml.safe_load((NBS / '_quarto.yml').read_text())
    assert quarto['project']['type'] == 'website'
    assert set(quarto['metadata-files']) == {'nbdev.yml', 'sidebar.yml'}
    assert cfg.custom_sidebar, 'settings.ini must keep custom_sidebar = True so nbdev_docs keeps nbs/sidebar.yml'


def _exported_entries(pages: dict) -> dict[str, list[str]]:
    """{page: [anchor, ...]} for the public top-level names in deepearth_training/_modidx.py on built pages."""
    from deepearth_training._modidx import d

    built_pages = set(pages.values())
    want = {}
    for mod, syms in d['syms'].items():
        for name, (doc, _) in syms.items():
            short = name[len(mod) + 1 :]
            page, _, anchor = doc.partition('#')
            if '.' in short or short.startswith('_') or page not in built_pages:
                continue
            want.setdefault(page, []).append(anchor)
    return want


def test_api_reference_entries(built):
    out, pages = built
    want = _exported_entries(pages)
    assert {'create_observation_id', 'parse_observation_id'} <= set(want['ids.html'])
    for page, anchors in sorted(want.items()):
        html = (out / page).read_text(encoding='utf-8')
        missing = sorted(a for a in anchors if f'id="{a}"' not in html)
        assert not missing, f'{page} lacks API reference entries for {missing}'


def test_parameter_tables(built):
    """show_doc's docments become a Parameter/Type/Default/Details table under the signature."""
    out, _ = built
    html = (out / 'webassets.html').read_text(encoding='utf-8')
    entry = html[html.index('id="offline_html"') :][:6000]
    table = entry[entry.index('<table') : entry.index('</table>')]
    assert re.findall(r'<th class="head"><p>(\w+)</p></th>', table) == ['Parameter', 'Type', 'Default', 'Details']
    assert 'leaflet_dir' in table and 'folder with leaflet.js and leaflet.css' in table


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


_REMOTE_ASSETS_JS = """
const bad = [];
const docs = [document, ...Array.from(document.querySelectorAll('iframe')).map(f => f.contentDocument).filter(d => d)];
for (const d of docs) {
  for (const s of d.querySelectorAll('script[src]')) if (new URL(s.src, d.baseURI).hostname !== '127.0.0.1') bad.push(s.src);
  for (const l of d.querySelectorAll('link[rel=stylesheet]')) if (new URL(l.href, d.baseURI).hostname !== '127.0.0.1') bad.push(l.href);
}
return bad;
"""


@pytest.mark.browser
def test_pages_load(built, site_url, browser):
    out, pages = built
    for page in sorted(set(pages.values())) + ['search.html', 'genindex.html']:
        browser.get(site_url + page)
        assert SITE_TITLE in browser.title, (page, browser.title)
        assert browser.find_elements('css selector', 'main h1'), f'{page} has no heading'
        assert browser.find_elements('css selector', '.bd-sidebar-primary a.reference.internal'), (
            f'{page}: no navigation'
        )
        assert browser.execute_script(_REMOTE_ASSETS_JS) == [], f'{page} loads scripts or styles from the internet'
        errors = _console_errors(browser)
        assert not errors, f'{page}: {errors}'
        hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        for href in hrefs:
            if href.startswith(site_url):
                target = href[len(site_url) :].split('#')[0].split('?')[0] or 'index.html'
                assert (out / target).exists(), f'{page} links to {href}, which was not built'
                assert not target.endswith('.ipynb'), f'{page} links to a notebook: {href}'


def _search(browser, site_url: str, word: str) -> list[str]:
    """The result links the site's search page gives for `word`. Sphinx adds results one at a time and
    writes the summary line only after the last, so the list is read once that line is there."""
    browser.get(f'{site_url}search.html?q={word}')
    deadline = time.time() + PAGE_WAIT_S
    while not browser.execute_script(
        "const p = document.querySelector('#search-results p.search-summary'); return !!(p && p.textContent)"
    ):
        assert time.time() < deadline, f'the search for {word!r} did not finish in {PAGE_WAIT_S} s'
        time.sleep(0.2)
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)"
    )
    return [l[len(site_url) :].split('#')[0].split('?')[0] for l in links]


@pytest.mark.browser
def test_search_finds_words_in_the_text(built, site_url, browser):
    for word, page in SEARCH_WORDS.items():
        found = _search(browser, site_url, word)
        assert page in found, f'searching {word!r} found {found}, not {page}'


_MAP_STATE_JS = """
if (!window.L || !window.L.Map) return null;
const maps = Object.values(window).filter(v => v instanceof L.Map);
if (arguments[0]) for (const m of maps) {  // bring every region into view: a region may start off-screen
  let b = null;
  m.eachLayer(l => { if (l instanceof L.Rectangle) b = b ? b.extend(l.getBounds()) : L.latLngBounds(l.getBounds().getSouthWest(), l.getBounds().getNorthEast()); });
  if (b) m.fitBounds(b, {animate: false});
}
const rects = [];
for (const m of maps) m.eachLayer(l => { if (l instanceof L.Rectangle && l._path && document.contains(l._path)) {
  const b = l._path.getBoundingClientRect(); rects.push({w: b.width, h: b.height, d: l._path.getAttribute('d')}); } });
return {maps: maps.length, rects: rects,
        labels: Array.from(document.querySelectorAll('.leaflet-control-layers label')).map(l => l.textContent.trim()),
        remote: Array.from(document.scripts).map(s => s.src).filter(s => s)};
"""


def _regions_in_legend(labels: list[str]) -> int | None:
    """The number of test regions the map's layer control states, e.g. 'test regions (5)'; None if it states none."""
    found = [int(m.group(1)) for l in labels for m in [re.search(r'test regions \((\d+)\)', l)] if m]
    return found[0] if found else None


@pytest.mark.browser
def test_split_map_draws_regions(built, site_url, browser):
    _, pages = built
    page = next((p for nb, p in pages.items() if nb.endswith('_maps.ipynb')), None)
    if page is None:
        pytest.skip('no maps notebook, so there is no saved split map to check')
    browser.get(site_url + page)
    frames = browser.find_elements('css selector', 'main .cell_output iframe[srcdoc]')
    declared = [len(re.findall(r'\bL\.rectangle\(', f.get_attribute('srcdoc'))) for f in frames]
    assert any(declared), f'{page}: no saved folium map with region rectangles'
    for frame, n_regions in zip(frames, declared):
        if not n_regions:
            continue
        browser.switch_to.frame(frame)
        try:
            deadline, state = time.time() + PAGE_WAIT_S, None
            while time.time() < deadline:
                state = browser.execute_script(_MAP_STATE_JS, False)
                if state and len(state['rects']) >= n_regions:
                    break
                time.sleep(0.2)
            assert state is not None, f'{page}: Leaflet did not load inside the map'
            browser.execute_script(_MAP_STATE_JS, True)
            time.sleep(0.3)
            state = browser.execute_script(_MAP_STATE_JS, False)
            assert state['remote'] == [], f'{page}: the map loads scripts from {state["remote"]}'
            drawn = [r for r in state['rects'] if r['w'] > 0 and r['h'] > 0 and r['d']]
            stated = _regions_in_legend(state['labels'])
            assert stated in (None, n_regions), (
                f'{page}: the legend states {stated} regions, the map declares {n_regions}'
            )
            assert len(drawn) == n_regions, f'{page}: {len(drawn)} region rectangles drawn, {n_regions} expected'
        finally:
            browser.switch_to.default_content()
