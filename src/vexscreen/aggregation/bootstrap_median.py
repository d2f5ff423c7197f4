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
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ..exceptions import InputError
from .median import median_rows

#: how an aggregate summarises its drawn cells (``median``: the study's, METHOD.md Step 2b)
STATISTICS = ("median", "mean")


class BootstrapMedianAggregator(BaseEstimator):
    """Turn cells into bootstrapped-median aggregates, patient by patient.

    A resampler in the imbalanced-learn style. ``fit`` starts the random stream
    (``random_state_``, from :func:`sklearn.utils.check_random_state`);
    ``resample(X, y, groups)`` draws from it and returns ``(A, y_A, groups_A)``
    with ``n_aggregates`` rows per patient; ``fit_resample`` is both. Successive
    ``resample`` calls continue one stream, as the study's code did (training
    patients first, then test patients, METHOD.md Step 2b).

    ``random_state``: None, an int, or a ``numpy.random.RandomState``; an
    instance is used (and advanced) in place, as scikit-learn does. Draws are
    identical to the study's per-aggregate ``rng.choice(idx, 10)`` loop: one
    vectorised ``rng.choice(idx, size=(n_aggregates, 10))`` per patient consumes
    the stream in the same order (medians by :func:`~.median.median_rows`, the same floats).

    ``statistic``: ``"median"`` (the study's, element-wise) or ``"mean"``. The median of
    10 cells erases a feature that a minority of a patient's cells carry (vacuoles in
    10-40% of VEXAS neutrophils: the median vacuole count of 10 cells is nearly always 0);
    the mean keeps it, as the fraction of drawn cells that carry it. Same draws either way.

    ``normalize``: L2-normalise each drawn cell first (Step 2b normalises every
    encoding), so that ``X`` can stay as read, e.g. memory-mapped: only the drawn
    rows of one patient are ever in memory. Row by row the result is identical to
    aggregating ``sklearn.preprocessing.normalize(X)``.
    """

    def __init__(self, n_aggregates: int = 100, aggregate_size: int = 10, random_state=None,
                 normalize: bool = False, statistic: str = "median"):
        self.n_aggregates = n_aggregates
        self.aggregate_size = aggregate_size
        self.random_state = random_state
        self.normalize = normalize
        self.statistic = statistic

    def fit(self, X=None, y=None, groups=None):
        """Start the random stream; nothing is learned from the data."""
        check_statistic(self.statistic)
        self.random_state_ = check_random_state(self.random_state)
        return self

    def resample(self, X, y=None, groups=None, *, order: Sequence | None = None):
        """Aggregate the cells of each patient, continuing the fitted random stream.

        ``groups``: patient id per cell (required). ``y``: optional label per
        cell, one per patient. ``order``: the patients to aggregate, in this
        order (default: order of first appearance); a patient of ``order`` with
        no cells is an error. Returns ``(A, y_A, groups_A)``; ``y_A`` is None
        when ``y`` is None.
        """
        check_is_fitted(self, "random_state_")
        X, y, groups = _check_cells(X, y, groups)
        if order is None:
            order = list(dict.fromkeys(groups.tolist()))
        by_patient = _indices_by_patient(groups)
        blocks, labels, owners = [], [], []
        for patient in order:
            idx = by_patient.get(patient)
            if idx is None or len(idx) == 0:
                raise InputError(f"patient {patient!r} has no cells")
            draws = self.random_state_.choice(idx, size=(self.n_aggregates, self.aggregate_size))
            blocks.append(self._reduce(self._drawn_cells(X, draws.T)))
            owners.append(np.full(self.n_aggregates, patient, dtype=object))
            if y is not None:
                labels.append(np.repeat(_patient_label(y, idx, patient), self.n_aggregates))
        A = np.concatenate(blocks)
        y_A = np.concatenate(labels) if y is not None else None
        return A, y_A, np.concatenate(owners)

    def _reduce(self, G: np.ndarray) -> np.ndarray:
        """One aggregate per column of draws: (aggregate_size, n, dim) -> (n, dim), in G's dtype."""
        if self.statistic == "mean":
            return G.mean(axis=0, dtype=np.float64).astype(G.dtype, copy=False)
        return median_rows(G)

    def _drawn_cells(self, X, draws):
        """``X[draws]`` (``normalize``: each row L2-normalised), read row by row only once."""
        if not self.normalize and type(X) is np.ndarray:
            return X[draws]
        rows, where = np.unique(draws, return_inverse=True)
        cells = np.asarray(X[rows])
        if self.normalize:
            cells = normalize(cells, norm="l2", axis=1)
        return cells[where.reshape(draws.shape)]

    def fit_resample(self, X, y=None, groups=None, *, order: Sequence | None = None):
        """``fit`` then ``resample``: a fresh stream, unless ``random_state`` is an instance."""
        return self.fit(X, y, groups).resample(X, y, groups, order=order)


def check_statistic(statistic) -> str:
    """``statistic`` if it is one of :data:`STATISTICS`, else an InputError."""
    if statistic not in STATISTICS:
        raise InputError(f"aggregate statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    return statistic


def _check_cells(X, y, groups):
    if groups is None:
        raise InputError("groups= (the patient of each cell) is required to aggregate")
    X = np.asarray(X)
    groups = np.asarray(groups)
    if len(groups) != len(X):
        raise InputError(f"{len(X)} cells but {len(groups)} patient labels")
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(X):
            raise InputError(f"{len(X)} cells but {len(y)} labels")
    return X, y, groups


def _patient_label(y: np.ndarray, idx: np.ndarray, patient):
    label = y[idx[0]]
    if (y[idx] != label).any():
        raise InputError(f"patient {patient!r} has cells with different labels")
    return label


def _indices_by_patient(groups: np.ndarray) -> dict:
    """Cell indices of each patient, in original order (one pass, no per-patient scan)."""
    codes, uniques = pd.factorize(groups)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {u: order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniques)}
