"""Bootstrapped-median aggregation: identical to the study's loop, seeded, a plain estimator."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

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


def _cells():
    rng_data = np.random.default_rng(0)
    X = rng_data.normal(size=(300, 7)).astype(np.float32)
    patients = np.array([f"P{i}" for i in rng_data.integers(0, 5, size=300)])
    return X, patients


def test_matches_study_loop_and_continues_stream():
    X, patients = _cells()
    train, test = ["P3", "P0", "P4"], ["P1", "P2"]
    agg = BootstrapMedianAggregator(20, 10, 4512).fit(X, None, patients)
    A_tr, _, own_tr = agg.resample(X, None, patients, order=train)
    A_te, _, own_te = agg.resample(X, None, patients, order=test)
    ref = np.random.RandomState(4512)
    np.testing.assert_allclose(A_tr, _study_loop(X, patients, train, 20, 10, ref), rtol=0, atol=1e-7)
    np.testing.assert_allclose(A_te, _study_loop(X, patients, test, 20, 10, ref), rtol=0, atol=1e-7)
    assert list(own_tr[::20]) == train and list(own_te[::20]) == test


def test_subset_of_cells_gives_the_same_draws():
    """Only a patient's own cells (in order) matter: aggregating a subset of patients is identical."""
    X, patients = _cells()
    keep = np.isin(patients, ["P1", "P4"])
    full = BootstrapMedianAggregator(15, 10, 3).fit_resample(X, None, patients, order=["P4", "P1"])
    part = BootstrapMedianAggregator(15, 10, 3).fit_resample(X[keep], None, patients[keep], order=["P4", "P1"])
    assert np.array_equal(full[0], part[0]) and list(full[2]) == list(part[2])


def test_fit_restarts_an_int_seed_and_an_instance_is_used_in_place():
    X, patients = _cells()
    agg = BootstrapMedianAggregator(5, 3, 7)
    A1 = agg.fit_resample(X, None, patients)[0]
    A2 = agg.fit_resample(X, None, patients)[0]
    assert np.array_equal(A1, A2)
    rng = np.random.RandomState(7)
    shared = BootstrapMedianAggregator(5, 3, rng)
    B1 = shared.fit_resample(X, None, patients)[0]
    B2 = shared.fit_resample(X, None, patients)[0]  # the instance has moved on
    assert np.array_equal(B1, A1) and not np.array_equal(B2, A1)
    assert shared.random_state is rng


def test_labels_follow_patients():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    patients = np.repeat(["a", "b"], 10)
    y = np.repeat([0, 1], 10)
    A, y_A, owners = BootstrapMedianAggregator(5, 3, 7).fit_resample(X, y, patients)
    assert list(y_A) == [0] * 5 + [1] * 5 and list(owners) == ["a"] * 5 + ["b"] * 5
    # medians of a's cells stay within a's range: no cell of b leaks in
    assert A[:5].max() <= X[:10].max() and A[5:].min() >= X[10:].min()


def test_clone_and_params_round_trip():
    agg = BootstrapMedianAggregator(30, 4, 11)
    params = agg.get_params()
    assert params == {"n_aggregates": 30, "aggregate_size": 4, "random_state": 11, "normalize": False,
                      "statistic": "median"}
    X, patients = _cells()
    agg.fit(X, None, patients)
    assert agg.get_params() == params  # fit changes no parameter
    twin = clone(agg)
    assert twin.get_params() == params and not hasattr(twin, "random_state_")
    twin.set_params(n_aggregates=2)
    assert twin.fit_resample(X, None, patients)[0].shape == (2 * 5, 7)
    assert agg.n_aggregates == 30


def test_errors():
    X = np.ones((4, 2), np.float32)
    with pytest.raises(NotFittedError):
        BootstrapMedianAggregator(2, 2, 0).resample(X, None, np.array(["a"] * 4))
    with pytest.raises(InputError, match="patient 'ghost' has no cells"):
        BootstrapMedianAggregator(2, 2, 0).fit_resample(X, None, np.array(["a"] * 4), order=["a", "ghost"])
    with pytest.raises(InputError, match="patient 'a' has cells with different labels"):
        BootstrapMedianAggregator(2, 2, 0).fit_resample(X, np.array([0, 1, 0, 0]), np.array(["a"] * 4))
    with pytest.raises(InputError, match="required"):
        BootstrapMedianAggregator(2, 2, 0).fit_resample(X)


def test_mean_statistic_uses_the_same_draws():
    X, patients = _cells()
    order = ["P2", "P0"]
    median = BootstrapMedianAggregator(15, 10, 7).fit_resample(X, None, patients, order=order)[0]
    mean = BootstrapMedianAggregator(15, 10, 7, statistic="mean").fit_resample(X, None, patients, order=order)[0]
    rng = np.random.RandomState(7)  # the same stream, the mean of each draw written out
    expected = [X[rng.choice(np.where(patients == p)[0], size=10)].mean(axis=0) for p in order for _ in range(15)]
    np.testing.assert_allclose(mean, np.array(expected), rtol=0, atol=1e-6)
    assert mean.dtype == X.dtype and not np.allclose(mean, median)


def test_unknown_statistic_is_refused():
    X, patients = _cells()
    with pytest.raises(InputError, match="statistic must be one of median, mean, got 'mode'"):
        BootstrapMedianAggregator(5, 10, 0, statistic="mode").fit(X, None, patients)


def test_cli_choices_are_the_aggregators():
    from vexscreen.aggregation import STATISTICS
    from vexscreen.commands.options import STATISTICS as CLI_STATISTICS

    assert CLI_STATISTICS == STATISTICS
