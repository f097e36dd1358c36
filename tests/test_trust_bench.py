"""Hostile inputs to the benchmark: an output path that is both the report and the chart; malformed requests and
many clients at its HTTP server."""

import pytest

from deepearth_training.benchmark import main


@pytest.mark.parametrize('extra', [[], ['--chart', 'b.png']])
def test_report_and_chart_on_one_path_refused(extra, tiny_store, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ['--store', str(tiny_store), '--out', 'b.png', '--batch-size', '2', '--runs', '1']
    assert main([*argv, '--modes', 'pooled', '--paths', 'loader', *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: --out b.png') and 'same file' in err[0], err
    assert list(tmp_path.iterdir()) == []  # nothing written
