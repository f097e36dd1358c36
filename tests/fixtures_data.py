"""Fixtures that build small synthetic datasets and stores for the tests."""

import pytest

from deepearth_training.prepare import prepare_store
from deepearth_training.synthetic import make_synthetic_dataset


@pytest.fixture(scope='session')
def tiny_source(tmp_path_factory):
    """Path to a synthetic source dataset (tiny preset, seed 0) in the published layout."""
    return make_synthetic_dataset(tmp_path_factory.mktemp('data') / 'tiny_source', 'tiny', seed=0, progress=False)


@pytest.fixture(scope='session')
def tiny_store(tiny_source, tmp_path_factory):
    """Path to a float16 store prepared from `tiny_source`."""
    return prepare_store(tiny_source, tmp_path_factory.mktemp('data') / 'tiny_store', progress=False)
