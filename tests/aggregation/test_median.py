"""The selection-network median equals np.median exactly: every k the network serves, ties, both float widths."""
import numpy as np
import pytest

from vexscreen.aggregation.median import MAX_NETWORK_ROWS, median_network, median_rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_floats_as_numpy(dtype):
    rng = np.random.default_rng(0)
    for k in list(range(1, 21)) + [31, 32, 33, MAX_NETWORK_ROWS, MAX_NETWORK_ROWS + 1]:
        G = rng.normal(size=(k, 7, 5)).astype(dtype)
        G[:, :3] = np.round(G[:, :3])  # ties, as draws with replacement make
        if k > 2:
            G[1] = G[0]
        got = median_rows(G)
        assert got.dtype == dtype and np.array_equal(got, np.median(G, axis=0)), k


def test_the_network_is_pruned_to_the_middle():
    assert len(median_network(10)) < 31  # Batcher's full network for 10 inputs has 31 comparators
    assert median_network(1) == ()
