"""The patient classifier: cells -> bootstrapped-median aggregates -> RBF SVM (METHOD.md Step 2b)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

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


class PatientClassifier(BaseEstimator, ClassifierMixin):
    """Score patients from their cells.

    ``fit(X, y, groups)``: ``X`` L2-normalised cell encodings, ``y`` per-cell
    binary label (1 = positive group), ``groups`` patient per cell. Cells are
    aggregated per patient by ``aggregator`` and an RBF SVM with Platt scaling
    is fitted on the aggregates. ``predict_proba`` scores aggregates (or cells);
    ``score_patients`` gives one probability per patient: the mean over its
    aggregates.
    """

    def __init__(self, aggregator=None, C: float = 1.0, kernel: str = "rbf", gamma="scale",
                 threshold: float = 0.5):
        self.aggregator = aggregator
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.threshold = threshold

    def _aggregator(self):
        if not hasattr(self, "aggregator_"):
            self.aggregator_ = (self.aggregator if self.aggregator is not None
                                else BootstrapMedianAggregator())
        return self.aggregator_

    def fit(self, X, y, groups, *, order=None):
        A, y_A, _ = self._aggregator().fit_resample(X, y, groups, order=order)
        return self.fit_aggregates(A, y_A)

    def fit_aggregates(self, A, y_A):
        """Fit on ready-made aggregates (the study's inner step)."""
        y_A = np.asarray(y_A).astype(int)
        self.svm_ = platt_svc(self.C, self.kernel, self.gamma).fit(A, y_A)
        self.classes_ = self.svm_.classes_
        return self

    def predict_proba(self, A):
        return self.svm_.predict_proba(A)

    def positive_proba(self, A) -> np.ndarray:
        """Probability of the positive class (label 1) for each row of ``A``."""
        return self.svm_.predict_proba(A)[:, list(self.classes_).index(1)]

    def predict(self, A):
        return (self.positive_proba(A) >= self.threshold).astype(int)

    def score_patients(self, X, groups, *, order=None) -> pd.Series:
        """Mean positive probability over each patient's aggregates, indexed by patient."""
        A, _, owners = self._aggregator().fit_resample(X, None, groups, order=order)
        p = self.positive_proba(A)
        return pd.Series(p).groupby(pd.Series(owners), sort=False).mean()
