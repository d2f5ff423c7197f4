"""Phenotypic prediction (METHOD.md Step 2b), and the patient-level figure beside it.

The study's protocol, every random step seeded; then leave-one-patient-out,
one score per patient: the honest number for a cohort of a dozen patients.
Past a stated size (:class:`~.scalable.ScaleConfig`) a scalable path takes over
(:mod:`.scalable`), and the result says so.

Progress: ``progress`` as in :mod:`vexscreen.progress` (False/None silent, True a bar
or log lines, or a callable ``progress(desc, done, total)`` after each task).
"""
from __future__ import annotations

import time
from functools import partial
from typing import Sequence

import numpy as np
from joblib import delayed
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.preprocessing import normalize

from ..aggregation import BootstrapMedianAggregator, check_statistic
from ..data.encodings import EncodingSet
from ..exceptions import InputError
from ..progress import ProgressArg
from .cells import cohort_cells
from .classifier import PatientClassifier, platt_svc
from .metrics import auc_permutation_p, binary_metrics, mean_ci
from .parallel import run_tasks
from .scalable import ScaleConfig, blas_threads, kfold_patient_level, scalable_iteration
from .splitters import StratifiedPatientSplit, patient_table



CLASSIFIER = ("CalibratedClassifierCV(SVC(C=1.0, kernel='rbf'), method='sigmoid', "
              "cv=StratifiedKFold(5), ensemble=False)")
CI_METHOD = "scipy.stats.bootstrap of the mean over iterations, 95%, 9999 resamples, BCa, seeded"


def prepare(encset: EncodingSet, classes: Sequence[str]):
    """Cells of ``classes``: ``(X, y, patients, labels, table)``.

    X L2-normalised, y binary (last class positive), label per cell, one table row per patient.
    """
    classes = encset.check_classes(classes)
    if len(classes) < 2:
        raise InputError(f"need at least two groups to compare, got {classes}")
    sub = encset.select_classes(classes)
    X = normalize(np.asarray(sub.X, dtype=np.float32), norm="l2", axis=1)
    labels = sub.labels
    y = (labels == classes[-1]).astype(int)
    patients = sub.patients
    table = patient_table(labels, patients)  # checks one group per patient
    for c in classes:
        if (table["label"] == c).sum() < 1:
            raise InputError(f"group {c!r} has no patients", encset.source or None)
    return X, y, patients, labels, table


def evaluate(encset: EncodingSet, classes: Sequence[str], *, iterations: int = 10,
             aggregates: int = 100, aggregate_size: int = 10, train_fraction: float = 0.5,
             seed: int = 4512, threshold: float = 0.5, patient_level: bool = True,
             progress: ProgressArg = None, n_jobs: int = 1, method: str = "auto",
             scale: ScaleConfig | None = None, min_cells: int = 0, statistic: str = "median") -> dict:
    """Run Step 2b on ``encset`` for ``classes`` (diagnosis groups, last = positive); JSON-ready result.

    Per iteration ``n`` (seed ``seed + n``): a stratified half of the patients
    trains, the rest tests; ``RandomState(seed)`` draws ``aggregates`` medians of
    ``aggregate_size`` cells per patient (training patients first); a Platt-scaled
    RBF SVM scores the test aggregates. Means over iterations get seeded
    bootstrap 95% CIs. ``patient_level`` adds leave-one-patient-out scores and
    leave-pair-out. ``n_jobs`` runs iterations (and folds) in parallel with identical results.

    ``method``: ``auto`` (default) runs that exact protocol up to ``scale``'s size
    limits (:class:`~.scalable.ScaleConfig`: 30 patients, 100 positive-negative
    pairs) and the scalable one (:mod:`.scalable`) past them; ``exact`` or
    ``scalable`` force one. ``parameters.method`` and ``parameters.scale`` say which
    ran and why. The encodings are read in place: a memory map
    (``load_encodings(..., mmap=True)``) is never copied.
    ``min_cells``: patients with fewer cells are left out (``"excluded_patients"``);
    ``"small_patients"`` lists those evaluated with fewer cells than ``aggregate_size``
    (their aggregates repeat cells).
    ``statistic``: ``median`` (the study's) or ``mean`` aggregates of the same draws; the mean
    keeps features a minority of cells carry (cell measurements: vacuolated fraction).
    The result keeps the study's words: ``"groups"`` (the classes), ``"positive"``.
    """
    t0 = time.perf_counter()
    _check_parameters(iterations=iterations, aggregates=aggregates, aggregate_size=aggregate_size,
                      train_fraction=train_fraction, threshold=threshold, n_jobs=n_jobs, min_cells=min_cells)
    check_statistic(statistic)
    scale = (scale or ScaleConfig()).check()
    classes = list(classes)
    encset, excluded = select_patients(encset, classes, min_cells)
    cells = cohort_cells(encset, classes)
    path, why = scale.choose(method, *cells.counts())
    table, labels = cells.table, cells.labels
    splits = list(StratifiedPatientSplit(iterations, train_fraction, seed).split_patients(labels, cells.patients))
    one = _one_iteration if path == "exact" else partial(scalable_iteration, config=scale)
    with blas_threads(path):
        records = _parallel(
            (delayed(one)(cells, it_seed, train_p, test_p, aggregates, aggregate_size, threshold,
                          statistic=statistic)
             for it_seed, train_p, test_p in splits),
            n_jobs, len(splits), f"evaluate {'/'.join(classes)}", progress)
    timing = {"iterations_s": round(time.perf_counter() - t0, 3)}
    result = {
        "groups": classes,
        "positive": classes[-1],
        "parameters": {"iterations": iterations, "aggregates": aggregates,
                       "aggregate_size": aggregate_size, "statistic": statistic,
                       "train_fraction": train_fraction,
                       "seed": seed, "threshold": threshold, "min_cells": min_cells,
                       "classifier": CLASSIFIER if path == "exact" else scale.describe_classifier(),
                       "ci": CI_METHOD, "method": path,
                       "scale": {"requested": method, "why": why, **scale.settings()}},
        "n_patients": {c: int((table["label"] == c).sum()) for c in classes},
        "n_cells": {c: int((labels == c).sum()) for c in classes},
        "excluded_patients": excluded,
        "small_patients": small_patients(cells.patients, aggregate_size),
        "iterations": records,
        "aggregate_level": {k: mean_ci([r[k] for r in records], random_state=seed)
                            for k in ("auc", "sensitivity", "specificity")},
    }
    if patient_level:
        t1 = time.perf_counter()
        with blas_threads(path):
            result["patient_level"] = _patient_level(cells, path, scale, aggregates=aggregates,
                                                     aggregate_size=aggregate_size, seed=seed,
                                                     statistic=statistic,
                                                     threshold=threshold, progress=progress, n_jobs=n_jobs)
        timing["patient_level_s"] = round(time.perf_counter() - t1, 3)
    result["timing"] = timing
    return result


def _patient_level(cells, path, scale, *, aggregates, aggregate_size, seed, threshold, progress, n_jobs,
                   statistic="median"):
    """Exact (leave-one-patient-out + leave-pair-out) or scalable (repeated K-fold) patient figures.

    The aggregates: ``aggregates`` (exact) or ``scale.aggregates`` (scalable) per
    patient, patients in sorted order, from ``RandomState(seed)``, as
    :func:`patient_aggregates` draws them.
    """
    n_agg = aggregates if path == "exact" else scale.aggregates
    agg = BootstrapMedianAggregator(n_agg, aggregate_size, seed, normalize=True, statistic=statistic)
    A, y_A, codes = agg.fit_resample(cells.X, cells.y, cells.owner, order=range(len(cells.names)))
    owners = cells.names[codes.astype(int)]
    if path == "exact":
        return _exact_patient_level(A, y_A.astype(int), owners, cells.label_of, threshold=threshold,
                                    progress=progress, n_jobs=n_jobs)
    return kfold_patient_level(A, y_A, owners, cells.label_of, positive=cells.classes[-1], config=scale,
                               seed=seed, threshold=threshold, progress=progress, n_jobs=n_jobs)


def _check_parameters(*, iterations, aggregates, aggregate_size, train_fraction, threshold, n_jobs,
                      min_cells=0):
    """Out-of-range settings are input errors, named, before any work."""
    problems = [
        (iterations < 1, f"iterations must be at least 1, got {iterations}"),
        # Platt scaling uses 5 folds: a class needs 5 training aggregates even with one patient
        (aggregates < 5, f"aggregates must be at least 5 per patient, got {aggregates}"),
        (aggregate_size < 1, f"aggregate size must be at least 1 cell, got {aggregate_size}"),
        (not 0 < train_fraction < 1, f"train fraction must be between 0 and 1, got {train_fraction}"),
        (not 0 <= threshold <= 1, f"threshold must be between 0 and 1, got {threshold}"),
        (n_jobs == 0, "jobs must be a positive number of workers or negative (-1 = all cores), not 0"),
        (min_cells < 0, f"min cells must be at least 0, got {min_cells}"),
    ]
    for bad, message in problems:
        if bad:
            raise InputError(message)


def _cell_counts(patients) -> dict:
    names, counts = np.unique(np.asarray(patients).astype(str), return_counts=True)
    return {str(p): int(n) for p, n in zip(names, counts)}


def select_patients(encset: EncodingSet, classes: Sequence[str], min_cells: int = 0):
    """The cells of ``classes`` without the patients that have fewer than ``min_cells`` of them:
    ``(encoding set, {excluded patient: cells})``; the set unchanged when nobody is excluded."""
    sub = encset.select_classes(encset.check_classes(classes))
    excluded = {p: n for p, n in _cell_counts(sub.patients).items() if n < min_cells}
    if not excluded:
        return encset, {}
    kept = sub.subset(~np.isin(np.asarray(sub.patients).astype(str), list(excluded)))
    for c in classes:
        if not (kept.labels == c).any():
            raise InputError(f"every patient of group {c!r} has fewer than {min_cells} cells (minimum cells "
                             "per patient)", encset.source or None)
    return kept, excluded


def small_patients(patients, aggregate_size: int) -> dict:
    """``{patient: cells}`` of the patients with fewer cells than one aggregate draws (with
    replacement, so their aggregates repeat cells and vary less)."""
    return {p: n for p, n in _cell_counts(patients).items() if n < aggregate_size}


def _one_iteration(cells, it_seed, train_p, test_p, aggregates, aggregate_size, threshold,
                   statistic="median"):
    """One of the study's iterations: one ``RandomState(seed)`` stream, training patients first.

    The classifier's aggregator is seeded with ``it_seed``: ``fit`` draws the
    training aggregates and prediction continues the same stream for the test ones.
    The cells stay where they are (``cells.X``); the aggregator reads the drawn ones.
    """
    clf = PatientClassifier(BootstrapMedianAggregator(aggregates, aggregate_size, it_seed, normalize=True,
                                                      statistic=statistic),
                            threshold=threshold)
    clf.fit(cells.X, cells.y, cells.owner, order=cells.codes(train_p))
    proba, owners = clf.predict_aggregates(cells.X, cells.owner, order=cells.codes(test_p))
    y_te = cells.positive[owners.astype(int)]
    m = binary_metrics(y_te, proba[:, clf.positive_column()], threshold)
    return {"seed": int(it_seed), "train_patients": list(map(str, train_p)),
            "test_patients": list(map(str, test_p)), **m}


_parallel = run_tasks


def patient_aggregates(X, y, patients, *, aggregates=100, aggregate_size=10, seed=4512, statistic="median"):
    """``aggregates`` medians for every patient, patients sorted, from ``RandomState(seed)``.

    As the study built them for its UMAP figure; reused for leave-one-patient-out.
    Returns ``(A, y_A, owners)``.
    """
    agg = BootstrapMedianAggregator(aggregates, aggregate_size, seed, statistic=statistic)
    return agg.fit_resample(X, y, patients, order=sorted(set(np.asarray(patients).tolist())))


def _positive_proba(svm, A) -> np.ndarray:
    return svm.predict_proba(A)[:, list(svm.classes_).index(1)]


def _lopo_fold(A, y_A, train, test):
    svm = platt_svc().fit(A[train], y_A[train])
    return float(_positive_proba(svm, A[test]).mean())


def _pair_fold(A, y_A, owners, pos, neg):
    """1 if the left-out positive patient outscores the left-out negative one (0.5 on a tie)."""
    out = np.isin(owners, [pos, neg])
    svm = platt_svc().fit(A[~out], y_A[~out])
    s_pos = _positive_proba(svm, A[owners == pos]).mean()
    s_neg = _positive_proba(svm, A[owners == neg]).mean()
    return 1.0 if s_pos > s_neg else 0.5 if s_pos == s_neg else 0.0


def leave_one_patient_out(X, y, patients, label_of: dict, *, aggregates=100, aggregate_size=10,
                          seed=4512, threshold=0.5, progress: ProgressArg = None, n_jobs=1,
                          statistic="median") -> dict:
    """Each patient scored by a model fitted on every other patient's aggregates.

    The aggregates are drawn once (:func:`patient_aggregates`); each fold fits
    :func:`platt_svc` on them directly. Score = mean positive probability over
    the patient's own aggregates; the AUC is over patients (one point each),
    with an exact permutation p-value. Patients in sorted order
    (``LeaveOneGroupOut`` order). Leave-pair-out beside it.
    """
    A, y_A, owners = patient_aggregates(X, y, patients, aggregates=aggregates,
                                        aggregate_size=aggregate_size, seed=seed, statistic=statistic)
    return _exact_patient_level(A, y_A.astype(int), owners, label_of, threshold=threshold,
                                progress=progress, n_jobs=n_jobs)


def _exact_patient_level(A, y_A, owners, label_of: dict, *, threshold=0.5, progress: ProgressArg = None,
                         n_jobs=1) -> dict:
    """Leave-one-patient-out and leave-pair-out on the aggregates ``A`` of ``owners``."""
    folds = list(LeaveOneGroupOut().split(A, y_A, owners))
    fitted = _parallel((delayed(_lopo_fold)(A, y_A, train, test) for train, test in folds),
                       n_jobs, len(folds), "leave-one-patient-out", progress)
    scores = {str(owners[test[0]]): s for (_, test), s in zip(folds, fitted)}
    truth = {str(owners[test[0]]): int(y_A[test[0]]) for _, test in folds}
    names = list(scores)
    y_p = np.array([truth[n] for n in names])
    s_p = np.array([scores[n] for n in names])
    m = binary_metrics(y_p, s_p, threshold)
    # Leaving one patient out shifts the training classes against that patient's group, which
    # biases the LOPO AUC downwards when the signal is weak (down to 0 on a null cohort).
    # Leave-pair-out (Airola et al. 2011) has no such bias: every positive/negative pair of
    # patients is left out together and the AUC is the fraction ranked the right way round.
    owner_str = owners.astype(str)
    pairs = [(a, b) for a in names if truth[a] == 1 for b in names if truth[b] == 0]
    wins = _parallel((delayed(_pair_fold)(A, y_A, owner_str, a, b) for a, b in pairs),
                     n_jobs, len(pairs), "leave-pair-out", progress)
    return {"method": "leave-one-patient-out", "auc": m["auc"],
            "sensitivity": m["sensitivity"], "specificity": m["specificity"],
            "p_value": auc_permutation_p(y_p, s_p),
            "leave_pair_out_auc": float(np.mean(wins)),
            "n_positive": int(y_p.sum()), "n_negative": int((1 - y_p).sum()),
            "scores": scores, "groups": {n: str(label_of[n]) for n in names}}
