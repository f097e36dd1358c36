"""deepearth-demo end to end on the tiny preset (run once for the whole session), its map opened offline, a rerun into
its folder, and its refusal to write into a folder it does not own."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepearth_training.demo import prepare_work_dir
from helpers import PAGE_WAIT_S, STATE_JS, once_per_run


def run(*args) -> subprocess.CompletedProcess:
    code = 'import sys; from deepearth_training.demo import main; sys.exit(main(sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope='session')
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The demo's folder after one run on the tiny preset (one for all pytest-xdist workers), and the run's output."""

    def build(folder: Path) -> dict:
        r = run('--out', str(folder / 'demo'), '--preset', 'tiny', '--epochs', '1', '--bench-runs', '1')
        assert r.returncode == 0, r.stderr[-2000:]
        return {'out': str(folder / 'demo'), 'stdout': r.stdout, 'stderr': r.stderr}

    done = once_per_run(tmp_path_factory, 'demo', build)
    return Path(done['out']), subprocess.CompletedProcess([], 0, done['stdout'], done['stderr'])


def test_demo_runs_every_stage(demo):
    out, r = demo
    summary = json.loads((out / 'demo.json').read_text())
    for key in ('split', 'figure', 'map'):
        assert Path(summary['split'][key]).is_file()
    assert Path(summary['benchmark']['report']).is_file() and Path(summary['benchmark']['chart']).is_file()
    for mode in ('language', 'vision'):
        run_dir = Path(summary['train'][mode]['run'])
        assert {'last.pt', 'best.pt', 'metrics.json', 'curves.png'} <= {p.name for p in run_dir.iterdir()}
        assert {'ci95', 'by_distance'} <= set(summary['train'][mode]['final']['spatial'])
    assert 'deepearth-demo finished' in r.stdout and '| vision | spatial |' in r.stdout
    # the summary table shows intervals, and the language model as a sanity check
    assert 'top-1 % of seen species [95 % interval' in r.stdout and 'language (lookup sanity check)' in r.stdout
    # fusion and vision compared on the same rows, and the spread over the two seeds
    assert '| fusion − vision | spatial | seen species only |' in r.stdout and 'over 2 seeds' in r.stdout
    t = summary['train']['vision']['final']['temporal']
    lo, hi = t['ci95']['top1']
    assert f'temporal {100 * t["model"]["top1"]:.1f} [{100 * lo:.1f}–{100 * hi:.1f}]' in r.stdout


@pytest.mark.browser
def test_demo_map_draws_its_regions_without_the_network(demo, browser, serve_directory):
    out, _ = demo
    page = Path(json.loads((out / 'demo.json').read_text())['split']['map'])
    regions = json.loads(Path(json.loads((out / 'demo.json').read_text())['split']['split']).read_text())[
        'test_spatial_regions'
    ]
    name = re.search(r'var (map_[0-9a-f]+) = L\.map', page.read_text())[1]
    base = serve_directory(page.parent)
    browser.get(base + page.name)
    deadline, state = time.time() + PAGE_WAIT_S, None
    while time.time() < deadline and not (state and state['drawn'] >= len(regions)):
        state = browser.execute_script(STATE_JS, name)
        time.sleep(0.2)
    assert state is not None, 'Leaflet did not load'
    assert state['rects'] == state['drawn'] == len(regions) > 0
    assert not [u for u in state['resources'] if not u.startswith(base) and 'tile.openstreetmap' not in u]
    assert not any(q.startswith('/leaflet/') for q in serve_directory.requests)  # Leaflet is inside the page


def test_a_previous_demo_folder_is_cleared_for_a_rerun(demo, tmp_path):
    """A rerun into a previous demo's folder is accepted: its stages and summary are removed, other files kept."""
    again = shutil.copytree(demo[0], tmp_path / 'demo')
    (again / 'notes.txt').write_text('mine')
    assert prepare_work_dir(again) == again
    assert sorted(p.name for p in again.iterdir()) == ['notes.txt']


def test_demo_refuses_a_folder_that_is_not_a_previous_demo(tmp_path):
    (tmp_path / 'thesis.tex').write_text('precious')
    r = run('--out', str(tmp_path), '--preset', 'tiny')
    assert r.returncode == 2 and r.stderr.strip().startswith('error:') and len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / 'thesis.tex').read_text() == 'precious' and sorted(p.name for p in tmp_path.iterdir()) == [
        'thesis.tex'
    ]


def test_demo_rejects_an_unknown_preset(tmp_path):
    r = run('--out', str(tmp_path / 'd'), '--preset', 'huge')
    assert r.returncode == 2 and 'unknown preset' in r.stderr and not (tmp_path / 'd').exists()
