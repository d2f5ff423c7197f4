"""Bootstrapped-median aggregation: identical to the study's loop, seeded, clear errors."""
import numpy as np
import pytest

from vexscreen.aggregation import BootstrapMedianAggregator
from vexscreen.exceptions import InputError


def _study_loop(X, patients, order, n_agg, size, rng):
    """The study's per-aggregate loop (METHOD.md Step 2b), written out."""
    out = []
    for p in order:
        idx = np.where(patients == p)[0]
        for _ in range(n_agg):
            out.append(np.median(X[rng.choice(idx, size=size)], axis=0))
    return np.array(out)


def test_matches_study_loop_and_continues_stream():
    rng_data = np.random.default_rng(0)
    X = rng_data.normal(size=(300, 7)).astype(np.float32)
    patients = np.array([f"P{i}" for i in rng_data.integers(0, 5, size=300)])
    train, test = ["P3", "P0", "P4"], ["P1", "P2"]
    agg = BootstrapMedianAggregator(20, 10, np.random.RandomState(4512))
    A_tr, _, own_tr = agg.fit_resample(X, None, patients, order=train)
    A_te, _, own_te = agg.fit_resample(X, None, patients, order=test)
    ref = np.random.RandomState(4512)
    np.testing.assert_allclose(A_tr, _study_loop(X, patients, train, 20, 10, ref), rtol=0, atol=1e-7)
    np.testing.assert_allclose(A_te, _study_loop(X, patients, test, 20, 10, ref), rtol=0, atol=1e-7)
    assert list(own_tr[::20]) == train and list(own_te[::20]) == test


def test_labels_follow_patients_and_seed_reproduces():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    patients = np.repeat(["a", "b"], 10)
    y = np.repeat([0, 1], 10)
    A1, y1, o1 = BootstrapMedianAggregator(5, 3, 7).fit_resample(X, y, patients)
    A2, y2, o2 = BootstrapMedianAggregator(5, 3, 7).fit_resample(X, y, patients)
    assert np.array_equal(A1, A2) and list(y1) == [0] * 5 + [1] * 5
    # medians of a's cells stay within a's range: no cell of b leaks in
    assert A1[:5].max() <= X[:10].max() and A1[5:].min() >= X[10:].min()


def test_patient_with_no_cells_is_an_error():
    X = np.ones((4, 2), np.float32)
    with pytest.raises(InputError, match="patient 'ghost' has no cells"):
        BootstrapMedianAggregator(2, 2, 0).fit_resample(X, None, np.array(["a"] * 4), order=["a", "ghost"])
