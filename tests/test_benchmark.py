"""deepearth-bench on the tiny store: the CLI runs, writes its report and chart, and fails cleanly on bad input."""

import json
import subprocess

import pytest

from deepearth_training.bench_paths import PATHS, hf_available
from deepearth_training.bench_run import run_benchmark
from deepearth_training.benchmark import main
from deepearth_training.store import open_store


def test_cli_runs_on_the_tiny_store(tiny_store, tiny_source, tmp_path):
    out = tmp_path / 'report.json'
    r = subprocess.run(
        [
            'deepearth-bench',
            '--store',
            str(tiny_store),
            '--source',
            str(tiny_source),
            '--out',
            str(out),
            '--batch-sizes',
            '4',
            '8',
            '--runs',
            '2',
            '--modes',
            'multimodal_pooled',
            'vision',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert 'ms/batch' in r.stdout and 'ms/obs' in r.stdout and 'page cache: warm' in r.stdout
    rep = json.loads(out.read_text())
    rows = [x for x in rep['results'] if not x.get('skipped')]
    expected = set(PATHS) if hf_available() else set(PATHS) - {'hf_datasets'}
    assert {x['path'] for x in rows} == expected and {x['batch_size'] for x in rows} == {4, 8}
    if not hf_available():
        assert {x['skipped'] for x in rep['results'] if x['path'] == 'hf_datasets'} == {
            'Hugging Face datasets is not installed (pip install deepearth_training[bench])'
        }
    for x in rows:
        assert x['n_runs'] == 2 and x['median_ms_per_batch'] > 0
        assert abs(x['median_ms_per_observation'] * x['batch_size'] - x['median_ms_per_batch']) < 1e-9
        assert x['times_numpy_floor'] > 0 and x['fraction_of_floor'] > 0  # every mode has both floors
    assert 'numpy_floor' in {x['path'] for x in rows if x['mode'] == 'multimodal_pooled'}
    assert rep['targets'] == []  # the goals are stated at batch 64 and 1024
    assert (tmp_path / 'report.png').read_bytes()[:4] == b'\x89PNG'


def test_parquet_source_defaults_to_the_manifest_and_is_skipped_without_one(tiny_store, tiny_source, tmp_path):
    out = tmp_path / 'r.json'
    assert (
        main(
            [
                '--store',
                str(tiny_store),
                '--out',
                str(out),
                '--batch-size',
                '4',
                '--runs',
                '1',
                '--modes',
                'language',
                '--paths',
                'loader',
                'parquet',
                'memcopy',
            ]
        )
        == 0
    )
    rep = json.loads(out.read_text())
    assert rep['source'] == str(tiny_source) and not any(x.get('skipped') for x in rep['results'])
    rep = run_benchmark(
        open_store(tiny_store),
        None,
        batch_sizes=(4,),
        modes=('language',),
        paths=('loader', 'parquet'),
        runs=1,
        progress=False,
    )
    assert [x['skipped'] for x in rep['results'] if x['path'] == 'parquet'] == ['no parquet source given']


def test_cli_rejects_bad_input(tiny_store, tmp_path, capsys):
    out = tmp_path / 'r.json'
    assert main(['--store', str(tmp_path / 'missing'), '--out', str(out)]) == 2
    assert main(['--store', str(tiny_store), '--out', str(out), '--source', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count('error: ') == 2 and 'missing' in err and 'vision_index.parquet' in err


@pytest.mark.parametrize(
    'bad',
    [
        ['--modes', 'audio'],
        ['--runs', '0'],
        ['--batch-size', '0'],
        ['--batch-sizes', '8', '0'],
        ['--seed', '-1'],
        ['--max-seconds', 'nan'],
        ['--paths', 'http_json'],
    ],
)
def test_cli_usage_errors_are_not_substituted(tiny_store, tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as e:
        main(['--store', str(tiny_store), '--out', str(tmp_path / 'r.json'), *bad])
    assert e.value.code == 2 and f'argument {bad[0]}' in capsys.readouterr().err
    assert not (tmp_path / 'r.json').exists()


def test_paths_and_runner_modules_keep_the_names_users_import():
    from deepearth_training import bench_paths, benchmark

    for name in ('format_table', 'plot_report', 'run_benchmark', 'write_report', 'main', 'PATHS', 'BENCH_MODES'):
        assert hasattr(benchmark, name), name
    assert benchmark.PATHS is bench_paths.PATHS and 'numpy_floor' in bench_paths.PATHS
    assert {'NumpyFloor', 'ParquetBatches', 'HTTPBatches', 'memcopy_floor', 'loader_batch'} <= set(bench_paths.__all__)
