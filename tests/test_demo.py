"""deepearth-demo end to end on the tiny preset, and its refusal to write into a folder it does not own."""
import json
import subprocess
import sys
from pathlib import Path



def run(*args) -> subprocess.CompletedProcess:
    code = 'import sys; from deepearth_training.demo import main; sys.exit(main(sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, timeout=600)


def test_demo_runs_every_stage_and_can_be_rerun(tmp_path):
    out = tmp_path / 'demo'
    for _ in range(2):
        r = run('--out', str(out), '--preset', 'tiny', '--epochs', '1', '--bench-runs', '1')
        assert r.returncode == 0, r.stderr[-2000:]
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
    assert 'top-1 % [95 % interval' in r.stdout and 'language (lookup sanity check)' in r.stdout
    t = summary['train']['vision']['final']['temporal']
    lo, hi = t['ci95']['top1']
    assert f'temporal {100 * t["model"]["top1"]:.1f} [{100 * lo:.1f}–{100 * hi:.1f}]' in r.stdout


def test_demo_refuses_a_folder_that_is_not_a_previous_demo(tmp_path):
    (tmp_path / 'thesis.tex').write_text('precious')
    r = run('--out', str(tmp_path), '--preset', 'tiny')
    assert r.returncode == 2 and r.stderr.strip().startswith('error:') and len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / 'thesis.tex').read_text() == 'precious' and sorted(p.name for p in tmp_path.iterdir()) == ['thesis.tex']


def test_demo_rejects_an_unknown_preset(tmp_path):
    r = run('--out', str(tmp_path / 'd'), '--preset', 'huge')
    assert r.returncode == 2 and 'unknown preset' in r.stderr and not (tmp_path / 'd').exists()
