"""The study's k-NN half-split loop, shared by the encoder probe and the consistency test.

Both score an encoding the same way (METHOD.md Steps 1 and 2a): 10 times
(split ``n`` seeded ``random_state=n``) the cells are halved, a 5-nearest-
neighbour classifier is fitted on one half and scored on the other.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

N_SPLITS = 10
N_NEIGHBORS = 5


def half_splits(n_cells: int, *, stratify: Sequence | None = None,
                n_splits: int = N_SPLITS) -> list[tuple[np.ndarray, np.ndarray]]:
    """The study's half splits of ``n_cells`` cells: ``(train, test)`` index arrays.

    Split ``n`` is ``train_test_split(..., train_size=0.5, random_state=n,
    shuffle=True, stratify=stratify)``; indices come in that function's order.
    """
    idx = np.arange(n_cells)
    return [tuple(train_test_split(idx, train_size=0.5, random_state=n, shuffle=True,
                                   stratify=stratify)) for n in range(n_splits)]


def knn_predictions(X: np.ndarray, y, splits: Iterable, *, n_neighbors: int = N_NEIGHBORS,
                    proba: bool = False) -> list[np.ndarray]:
    """For each ``(train, test)``: fit k-NN on ``X[train]``, predict ``X[test]``.

    ``k = min(n_neighbors, len(train))``. Returns the predicted labels, or with
    ``proba`` the ``predict_proba`` matrices, one entry per split.
    """
    y = np.asarray(y)
    out = []
    for train, test in splits:
        knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(train))).fit(X[train], y[train])
        out.append(knn.predict_proba(X[test]) if proba else knn.predict(X[test]))
    return out


def knn_split_scores(X: np.ndarray, y, splits: Iterable, *, n_neighbors: int = N_NEIGHBORS,
                     scoring: str = "accuracy") -> list[float]:
    """k-NN score of each split's test half: ``"accuracy"``, or ``"roc_auc"`` (binary ``y``, 1 positive)."""
    if scoring not in ("accuracy", "roc_auc"):
        raise ValueError(f"scoring must be 'accuracy' or 'roc_auc', not {scoring!r}")
    splits = list(splits)
    y = np.asarray(y)
    preds = knn_predictions(X, y, splits, n_neighbors=n_neighbors, proba=scoring == "roc_auc")
    if scoring == "roc_auc":
        return [float(roc_auc_score(y[test], p[:, 1])) for (_, test), p in zip(splits, preds)]
    return [float((p == y[test]).mean()) for (_, test), p in zip(splits, preds)]
