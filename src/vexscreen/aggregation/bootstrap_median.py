"""Bootstrapped medians of cell encodings, per patient (METHOD.md Step 2b).

Each aggregate is the element-wise median of ``aggregate_size`` (10) cell
encodings drawn with replacement from one patient's cells; ``n_aggregates``
(100) per patient (Chabrun, Lacombe et al. 2023).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ..exceptions import InputError


class BootstrapMedianAggregator(BaseEstimator):
    """Turn cells into bootstrapped-median aggregates, patient by patient.

    A resampler in the imbalanced-learn style: ``fit_resample(X, y, groups)``
    returns ``(A, y_A, groups_A)`` with ``n_aggregates`` rows per patient.

    ``random_state``: an int, or a ``numpy.random.RandomState`` that is used
    (and advanced) in place, so successive calls continue one random stream as
    the study's code did (training patients first, then test patients).
    Draws are identical to the study's per-aggregate ``rng.choice(idx, 10)``
    loop: one vectorised ``rng.choice(idx, size=(n_aggregates, 10))`` consumes
    the stream in the same order.
    """

    def __init__(self, n_aggregates: int = 100, aggregate_size: int = 10, random_state=None):
        self.n_aggregates = n_aggregates
        self.aggregate_size = aggregate_size
        self.random_state = random_state

    def fit(self, X=None, y=None, groups=None):
        """Stateless: nothing is learned. Present for pipeline composition."""
        self._rng = check_random_state(self.random_state)
        return self

    def _stream(self):
        if not hasattr(self, "_rng"):
            self._rng = check_random_state(self.random_state)
        return self._rng

    def fit_resample(self, X, y=None, groups=None, *, order: Sequence | None = None):
        """Aggregate the cells of each patient.

        ``groups``: patient id per cell (required). ``order``: the patients to
        aggregate, in this order (default: order of first appearance); a patient
        of ``order`` with no cells is an error.
        Returns ``(A, y_A, groups_A)``; ``y_A`` is None when ``y`` is None.
        """
        if groups is None:
            raise InputError("groups= (the patient of each cell) is required to aggregate")
        X = np.asarray(X)
        groups = np.asarray(groups)
        if len(groups) != len(X):
            raise InputError(f"{len(X)} cells but {len(groups)} patient labels")
        if order is None:
            order = list(dict.fromkeys(groups.tolist()))
        rng = self._stream()
        by_patient = _indices_by_patient(groups)
        blocks, labels, owners = [], [], []
        for patient in order:
            idx = by_patient.get(patient)
            if idx is None or len(idx) == 0:
                raise InputError(f"patient {patient!r} has no cells")
            draws = rng.choice(idx, size=(self.n_aggregates, self.aggregate_size))
            blocks.append(np.median(X[draws], axis=1).astype(X.dtype, copy=False))
            owners.append(np.full(self.n_aggregates, patient, dtype=object))
            if y is not None:
                labels.append(np.repeat(np.asarray(y)[idx[0]], self.n_aggregates))
        A = np.concatenate(blocks)
        y_A = np.concatenate(labels) if y is not None else None
        return A, y_A, np.concatenate(owners)


def _indices_by_patient(groups: np.ndarray) -> dict:
    """Cell indices of each patient, in original order (one pass, no per-patient scan)."""
    codes, uniques = pd.factorize(groups)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {u: order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniques)}
