"""Fixtures that build small synthetic datasets and stores for the tests, once per session (once per pytest-xdist
worker: each builds its own, which for the tiny preset takes about a second)."""

import pandas as pd
import pytest

from deepearth_training.prepare import prepare_store
from deepearth_training.synthetic import make_synthetic_dataset, synthetic_occurrences

SPLIT_COLUMNS = ['gbif_id', 'taxon_name', 'latitude', 'longitude', 'year', 'month', 'day', 'has_vision']


@pytest.fixture(scope='session')
def tiny_source(tmp_path_factory):
    """Path to a synthetic source dataset (tiny preset, seed 0) in the published layout."""
    return make_synthetic_dataset(tmp_path_factory.mktemp('data') / 'tiny_source', 'tiny', seed=0, progress=False)


@pytest.fixture(scope='session')
def tiny_store(tiny_source, tmp_path_factory):
    """Path to a float16 store prepared from `tiny_source`."""
    return prepare_store(tiny_source, tmp_path_factory.mktemp('data') / 'tiny_store', progress=False)


@pytest.fixture(scope='session')
def default_obs() -> pd.DataFrame:
    """Observation rows [9500] of the `default` synthetic preset (seed 0), the columns a split needs: the rows
    `make_synthetic_dataset` writes for that preset and seed, drawn without writing the embeddings."""
    return synthetic_occurrences('default', seed=0)[SPLIT_COLUMNS]
