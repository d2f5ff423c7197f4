"""Metrics: ROC-AUC, sensitivity/specificity at a threshold, seeded CIs, exact p-values."""
from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import roc_auc_score


def binary_metrics(y_true, p_pos, threshold: float = 0.5) -> dict:
    """AUC, and sensitivity/specificity of ``p_pos >= threshold`` (METHOD.md Step 2b)."""
    y_true = np.asarray(y_true).astype(bool)
    pred = np.asarray(p_pos) >= threshold
    sens = float(np.mean(pred[y_true])) if y_true.any() else float("nan")
    spec = float(np.mean(~pred[~y_true])) if (~y_true).any() else float("nan")
    return {"auc": float(roc_auc_score(y_true, p_pos)), "sensitivity": sens, "specificity": spec}


def mean_ci(values, *, confidence_level: float = 0.95, n_resamples: int = 9999,
            random_state: int = 0) -> dict:
    """Mean and its bootstrap CI (scipy.stats.bootstrap, seeded so runs are identical).

    When every value is equal the bootstrap distribution is degenerate; the CI
    is then the value itself rather than NaN.
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if np.ptp(values) == 0:
        return {"mean": mean, "low": mean, "high": mean}
    res = bootstrap((values,), np.mean, confidence_level=confidence_level,
                    n_resamples=n_resamples, random_state=np.random.default_rng(random_state))
    return {"mean": mean, "low": float(res.confidence_interval.low),
            "high": float(res.confidence_interval.high)}


def auc_permutation_p(y_true, scores, *, max_exact: int = 100_000, n_random: int = 20_000,
                      random_state: int = 0) -> float:
    """One-sided p-value of the AUC under exchangeable labels.

    Exact (all label assignments) when there are at most ``max_exact`` of them,
    which is always the case for a cohort of a dozen patients: with 3 positives
    among 6 patients, even a perfect AUC has p = 1/20 = 0.05.
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    n, k = len(y_true), int(y_true.sum())
    observed = roc_auc_score(y_true, scores)
    ranks = _average_ranks(scores)
    n_neg = n - k

    def auc_of(pos_idx):
        return (ranks[list(pos_idx)].sum() - k * (k + 1) / 2) / (k * n_neg)

    if math.comb(n, k) <= max_exact:
        aucs = np.fromiter((auc_of(c) for c in itertools.combinations(range(n), k)), float)
    else:
        rng = np.random.default_rng(random_state)
        aucs = np.array([auc_of(rng.choice(n, k, replace=False)) for _ in range(n_random)])
        return float((1 + np.sum(aucs >= observed - 1e-12)) / (1 + n_random))
    return float(np.mean(aucs >= observed - 1e-12))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata
    return rankdata(x)
