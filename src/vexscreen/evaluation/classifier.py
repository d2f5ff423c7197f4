"""The patient classifier: cells -> bootstrapped-median aggregates -> RBF SVM (METHOD.md Step 2b)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.kernel_approximation import Nystroem
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.validation import check_is_fitted

from ..aggregation import BootstrapMedianAggregator


def platt_svc(C: float = 1.0, kernel: str = "rbf", gamma="scale"):
    """The study's ``SVC(C=1, kernel="rbf", probability=True)``, as scikit-learn 1.9 documents it.

    ``SVC(probability=True)`` is deprecated in 1.9; its documented replacement is
    ``CalibratedClassifierCV(SVC(), ensemble=False)``: the SVC is fitted on all
    the data and Platt's sigmoid is fitted on 5-fold cross-validated decision
    values. The folds are unshuffled ``StratifiedKFold(5)``, so the probabilities
    are deterministic (libsvm's internal folds were randomly shuffled).
    """
    return CalibratedClassifierCV(SVC(C=C, kernel=kernel, gamma=gamma), method="sigmoid",
                                  cv=StratifiedKFold(5), ensemble=False)


class RBFNystroem(TransformerMixin, BaseEstimator):
    """Nystroem features of the RBF kernel, ``gamma="scale"`` computed as ``SVC`` does.

    ``gamma="scale"`` is ``1 / (n_features * X.var())`` of the data fitted, so the
    approximated kernel is the one the study's SVC uses. ``n_components``
    landmarks (at most the number of rows), drawn with ``random_state``, fitted
    by scikit-learn's ``Nystroem``. ``transform`` computes the kernel to the
    landmarks in float32 with one matrix product (scikit-learn's float32 path
    upcasts chunk by chunk, 3x slower); the features are those of ``Nystroem``
    to float32 precision.
    """

    def __init__(self, n_components: int = 300, gamma="scale", random_state=None):
        self.n_components = n_components
        self.gamma = gamma
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float32)
        var = float(X.var())
        self.gamma_ = (1.0 / (X.shape[1] * var) if var > 0 else 1.0) if self.gamma == "scale" else self.gamma
        self.nystroem_ = Nystroem(kernel="rbf", gamma=self.gamma_, n_components=min(self.n_components, len(X)),
                                  random_state=self.random_state).fit(X)
        self.landmarks_ = np.asarray(self.nystroem_.components_, dtype=np.float32)
        self.projection_ = np.asarray(self.nystroem_.normalization_.T, dtype=np.float32)
        return self

    def transform(self, X):
        check_is_fitted(self, "projection_")
        X = np.asarray(X, dtype=np.float32)
        B = self.landmarks_
        K = X @ B.T
        K *= -2
        K += np.einsum("ij,ij->i", X, X)[:, None]
        K += np.einsum("ij,ij->i", B, B)[None, :]
        np.maximum(K, 0, out=K)
        K *= -self.gamma_
        np.exp(K, out=K)
        return K @ self.projection_


def nystroem_svc(C: float = 1.0, n_components: int = 300, gamma="scale", random_state=None,
                 calibration_folds: int = 2):
    """The scalable stand-in for :func:`platt_svc`: the RBF kernel approximated, a linear SVM, Platt.

    :class:`RBFNystroem` features (the study's kernel and ``gamma``, fitted once,
    unsupervised), a ``LinearSVC(C)`` on them (the primal solver: no random
    coordinate order, whose C-level generator threads would share) and Platt's
    sigmoid on ``calibration_folds`` stratified folds, *shuffled* (seeded by
    ``random_state``) as libsvm's own were: unshuffled folds of aggregates listed
    patient by patient split by patient, and on a weak signal the sigmoid fitted
    across patients can come out decreasing, which turns the AUC upside down
    (-0.06 on 20 v 20 patients). 2 folds: the sigmoid has two parameters, each fold
    costs one more linear fit. The fit grows linearly with the number of
    aggregates (the exact SVC's as n^1.6-2). A hinge loss keeps it close to the
    exact SVM: logistic regression on the same features, 5x cheaper, drifted 0.08
    AUC from it on a weak signal (bench/evaluate.py measures this one).
    """
    seed = 0 if random_state is None else random_state
    linear = CalibratedClassifierCV(LinearSVC(C=C, dual=False), method="sigmoid",
                                    cv=StratifiedKFold(calibration_folds, shuffle=True, random_state=seed),
                                    ensemble=False)
    return make_pipeline(RBFNystroem(n_components, gamma, random_state), linear)


class PatientClassifier(ClassifierMixin, BaseEstimator):
    """Score patients from their cells (METHOD.md Step 2b).

    Cells in, patients out, in ``fit`` and in prediction alike:

    - ``fit(X, y, groups)``: ``X`` L2-normalised cell encodings, ``y`` binary
      label per cell (1 = positive group, one label per patient), ``groups``
      the patient of each cell. ``aggregator_`` (a clone of ``aggregator``,
      default :class:`BootstrapMedianAggregator`) is fitted, draws each
      patient's aggregates, and ``svm_`` (:func:`platt_svc`) is fitted on them.
    - ``predict_proba(X, groups)``: one row per patient (patients in order of
      first appearance, or ``order``): the mean class probabilities over the
      patient's aggregates. ``score_patients`` gives the positive column as a
      Series indexed by patient; ``predict_aggregates`` the per-aggregate
      probabilities (the study's aggregate-level AUC is computed on those).

    Prediction draws its aggregates from ``aggregator_``'s random stream,
    continuing where ``fit`` left off: with an int ``random_state`` a fit
    followed by one prediction reproduces the study's single
    ``RandomState(seed)`` per iteration (training then test aggregates).
    Predicting again continues the stream (new aggregates); refit to restart it.
    ``order`` (patients, in this order) fixes which patients are aggregated
    first, hence which draws each one gets.
    """

    def __init__(self, aggregator=None, C: float = 1.0, kernel: str = "rbf", gamma="scale",
                 threshold: float = 0.5):
        self.aggregator = aggregator
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.threshold = threshold

    def fit(self, X, y, groups, *, order=None):
        """Aggregate the cells of every patient (``order``, default first appearance), fit the SVM."""
        base = self.aggregator if self.aggregator is not None else BootstrapMedianAggregator()
        self.aggregator_ = clone(base).fit(X, y, groups)
        A, y_A, _ = self.aggregator_.resample(X, y, groups, order=order)
        self.svm_ = platt_svc(self.C, self.kernel, self.gamma).fit(A, np.asarray(y_A).astype(int))
        self.classes_ = self.svm_.classes_
        return self

    def predict_aggregates(self, X, groups, *, order=None):
        """Class probabilities of each patient's aggregates: ``(proba, owners)``, one row each."""
        check_is_fitted(self, "svm_")
        A, _, owners = self.aggregator_.resample(X, None, groups, order=order)
        return self.svm_.predict_proba(A), owners

    def predict_proba(self, X, groups, *, order=None) -> np.ndarray:
        """Mean class probabilities over each patient's aggregates, one row per patient."""
        proba, owners = self.predict_aggregates(X, groups, order=order)
        return _mean_by_owner(proba, owners).to_numpy()

    def score_patients(self, X, groups, *, order=None) -> pd.Series:
        """Positive-class probability per patient (mean over its aggregates), indexed by patient."""
        proba, owners = self.predict_aggregates(X, groups, order=order)
        return _mean_by_owner(proba, owners)[self.positive_column()]

    def predict(self, X, groups, *, order=None) -> np.ndarray:
        """1 for each patient whose positive probability reaches ``threshold``, else 0."""
        return (self.score_patients(X, groups, order=order).to_numpy() >= self.threshold).astype(int)

    def positive_column(self) -> int:
        """Column of the positive class (label 1) in the probability matrices."""
        check_is_fitted(self, "classes_")
        return list(self.classes_).index(1)


def _mean_by_owner(proba: np.ndarray, owners: np.ndarray) -> pd.DataFrame:
    """Rows of ``proba`` averaged per owner, owners in order of first appearance."""
    return pd.DataFrame(proba).groupby(pd.Series(owners, name="patient"), sort=False).mean()
