"""Property test: for random small synthetic sources (sizes, grids, seeds, list dtypes), the store equals the source."""

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from deepearth_training.prepare import prepare_store
from deepearth_training.synthetic import make_synthetic_dataset
from helpers import check_store


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(2, 40),
    s=st.integers(1, 5),
    t=st.integers(1, 3),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    seed=st.integers(0, 2**31),
    float16=st.booleans(),
    store_dtype=st.sampled_from(['float16', 'float32']),
)
def test_store_equals_source(tmp_path_factory, n, s, t, h, w, seed, float16, store_dtype):
    d = tmp_path_factory.mktemp('prop')
    src = make_synthetic_dataset(
        d / 'src',
        'tiny',
        seed=seed,
        n_observations=n,
        n_species=min(s, n),
        grid=(t, h, w, 1408),
        source_dtype='float16' if float16 else 'float32',
        progress=False,
    )
    store = prepare_store(src, d / 'store', dtype=store_dtype, grid=(t, h, w, 1408), progress=False)
    check_store(store, src, np.dtype(store_dtype))
