"""deepearth-split on the tiny synthetic store: the file it writes, its determinism and its one-line errors."""

import json

import pytest

from deepearth_training.split import load_split, load_train_test_split, read_split
from deepearth_training.split_command import main
from deepearth_training.store import open_store


def test_cli_splits_the_store(tiny_store, tmp_path, capsys):
    out = tmp_path / 'split.json'
    assert (
        main(
            [
                '--store',
                str(tiny_store),
                '--out',
                str(out),
                '--buffer-km',
                '1',
                '--seed',
                '3',
                '--visuals',
                str(tmp_path / 'vis'),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert 'leakage:' in printed and read_split(out).content_hash[:16] in printed
    store = open_store(tiny_store)
    vision_ids = set(store.observations.observation_id[store.observations.has_vision])
    train, test = load_train_test_split(out)
    excluded = json.loads(out.read_text())['buffer']['n_excluded']
    assert not set(train) & set(test)
    assert len(train) + len(test) + excluded == len(vision_ids) and set(train) | set(test) <= vision_ids
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == ['split_figure.png', 'split_map.html']
    again = tmp_path / 'again.json'
    assert main(['--store', str(tiny_store), '--out', str(again), '--buffer-km', '1', '--seed', '3']) == 0
    assert again.read_bytes() == out.read_bytes()
    assert load_split(out).spec.seed == 3


def test_cli_published_regions_and_centres_file(tiny_store, tmp_path):
    out = tmp_path / 'published.json'
    assert main(['--store', str(tiny_store), '--out', str(out), '--regions', 'published']) == 0
    doc = json.loads(out.read_text())
    assert [(r['center_lat'], r['center_lng']) for r in doc['test_spatial_regions']][0] == (28.073125, -81.516095)
    centres = tmp_path / 'centres.csv'
    centres.write_text('latitude,longitude\n28.4,-81.3\n28.7,-81.1\n')
    assert main(['--store', str(tiny_store), '--out', str(tmp_path / 'c.json'), '--regions', str(centres)]) == 0
    assert len(json.loads((tmp_path / 'c.json').read_text())['test_spatial_regions']) == 2


def test_cli_errors_are_one_line(tiny_store, tmp_path, capsys):
    cases = [
        ['--store', str(tmp_path / 'missing')],
        ['--store', str(tiny_store), '--min-distance-km', '400'],
        ['--store', str(tiny_store), '--regions', str(tmp_path / 'nope.csv')],
    ]
    for args in cases:
        assert main(args + ['--out', str(tmp_path / 'x.json')]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith('error: ') and err.count('\n') == 1, err
    assert not (tmp_path / 'x.json').exists()


def test_cli_numbers_are_checked_where_parsed(tiny_store, tmp_path, capsys):
    for flag, value in [('--buffer-km', '-2'), ('--region-size-km', '0'), ('--n-regions', '2.5'), ('--seed', '-1')]:
        with pytest.raises(SystemExit) as e:
            main(['--store', str(tiny_store), '--out', str(tmp_path / 'x.json'), flag, value])
        assert e.value.code == 2
        assert f'error: argument {flag}: {value!r} is not' in capsys.readouterr().err
    assert not (tmp_path / 'x.json').exists()
