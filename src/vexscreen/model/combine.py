"""Combining cell types: per-type patient probabilities -> one patient probability.

The study scores each cell type on its own (METHOD.md, "Known weaknesses": cell
types are never combined, though a smear gives all of them at once).

Combiners (a model setting, ``combiner=``):

* ``mean`` (default): the arithmetic mean of the per-type probabilities over the
  *assessable* types (those with at least ``min_cells`` cells). No weights to fit:
  a reference cohort of a dozen patients cannot estimate a stacking model without
  overfitting it, and the mean stays a probability-scale average a reader can
  check by hand from the per-type lines of the report.
* ``logit_mean``: the mean of the log-odds, mapped back (a geometric mean of the
  odds): two confident agreeing types give a more confident result than either.
* ``weighted``: the mean weighted by each type's own evidence on the reference cohort,
  ``max(0, 2 AUC - 1)`` of its leave-one-patient-out scores (0 at chance, 1 when it
  orders every pair of reference patients right); equal weights when every type is at
  chance. One number per type, not a fitted stacking model: a type that tells the
  reference patients apart no better than chance (monocytes on real texture,
  docs/experiments.md section 5) then stops halving the evidence of one that does.
  Its reference figure is honest about the weights: each reference patient's combined
  score uses weights computed without that patient's own score.

``combined_patient_level`` scores a combiner honestly on a reference cohort from
per-type leave-one-patient-out scores, so ``evaluate --cell-types PN,MO`` can set
the combined figure beside each type alone.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..evaluation.metrics import auc_permutation_p, binary_metrics
from ..exceptions import InputError

_EPS = 1e-6


def _mean(p: np.ndarray, w=None) -> float:
    return float(np.mean(p))


def _logit_mean(p: np.ndarray, w=None) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    z = float(np.mean(np.log(p / (1 - p))))
    return float(1.0 / (1.0 + np.exp(-z)))


def _weighted(p: np.ndarray, w=None) -> float:
    w = np.ones_like(p) if w is None else np.asarray(w, dtype=float)
    if not np.sum(w) > 0:
        return _mean(p)
    return float(np.sum(w * p) / np.sum(w))


COMBINERS = {"mean": _mean, "logit_mean": _logit_mean, "weighted": _weighted}


def check_combiner(name: str) -> str:
    if name not in COMBINERS:
        raise InputError(f"unknown combiner {name!r}; choose one of {', '.join(COMBINERS)}")
    return name


def combine(probabilities: Sequence[float], combiner: str = "mean", weights: Sequence[float] | None = None
            ) -> float | None:
    """One probability from the assessable types' probabilities (None when there are none);
    ``weights`` (one per probability) for the ``weighted`` combiner."""
    keep = [i for i, q in enumerate(probabilities) if q is not None]
    if not keep:
        return None
    p = np.asarray([probabilities[i] for i in keep], dtype=float)
    w = None if weights is None else np.asarray([weights[i] for i in keep], dtype=float)
    return COMBINERS[check_combiner(combiner)](p, w)


def combine_rows(P: np.ndarray, combiner: str = "mean", weights: Sequence[float] | None = None) -> np.ndarray:
    """Row-wise ``combine`` of a (replicates x types) matrix (bootstrap intervals)."""
    fn = COMBINERS[check_combiner(combiner)]
    return np.array([fn(row, weights) for row in np.atleast_2d(P)], dtype=float)


def evidence_weights(type_scores: Mapping[str, Mapping[str, float]], classes_of: Mapping[str, str],
                     positive: str, exclude: str | None = None) -> dict[str, float]:
    """Per cell type, ``max(0, 2 AUC - 1)`` of its leave-one-patient-out scores over the reference
    patients (but ``exclude``); 0 for a type whose scored patients are all of one class."""
    out = {}
    for ct, scores in type_scores.items():
        names = [p for p in scores if p != exclude and p in classes_of]
        y = np.array([classes_of[p] == positive for p in names], dtype=int)
        if not 0 < y.sum() < len(y):
            out[ct] = 0.0
            continue
        auc = binary_metrics(y, np.array([scores[p] for p in names], dtype=float), 0.5)["auc"]
        out[ct] = float(max(0.0, 2.0 * auc - 1.0))
    return out


def combined_patient_level(type_scores: Mapping[str, Mapping[str, float]], classes_of: Mapping[str, str],
                           positive: str, *, n_cells: Mapping[str, Mapping[str, int]] | None = None,
                           min_cells: int = 0, combiner: str = "mean", threshold: float = 0.5) -> dict:
    """Patient-level figures of the combined score, from per-type leave-one-patient-out scores.

    ``type_scores``: ``{cell type: {patient: LOPO score}}`` (e.g. ``evaluate``'s
    ``patient_level.scores`` per type); ``classes_of``: ``{patient: class}``;
    ``n_cells``: ``{cell type: {patient: cells}}``; a type counts for a patient only
    with at least ``min_cells`` cells (without ``n_cells``, every scored type counts).
    Patients with no assessable type are listed in ``not_assessable``, not scored.
    Returns AUC, exact permutation p, sensitivity/specificity at ``threshold``, scores.
    """
    check_combiner(combiner)
    patients = sorted({p for scores in type_scores.values() for p in scores})
    unknown = [p for p in patients if p not in classes_of]
    if unknown:
        raise InputError(f"no class given for patient(s) {unknown}")
    scores, used, skipped = {}, {}, []
    for p in patients:
        types = [ct for ct, s in type_scores.items() if p in s
                 and (n_cells is None or n_cells.get(ct, {}).get(p, 0) >= min_cells)]
        if not types:
            skipped.append(p)
            continue
        w = None
        if combiner == "weighted":  # without this patient's own scores (module doc)
            own = evidence_weights(type_scores, classes_of, positive, exclude=p)
            w = [own[ct] for ct in types]
        scores[p] = combine([type_scores[ct][p] for ct in types], combiner, w)
        used[p] = types
    names = list(scores)
    y = np.array([classes_of[p] == positive for p in names], dtype=int)
    s = np.array([scores[p] for p in names], dtype=float)
    out = {"method": "leave-one-patient-out, cell types combined", "combiner": combiner,
           "cell_types": list(type_scores), "min_cells": int(min_cells),
           "n_positive": int(y.sum()), "n_negative": int(len(y) - y.sum()),
           "auc": None, "p_value": None, "sensitivity": None, "specificity": None,
           "scores": scores, "groups": {p: str(classes_of[p]) for p in names},
           "types_used": used, "not_assessable": skipped}
    if combiner == "weighted":  # the weights a new patient is combined with: every reference patient
        out["weights"] = evidence_weights(type_scores, classes_of, positive)
    if 0 < y.sum() < len(y):
        out.update(binary_metrics(y, s, threshold))
        out["p_value"] = auc_permutation_p(y, s)
    return out


def combined_from_evaluations(results: Mapping[str, dict], *, combiner: str = "mean",
                              threshold: float | None = None) -> dict:
    """The combined figure from ``evaluate`` results of several cell types (same classes, last positive).

    ``results``: ``{cell type: evaluate(...) result}``, each with its ``patient_level``
    (leave-one-patient-out scores and groups). Every scored type counts for a patient
    (``evaluate`` does not report cells per patient). For ``evaluate --cell-types PN,MO``.
    """
    positives = {r["positive"] for r in results.values()}
    if len(positives) != 1:
        raise InputError(f"the cell types were evaluated with different positive classes: {sorted(positives)}")
    missing = [ct for ct, r in results.items() if "patient_level" not in r]
    if missing:
        raise InputError(f"no patient-level (leave-one-patient-out) result for {missing}")
    classes_of = {}
    for ct, r in results.items():
        for p, g in r["patient_level"]["groups"].items():
            if classes_of.setdefault(p, g) != g:
                raise InputError(f"patient {p!r} is {classes_of[p]!r} in one cell type and {g!r} in {ct}")
    if threshold is None:
        threshold = next(iter(results.values()))["parameters"]["threshold"]
    return combined_patient_level({ct: r["patient_level"]["scores"] for ct, r in results.items()}, classes_of,
                                  positives.pop(), combiner=combiner, threshold=threshold)
