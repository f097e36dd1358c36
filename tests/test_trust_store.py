"""The store's format has one home, `deepearth_training.store`: no shim, no re-exports, no file-name literals elsewhere."""

import re
from pathlib import Path

import pytest

import deepearth_training
import deepearth_training.store as store

PACKAGE = Path(deepearth_training.__file__).parent


def test_store_format_module_is_gone():
    assert not (PACKAGE / 'store_format.py').exists()


def test_store_defines_what_it_exports():
    assert not {'prepare_store', 'main', 'build_tables'} & set(vars(store))
    foreign = [n for n in store.__all__ if getattr(getattr(store, n), '__module__', store.__name__) != store.__name__]
    assert foreign == []


STORE_ONLY = [n for n in store.STORE_FILES if n != store.OBSERVATIONS_FILE]  # the source layout has its own


@pytest.mark.parametrize('name', STORE_ONLY + [store.MANIFEST])
def test_file_names_are_written_only_in_store(name):
    literal = re.compile(rf'[\'"]{re.escape(name)}[\'"]')
    found = [p.name for p in PACKAGE.glob('*.py') if p.name != 'store.py' and literal.search(p.read_text())]
    assert found == [], f'{name!r} spelled out in {found}: import its constant from deepearth_training.store'


def test_checksums_and_layout_are_the_manifests(tiny_store):
    s = store.open_store(tiny_store)
    m = s.manifest
    assert store.store_checksums(s.path) == m['checksums']
    layout = store.array_layout(m['counts']['vision'], m['counts']['species'], s.vision_shape, 'float16', 7168)
    for k, (shape, dtype) in layout.items():
        assert (m['shapes'][k], m['dtypes'][k]) == (shape, dtype)
