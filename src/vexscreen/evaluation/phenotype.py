"""Phenotypic prediction (METHOD.md Step 2b), and the patient-level figure beside it.

The study's protocol, every random step seeded; then leave-one-patient-out,
one score per patient: the honest number for a cohort of a dozen patients.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from joblib import Parallel, delayed
from sklearn.preprocessing import normalize
from tqdm.auto import tqdm

from ..aggregation import BootstrapMedianAggregator
from ..data.encodings import EncodingSet
from ..exceptions import InputError
from .classifier import PatientClassifier
from .metrics import auc_permutation_p, binary_metrics, mean_ci
from .splitters import LeaveOnePatientOut, StratifiedPatientSplit, patient_table

DEFAULTS = dict(iterations=10, aggregates=100, aggregate_size=10, train_fraction=0.5,
                seed=4512, threshold=0.5)


def prepare(encset: EncodingSet, groups: Sequence[str]):
    """Cells of ``groups``: L2-normalised X, binary y (last group positive), patients, group per cell."""
    groups = encset.check_groups(groups)
    if len(groups) < 2:
        raise InputError(f"need at least two groups to compare, got {groups}")
    sub = encset.select_groups(groups)
    X = normalize(np.asarray(sub.X, dtype=np.float32), norm="l2", axis=1)
    labels = sub.groups
    y = (labels == groups[-1]).astype(int)
    patients = sub.patients
    table = patient_table(labels, patients)  # checks one group per patient
    for g in groups:
        if (table["label"] == g).sum() < 1:
            raise InputError(f"group {g!r} has no patients", encset.source or None)
    return X, y, patients, labels, table


def evaluate(encset: EncodingSet, groups: Sequence[str], *, iterations: int = 10,
             aggregates: int = 100, aggregate_size: int = 10, train_fraction: float = 0.5,
             seed: int = 4512, threshold: float = 0.5, patient_level: bool = True,
             progress: bool = True, n_jobs: int = 1) -> dict:
    """Run Step 2b on ``encset`` for ``groups`` (last = positive). Returns the JSON-ready result.

    Per iteration ``n`` (seed ``seed + n``): a stratified half of the patients
    trains, the rest tests; ``RandomState(seed)`` draws ``aggregates`` medians of
    ``aggregate_size`` cells per patient (training patients first); a Platt-scaled
    RBF SVM scores the test aggregates. Means over iterations get seeded
    bootstrap 95% CIs. ``patient_level`` adds leave-one-patient-out scores.
    ``n_jobs`` runs iterations (and folds) in parallel with identical results.
    """
    t0 = time.perf_counter()
    groups = list(groups)
    X, y, patients, labels, table = prepare(encset, groups)
    label_of = dict(zip(table["patient"], table["label"]))
    splitter = StratifiedPatientSplit(iterations, train_fraction, seed)
    splits = list(splitter.split_patients(labels, patients))
    records = _parallel(
        (delayed(_one_iteration)(X, y, patients, it_seed, train_p, test_p, aggregates,
                                 aggregate_size, threshold) for it_seed, train_p, test_p in splits),
        n_jobs, len(splits), f"evaluate {'/'.join(groups)}", progress)
    t_iter = time.perf_counter() - t0
    summary = {k: mean_ci([r[k] for r in records], random_state=seed)
               for k in ("auc", "sensitivity", "specificity")}
    result = {
        "groups": groups,
        "positive": groups[-1],
        "parameters": {"iterations": iterations, "aggregates": aggregates,
                       "aggregate_size": aggregate_size, "train_fraction": train_fraction,
                       "seed": seed, "threshold": threshold,
                       "classifier": "CalibratedClassifierCV(SVC(C=1.0, kernel='rbf'), "
                                     "method='sigmoid', cv=StratifiedKFold(5), ensemble=False)",
                       "ci": "scipy.stats.bootstrap of the mean over iterations, 95%, "
                             "9999 resamples, BCa, seeded"},
        "n_patients": {g: int((table["label"] == g).sum()) for g in groups},
        "n_cells": {g: int((labels == g).sum()) for g in groups},
        "iterations": records,
        "aggregate_level": summary,
    }
    timing = {"iterations_s": round(t_iter, 3)}
    if patient_level:
        t1 = time.perf_counter()
        result["patient_level"] = leave_one_patient_out(
            X, y, patients, label_of, aggregates=aggregates, aggregate_size=aggregate_size,
            seed=seed, threshold=threshold, progress=progress, n_jobs=n_jobs)
        timing["patient_level_s"] = round(time.perf_counter() - t1, 3)
    result["timing"] = timing
    return result


def _one_iteration(X, y, patients, it_seed, train_p, test_p, aggregates, aggregate_size, threshold):
    """One of the study's iterations: aggregates from ``RandomState(seed)``, training patients first."""
    rng = np.random.RandomState(it_seed)
    clf = PatientClassifier(BootstrapMedianAggregator(aggregates, aggregate_size, rng),
                            threshold=threshold)
    clf.fit(X, y, patients, order=train_p)
    A_te, y_te, _ = clf.aggregator_.fit_resample(X, y, patients, order=test_p)
    m = binary_metrics(y_te, clf.positive_proba(A_te), threshold)
    return {"seed": int(it_seed), "train_patients": list(map(str, train_p)),
            "test_patients": list(map(str, test_p)), **m}


def _parallel(tasks, n_jobs, total, desc, progress):
    """Run independent, individually seeded tasks; results in task order whatever ``n_jobs``."""
    # threads: libsvm and numpy release the GIL, and nothing is copied to workers
    out = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(tasks)
    return list(tqdm(out, total=total, desc=desc, disable=not progress, leave=False))


def patient_aggregates(X, y, patients, *, aggregates=100, aggregate_size=10, seed=4512):
    """``aggregates`` medians for every patient, patients sorted, from ``RandomState(seed)``.

    As the study built them for its UMAP figure; reused for leave-one-patient-out.
    """
    agg = BootstrapMedianAggregator(aggregates, aggregate_size, np.random.RandomState(seed))
    return agg.fit_resample(X, y, patients, order=sorted(set(np.asarray(patients).tolist())))


def _lopo_fold(A, y_A, train, test, threshold):
    clf = PatientClassifier(threshold=threshold).fit_aggregates(A[train], y_A[train])
    return float(clf.positive_proba(A[test]).mean())


def _pair_fold(A, y_A, owners, pos, neg, threshold):
    """1 if the left-out positive patient outscores the left-out negative one (0.5 on a tie)."""
    out = np.isin(owners, [pos, neg])
    clf = PatientClassifier(threshold=threshold).fit_aggregates(A[~out], y_A[~out])
    s_pos = clf.positive_proba(A[owners == pos]).mean()
    s_neg = clf.positive_proba(A[owners == neg]).mean()
    return 1.0 if s_pos > s_neg else 0.5 if s_pos == s_neg else 0.0


def leave_one_patient_out(X, y, patients, label_of: dict, *, aggregates=100, aggregate_size=10,
                          seed=4512, threshold=0.5, progress=True, n_jobs=1) -> dict:
    """Each patient scored by a model fitted on every other patient's aggregates.

    Score = mean positive probability over the patient's own aggregates; the AUC
    is over patients (one point each), with an exact permutation p-value.
    """
    A, y_A, owners = patient_aggregates(X, y, patients, aggregates=aggregates,
                                        aggregate_size=aggregate_size, seed=seed)
    folds = list(LeaveOnePatientOut().split(A, y_A, owners))
    fitted = _parallel((delayed(_lopo_fold)(A, y_A, train, test, threshold) for train, test in folds),
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
    pos = [n for n in names if truth[n] == 1]
    neg = [n for n in names if truth[n] == 0]
    owner_str = owners.astype(str)
    pairs = [(a, b) for a in pos for b in neg]
    wins = _parallel((delayed(_pair_fold)(A, y_A, owner_str, a, b, threshold) for a, b in pairs),
                     n_jobs, len(pairs), "leave-pair-out", progress)
    return {"method": "leave-one-patient-out", "auc": m["auc"],
            "sensitivity": m["sensitivity"], "specificity": m["specificity"],
            "p_value": auc_permutation_p(y_p, s_p),
            "leave_pair_out_auc": float(np.mean(wins)),
            "n_positive": int(y_p.sum()), "n_negative": int((1 - y_p).sum()),
            "scores": scores, "groups": {n: str(label_of[n]) for n in names}}
