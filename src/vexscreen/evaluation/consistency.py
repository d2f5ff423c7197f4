"""Encoder consistency test (METHOD.md Step 2a).

On cells of known morphology, how well do the encodings separate each pair of
groups? One-vs-one 5-NN ROC-AUC, mean over 10 stratified half splits, exactly
as the study (Chabrun, Lacombe et al. 2023) computed it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from ..exceptions import InputError



def pairwise_auc(X: np.ndarray, labels: np.ndarray, group_a: str, group_b: str, *,
                 n_splits: int = 10, n_neighbors: int = 5, normalized: bool = False) -> float:
    """Mean 5-NN ROC-AUC of ``group_b`` (positive) vs ``group_a`` over ``n_splits`` half splits.

    Cells keep their original order; split ``n`` uses ``random_state=n`` and is
    stratified by the group labels (strings), as in the study.
    """
    if not normalized:
        X = normalize(X, norm="l2", axis=1)
    labels = np.asarray(labels)
    keep = np.isin(labels, (group_a, group_b))
    Xp, lab = X[keep], labels[keep]
    y = (lab == group_b).astype(int)
    if int(0.5 * len(y)) < n_neighbors or min(y.sum(), len(y) - y.sum()) < 2:
        raise InputError(f"groups {group_a!r} and {group_b!r} have {len(y) - y.sum()} and {y.sum()} "
                         f"cells: the {n_neighbors}-NN test on half splits needs at least "
                         f"{2 * n_neighbors} cells in the pair and 2 in each group")
    aucs = []
    for n in range(n_splits):
        X_tr, X_te, y_tr, y_te = train_test_split(
            Xp, y, train_size=0.5, random_state=n, shuffle=True, stratify=lab)
        model = KNeighborsClassifier(n_neighbors=n_neighbors).fit(X_tr, y_tr)
        aucs.append(roc_auc_score(y_te, model.predict_proba(X_te)[:, 1]))
    return float(np.mean(aucs))


def consistency_matrix(X: np.ndarray, labels, order: Sequence[str] | None = None, *,
                       n_splits: int = 10, n_neighbors: int = 5):
    """The study's one-vs-one AUC matrix.

    Returns ``(order, M)``: ``M[i, j]`` for ``i < j`` is the mean AUC of group
    ``order[j]`` vs ``order[i]``; every other cell is NaN.
    """
    labels = np.asarray(labels)
    order = list(order) if order is not None else list(dict.fromkeys(labels))
    Xn = normalize(np.asarray(X, dtype=np.float32), norm="l2", axis=1)
    M = np.full((len(order), len(order)), np.nan)
    # Encoder test sets are small (tens to hundreds of cells): thread start-up costs
    # more than the distances, so run single-threaded below a few thousand cells.
    with threadpool_limits(1 if len(Xn) < 5000 else None):
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                M[i, j] = pairwise_auc(Xn, labels, order[i], order[j], n_splits=n_splits,
                                       n_neighbors=n_neighbors, normalized=True)
    return order, M
