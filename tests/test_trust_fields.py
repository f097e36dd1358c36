"""A split file or store manifest without a field a reader needs: one line naming the file and the field."""

import json
from pathlib import Path

import pytest

from deepearth_training.split import load_split, read_split, load_train_test_split
from deepearth_training.split_command import main as split_main
from deepearth_training.store import MANIFEST, manifest_digest, open_store

PUBLISHED = Path('/work/shared/real/central_florida_split.json')  # as in test_synthetic


@pytest.fixture(scope='module')
def published_text():
    if not PUBLISHED.exists():
        pytest.skip(f'{PUBLISHED} (the published split file) is not here')
    return PUBLISHED.read_text()


@pytest.fixture
def published(published_text):
    """A fresh copy of the published split file's document, for one test to damage."""
    return json.loads(published_text)


def written(doc: dict, tmp_path: Path) -> Path:
    path = tmp_path / 'central_florida_split.json'
    path.write_text(json.dumps(doc))
    return path


def first(doc: dict) -> tuple[str, dict]:
    return next(iter(doc['observation_mappings'].items()))


@pytest.mark.parametrize('field', ['split', 'split_reason'])
def test_mapping_without_split_fields(published, tmp_path, field):
    oid, m = first(published)
    del m[field]
    path = written(published, tmp_path)
    for read in (read_split, load_train_test_split):
        with pytest.raises(ValueError, match=rf"{path}: observation {oid} has no '{field}' field"):
            read(path)


@pytest.mark.parametrize('field', ['latitude', 'year', 'taxon_name', 'day'])
def test_mapping_without_a_field_load_split_needs(published, tmp_path, field):
    oid, m = first(published)
    del m[field]
    with pytest.raises(ValueError, match=rf"observation {oid} has no '{field}' field"):
        load_split(written(published, tmp_path))


@pytest.mark.parametrize('field', ['center_lat', 'bounds', 'region_id'])
def test_region_without_a_field(published, tmp_path, field):
    del published['test_spatial_regions'][1][field]
    with pytest.raises(ValueError, match=rf"test_spatial_regions entry 2 has no '{field}' field"):
        load_split(written(published, tmp_path))


def test_region_bounds_without_a_side(published, tmp_path):
    del published['test_spatial_regions'][0]['bounds']['east']
    with pytest.raises(ValueError, match=r"bounds of region 1 has no 'east' field"):
        load_split(written(published, tmp_path))


def test_split_command_names_file_and_field(published, tiny_store, tmp_path, capsys):
    del published['test_spatial_regions'][0]['center_lng']
    path = written(published, tmp_path)
    argv = ['--store', str(tiny_store), '--out', str(tmp_path / 's.json'), '--regions', str(path)]
    assert split_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"error: {path}: test_spatial_regions entry 1 has no 'center_lng' field (needs center_lat, center_lng)"
    )
    assert not (tmp_path / 's.json').exists()


def test_store_manifest_without_a_field(tiny_store, tmp_path, capsys):
    import shutil

    store = Path(shutil.copytree(tiny_store, tmp_path / 'store'))
    m = json.loads((store / MANIFEST).read_text())
    del m['counts']['species']
    m['manifest_sha256'] = manifest_digest(m)  # re-sealed, so only the missing field is wrong
    (store / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ValueError, match=rf"{store / MANIFEST}: 'counts' has no 'species' field"):
        open_store(store)
    assert split_main(['--store', str(store), '--out', str(tmp_path / 's.json')]) == 2
    assert "'counts' has no 'species' field" in capsys.readouterr().err
