"""Encoder consistency test (METHOD.md Step 2a).

On cells of known morphology, how well do the encodings separate each pair of
groups? One-vs-one 5-NN ROC-AUC, mean over 10 stratified half splits, exactly
as the study (Chabrun, Lacombe et al. 2023) computed it; and, beyond the study,
a seeded bootstrap confidence interval of each mean AUC.
"""
from __future__ import annotations

import warnings
import zlib
from typing import Sequence

import numpy as np
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from ..exceptions import InputError
from .knn import half_splits, knn_predictions, knn_split_scores


def _pair(X: np.ndarray, labels: np.ndarray, negative: str, positive: str, n_neighbors: int):
    """Cells of the two groups in their original order, with y = 1 for ``positive``."""
    keep = np.isin(labels, (negative, positive))
    Xp, lab = X[keep], labels[keep]
    y = (lab == positive).astype(int)
    if int(0.5 * len(y)) < n_neighbors or min(y.sum(), len(y) - y.sum()) < 2:
        raise InputError(f"groups {negative!r} and {positive!r} have {len(y) - y.sum()} and {y.sum()} "
                         f"cells: the {n_neighbors}-NN test on half splits needs at least "
                         f"{2 * n_neighbors} cells in the pair and 2 in each group")
    return Xp, lab, y


def pairwise_auc(X: np.ndarray, labels: np.ndarray, group_a: str, group_b: str, *,
                 n_splits: int = 10, n_neighbors: int = 5, normalized: bool = False) -> float:
    """Mean 5-NN ROC-AUC of ``group_b`` (positive) vs ``group_a`` over ``n_splits`` half splits.

    Cells keep their original order; split ``n`` uses ``random_state=n`` and is
    stratified by the group labels (strings), as in the study.
    """
    if not normalized:
        X = normalize(X, norm="l2", axis=1)
    Xp, lab, y = _pair(X, np.asarray(labels), group_a, group_b, n_neighbors)
    splits = half_splits(len(y), stratify=lab, n_splits=n_splits)
    return float(np.mean(knn_split_scores(Xp, y, splits, n_neighbors=n_neighbors, scoring="roc_auc")))


def _prepare(X, labels, order):
    labels = np.asarray(labels)
    order = list(order) if order is not None else list(dict.fromkeys(labels))
    Xn = normalize(np.asarray(X, dtype=np.float32), norm="l2", axis=1)
    return Xn, labels, order


def _few_threads(n_cells: int):
    # Encoder test sets are small (tens to hundreds of cells): thread start-up costs
    # more than the distances, so run single-threaded below a few thousand cells.
    return threadpool_limits(1 if n_cells < 5000 else None)


def consistency_matrix(X: np.ndarray, labels, order: Sequence[str] | None = None, *,
                       n_splits: int = 10, n_neighbors: int = 5):
    """The study's one-vs-one AUC matrix.

    Returns ``(order, M)``: ``M[i, j]`` for ``i < j`` is the mean AUC of group
    ``order[j]`` vs ``order[i]``; every other cell is NaN.
    """
    Xn, labels, order = _prepare(X, labels, order)
    M = np.full((len(order), len(order)), np.nan)
    with _few_threads(len(Xn)):
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                M[i, j] = pairwise_auc(Xn, labels, order[i], order[j], n_splits=n_splits,
                                       n_neighbors=n_neighbors, normalized=True)
    return order, M


def consistency_ci(X: np.ndarray, labels, order: Sequence[str] | None = None, *,
                   n_resamples: int = 2000, confidence_level: float = 0.95, random_state: int = 0,
                   n_splits: int = 10, n_neighbors: int = 5):
    """Bootstrap confidence interval of every mean AUC of :func:`consistency_matrix`.

    Returns ``(low, high)``, matrices shaped like ``M`` (NaN outside ``i < j``).

    What is resampled: the *cells*, with replacement, separately within each of
    the two groups (so each group keeps its size, as the stratified splits do).
    A resample weights every cell by how often it was drawn; each of the study's
    10 splits keeps its 5-NN models and scores, and its test-half AUC is
    recomputed with those weights (a weighted Mann-Whitney count: ties count
    1/2, as in ``roc_auc_score``); the resample's value is the mean over splits.
    The interval is the percentile interval of ``n_resamples`` such means.

    Why the models are not refitted: drawing cells with replacement puts copies
    of one cell on both sides of a split, and a copy is its own nearest
    neighbour, which would inflate the AUC. The interval therefore covers how
    the AUC varies with the cells that are classified, given the 10 training
    halves; it does not cover the choice of training cells (the study's mean
    over 10 splits already averages over that). A pair separated perfectly in
    every split gets [1, 1]: reweighting cells that are all ranked correctly
    cannot show uncertainty.

    Seeded: pair ``(a, b)`` uses ``default_rng([random_state, crc32 of the sorted
    pair names])``, so a pair's interval does not depend on the other groups nor
    on their order.
    """
    if not 0 < confidence_level < 1:
        raise InputError(f"confidence level must be in (0, 1), got {confidence_level}")
    if n_resamples < 1:
        raise InputError(f"bootstrap resamples must be at least 1, got {n_resamples}")
    Xn, labels, order = _prepare(X, labels, order)
    low = np.full((len(order), len(order)), np.nan)
    high = low.copy()
    alpha = (1 - confidence_level) / 2
    with _few_threads(len(Xn)):
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                means = _bootstrap_pair(Xn, labels, order[i], order[j], n_resamples, random_state,
                                        n_splits, n_neighbors)
                low[i, j], high[i, j] = np.nanquantile(means, [alpha, 1 - alpha])
    return low, high


def _bootstrap_pair(X, labels, negative, positive, n_resamples, random_state, n_splits, n_neighbors):
    """``n_resamples`` bootstrap values of the pair's mean AUC over the half splits."""
    Xp, lab, y = _pair(X, labels, negative, positive, n_neighbors)
    splits = half_splits(len(y), stratify=lab, n_splits=n_splits)
    proba = knn_predictions(Xp, y, splits, n_neighbors=n_neighbors, proba=True)
    names = "\0".join(sorted((str(negative), str(positive)))).encode()
    rng = np.random.default_rng([random_state, zlib.crc32(names)])
    W = _stratified_bootstrap_weights(lab, n_resamples, rng)
    aucs = np.empty((n_resamples, len(splits)))
    for s, ((_, test), p) in enumerate(zip(splits, proba)):
        aucs[:, s] = _weighted_auc(y[test], p[:, 1], W[:, test])
    with warnings.catch_warnings():  # a resample with no defined split is NaN, then ignored
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(aucs, axis=1)


def _stratified_bootstrap_weights(labels: np.ndarray, n_resamples: int, rng) -> np.ndarray:
    """How many times each cell is drawn, per resample, drawing within each group (groups sorted by name).

    Shape ``(n_resamples, n_cells)``.
    """
    W = np.zeros((n_resamples, len(labels)))
    for group in np.unique(labels):
        members = np.flatnonzero(labels == group)
        W[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)),
                                        size=n_resamples)
    return W


def _weighted_auc(y: np.ndarray, score: np.ndarray, W: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``score`` for each row of weights ``W``; NaN where a class has zero weight."""
    pos, neg = y == 1, y == 0
    diff = score[pos][:, None] - score[neg][None, :]
    wins = (diff > 0) + 0.5 * (diff == 0)
    num = np.einsum("bk,kl,bl->b", W[:, pos], wins, W[:, neg])
    den = W[:, pos].sum(axis=1) * W[:, neg].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)
