"""PatientClassifier: cells in, patients out; a plain scikit-learn estimator; the study's stream."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import normalize

from vexscreen.aggregation import BootstrapMedianAggregator
from vexscreen.data.synthetic import simple_structure, synthetic_encodings
from vexscreen.evaluation import PatientClassifier, platt_svc

TRAIN = ["MDS[2]", "VEXAS[1]", "MDS[1]", "VEXAS[3]"]
TEST = ["MDS[3]", "VEXAS[2]"]


@pytest.fixture(scope="module")
def cells():
    enc = synthetic_encodings(simple_structure({"MDS": 3, "VEXAS": 3}, cells_per_sample=20), dim=16,
                              signal=1.0, patient_effect=0.3, seed=1)
    X = normalize(enc.X)
    y = (enc.labels == "VEXAS").astype(int)
    return X, y, enc.patients


def _side(cells, names):
    X, y, patients = cells
    keep = np.isin(patients, names)
    return X[keep], y[keep], patients[keep]


def test_fit_then_predict_continues_one_stream_as_the_study(cells):
    """Training aggregates then test aggregates from one RandomState(seed) (METHOD.md Step 2b)."""
    X, y, patients = cells
    clf = PatientClassifier(BootstrapMedianAggregator(25, 10, 4512))
    clf.fit(*_side(cells, TRAIN), order=TRAIN)
    X_te, _, p_te = _side(cells, TEST)
    proba, owners = clf.predict_aggregates(X_te, p_te, order=TEST)

    rng = np.random.RandomState(4512)

    def study_aggregates(names):
        return np.array([np.median(X[rng.choice(np.where(patients == p)[0], size=10)], axis=0)
                         for p in names for _ in range(25)])

    A_tr, A_te = study_aggregates(TRAIN), study_aggregates(TEST)
    y_tr = np.repeat([int(p.startswith("VEXAS")) for p in TRAIN], 25)
    expected = platt_svc().fit(A_tr, y_tr).predict_proba(A_te)
    np.testing.assert_array_equal(proba, expected)
    assert list(owners) == [p for p in TEST for _ in range(25)]


def test_one_row_per_patient(cells):
    X, y, patients = cells
    clf = PatientClassifier(BootstrapMedianAggregator(20, 10, 0)).fit(*_side(cells, TRAIN))
    X_te, _, p_te = _side(cells, TEST)
    proba = clf.predict_proba(X_te, p_te, order=TEST[::-1])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # fitted the same way, a second classifier draws the same test aggregates
    clf2 = PatientClassifier(BootstrapMedianAggregator(20, 10, 0)).fit(*_side(cells, TRAIN))
    scores = clf2.score_patients(X_te, p_te, order=TEST[::-1])
    assert list(scores.index) == TEST[::-1]
    np.testing.assert_array_equal(scores.to_numpy(), proba[:, 1])
    assert scores["VEXAS[2]"] > 0.5 > scores["MDS[3]"]  # the planted signal is found
    clf3 = PatientClassifier(BootstrapMedianAggregator(20, 10, 0), threshold=0.5).fit(*_side(cells, TRAIN))
    assert list(clf3.predict(X_te, p_te, order=TEST)) == [0, 1]


def test_refit_is_deterministic(cells):
    clf = PatientClassifier(BootstrapMedianAggregator(20, 10, 5))
    X_te, _, p_te = _side(cells, TEST)
    first = clf.fit(*_side(cells, TRAIN)).predict_proba(X_te, p_te)
    again = clf.fit(*_side(cells, TRAIN)).predict_proba(X_te, p_te)
    np.testing.assert_array_equal(first, again)


def test_clone_get_set_params_and_fit_leaves_parameters_alone(cells):
    agg = BootstrapMedianAggregator(20, 10, np.random.RandomState(3))
    clf = PatientClassifier(agg, C=2.0, threshold=0.4)
    params = clf.get_params(deep=False)
    assert params == {"aggregator": agg, "C": 2.0, "kernel": "rbf", "gamma": "scale", "threshold": 0.4}
    assert clf.get_params()["aggregator__n_aggregates"] == 20
    state = agg.random_state.get_state()[1].copy()
    clf.fit(*_side(cells, TRAIN))
    assert clf.get_params(deep=False) == params and clf.aggregator is agg
    assert not hasattr(agg, "random_state_")  # the parameter is cloned, never fitted
    assert np.array_equal(agg.random_state.get_state()[1], state)  # nor its stream advanced
    twin = clone(clf)
    assert not hasattr(twin, "svm_") and twin.aggregator is not agg
    assert twin.get_params()["aggregator__n_aggregates"] == 20 and twin.C == 2.0
    twin.set_params(aggregator__n_aggregates=5, C=1.0)
    assert twin.aggregator.n_aggregates == 5 and agg.n_aggregates == 20
    X_te, _, p_te = _side(cells, TEST)
    twin.fit(*_side(cells, TRAIN))
    assert twin.predict_aggregates(X_te, p_te)[0].shape == (2 * 5, 2)


def test_default_aggregator_and_unfitted_error(cells):
    X_te, _, p_te = _side(cells, TEST)
    with pytest.raises(NotFittedError):
        PatientClassifier().predict_proba(X_te, p_te)
    clf = PatientClassifier().fit(*_side(cells, TRAIN))
    assert clf.aggregator is None
    assert clf.aggregator_.get_params() == BootstrapMedianAggregator().get_params()
    assert clf.predict_aggregates(X_te, p_te)[0].shape == (2 * 100, 2)
