"""Fixtures for tests that open pages in headless Chromium, with Leaflet served locally.

`browser` is a headless Chromium webdriver (selenium) that can resolve 127.0.0.1 only, so a page that
tries to fetch anything from the internet fails visibly instead of silently depending on it.
`serve_directory(path)` serves a directory over HTTP on 127.0.0.1 and returns its base URL; Leaflet's
assets (the npm package `leaflet`, installed by tools/install_browser.sh) are served under `leaflet/`
of every served directory, and every requested path is recorded in `serve_directory.requests`.
"""

import functools
import http.server
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = Path('/usr/bin/chromium'), Path('/usr/bin/chromedriver')
LEAFLET_DIST = ROOT / 'tools' / 'node_modules' / 'leaflet' / 'dist'
CHROMIUM_FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--window-size=1280,900',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
]


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'browser: opens pages in headless Chromium (skipped only when Chromium is absent)'
    )


@pytest.fixture(scope='session')
def chromium(tmp_path_factory):
    """Headless Chromium webdriver with a fresh profile, able to reach 127.0.0.1 only (one per session)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(
            f'headless Chromium is not installed ({", ".join(missing)} missing): run `bash tools/install_browser.sh`'
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f'--user-data-dir={tmp_path_factory.mktemp("chromium-profile")}']:
        opts.add_argument(flag)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium):
    """The session's Chromium with its console log emptied, so a test sees only what its own pages logged."""
    chromium.get_log('browser')
    return chromium


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `directory`, with `leaflet/...` taken from the Leaflet npm package; records request paths."""

    def __init__(self, *args, requests: list, **kwargs):
        self._requests = requests
        super().__init__(*args, **kwargs)

    def translate_path(self, path):
        clean = path.split('?', 1)[0].split('#', 1)[0]
        self._requests.append(clean)
        if clean.startswith('/leaflet/'):
            return str(LEAFLET_DIST / Path(clean[len('/leaflet/') :]).name)
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve_directory():
    """Factory: serve a directory on 127.0.0.1 (Leaflet under `leaflet/`); returns the base URL ending in '/'."""
    if not (LEAFLET_DIST / 'leaflet.js').exists():
        pytest.skip(f'Leaflet assets missing at {LEAFLET_DIST}: run `bash tools/install_browser.sh`')
    servers = []

    def serve(directory) -> str:
        handler = functools.partial(_Handler, directory=str(directory), requests=serve.requests)
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f'http://127.0.0.1:{server.server_address[1]}/'

    serve.requests = []
    serve.leaflet_url = 'leaflet'
    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
