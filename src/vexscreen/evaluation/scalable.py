"""Patient-level evaluation that scales: for cohorts past the size where the exact protocol is affordable.

The exact path (METHOD.md Step 2b, then leave-one-patient-out and leave-pair-out)
fits one Platt-scaled RBF SVM per iteration, per patient and per positive-negative
*pair*, each on about 100 aggregates per patient: its cost grows as
pairs x (100 n)^1.6-2, an hour at 20 v 20 patients. Past ``max_exact_patients``
patients or ``max_exact_pairs`` pairs, :func:`~vexscreen.evaluation.evaluate`
(``method="auto"``) takes this path instead, and says so in its result:

- the classifier: :func:`~.classifier.nystroem_svc` (RBF kernel approximated
  by ``components`` Nystroem landmarks, linear SVM, Platt's sigmoid), trained
  on ``aggregates`` (20) aggregates per training patient: the 100 are resamples
  of the same cells. Its fit grows linearly with the cohort.
- the study's iterations: same splits, same seeds, the same aggregates (drawn
  and scored in chunks), that classifier trained on the first ``aggregates`` (20)
  of each training patient's 100; the test patients' 100 each are scored.
- the patient-level figure: ``repeats`` x stratified patient-grouped ``folds``-fold
  (``StratifiedGroupKFold``, seeded) on ``aggregates`` per patient: one score per
  patient per repeat (its mean positive probability), averaged over repeats.
  The AUC over patients of those scores, its permutation p-value, and the
  *pair AUC*: the pairs of a positive and a negative patient that were left out
  in the same fold, ranked by the same model (leave-pair-out, the pairs of a fold
  left out together). Every fold's training set has the cohort's class ratio, so
  neither figure carries leave-one-patient-out's bias against a left-out patient's
  group: both stay at chance on a null cohort (tests/evaluation/test_scalable.py).
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from joblib import delayed
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from ..aggregation import BootstrapMedianAggregator
from ..exceptions import InputError
from ..progress import ProgressArg
from .classifier import nystroem_svc, platt_svc
from .metrics import auc_permutation_p, binary_metrics
from .parallel import run_tasks

METHODS = ("auto", "exact", "scalable")
CLASSIFIERS = ("nystroem", "svc")
#: test aggregates scored at once (bounds memory: 25,000 x 512 float32 = 50 MB)
CHUNK_AGGREGATES = 25_000


@dataclass(frozen=True)
class ScaleConfig:
    """When :func:`~vexscreen.evaluation.evaluate` leaves the exact protocol, and what it does instead.

    ``max_exact_patients`` / ``max_exact_pairs``: the exact path runs up to this
    many patients and positive x negative patient pairs (30 and 100: leave-pair-out
    is then at most 100 SVM fits, minutes on 2 cores; the study's comparisons have
    at most 12 patients and 27 pairs). ``folds``, ``repeats``: the patient-level
    cross-validation. ``aggregates``: aggregates per patient the scalable classifier
    is trained on (and, at patient level, scores with). ``classifier``: ``nystroem``
    (:func:`~.classifier.nystroem_svc`, ``components`` landmarks) or ``svc`` (the
    study's exact SVM, on the fewer aggregates). ``permutations``: 0 gives the
    patient-level p-value as the exact path does (labels permuted, scores
    fixed: approximate, see ``p_value_method``); N > 0 re-runs one repeat of the
    cross-validation on N label permutations (valid; N x the cost of a repeat).
    """

    max_exact_patients: int = 30
    max_exact_pairs: int = 100
    folds: int = 5
    repeats: int = 3
    aggregates: int = 20
    classifier: str = "nystroem"
    components: int = 300
    permutations: int = 0

    def check(self) -> "ScaleConfig":
        """Out-of-range settings are input errors, named."""
        problems = [
            (self.max_exact_patients < 0, f"max_exact_patients must be >= 0, got {self.max_exact_patients}"),
            (self.max_exact_pairs < 0, f"max_exact_pairs must be >= 0, got {self.max_exact_pairs}"),
            (self.folds < 2, f"folds must be at least 2, got {self.folds}"),
            (self.repeats < 1, f"repeats must be at least 1, got {self.repeats}"),
            # Platt scaling uses 5 folds: a class needs 5 training aggregates even with one patient
            (self.aggregates < 5, f"scalable aggregates must be at least 5 per patient, got {self.aggregates}"),
            (self.classifier not in CLASSIFIERS,
             f"unknown scalable classifier {self.classifier!r}; choose one of {', '.join(CLASSIFIERS)}"),
            (self.components < 1, f"components must be at least 1, got {self.components}"),
            (self.permutations < 0, f"permutations must be >= 0, got {self.permutations}"),
        ]
        for bad, message in problems:
            if bad:
                raise InputError(message)
        return self

    def choose(self, method: str, n_positive: int, n_negative: int) -> tuple[str, str]:
        """``("exact" | "scalable", why)`` for ``method`` (auto, exact, scalable) and this cohort."""
        if method not in METHODS:
            raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        n, pairs = n_positive + n_negative, n_positive * n_negative
        if method != "auto":
            path, why = method, f"{method} path requested ({n} patients, {pairs} positive-negative pairs)"
        elif n <= self.max_exact_patients and pairs <= self.max_exact_pairs:
            path, why = "exact", (f"{n} patients <= {self.max_exact_patients} and {pairs} positive-negative "
                                  f"pairs <= {self.max_exact_pairs}: the exact protocol")
        else:
            path, why = "scalable", (f"{n} patients (max {self.max_exact_patients} for the exact path), {pairs} "
                                     f"positive-negative pairs (max {self.max_exact_pairs}): the scalable path")
        if path == "scalable" and min(n_positive, n_negative) < 2:
            raise InputError("the scalable path needs at least 2 patients in each class")
        return path, why

    def estimator(self, random_state: int):
        """An unfitted classifier of this configuration, seeded."""
        if self.classifier == "svc":
            return platt_svc()
        return nystroem_svc(n_components=self.components, random_state=int(random_state))

    def describe_classifier(self) -> str:
        if self.classifier == "svc":
            return (f"CalibratedClassifierCV(SVC(C=1.0, kernel='rbf'), method='sigmoid', "
                    f"cv=StratifiedKFold(5), ensemble=False) on {self.aggregates} aggregates per "
                    f"training patient")
        return (f"Nystroem(rbf, gamma='scale' as SVC, {self.components} components, seeded) + "
                f"CalibratedClassifierCV(LinearSVC(C=1.0), method='sigmoid', cv=StratifiedKFold(2, "
                f"shuffle=True, seeded), ensemble=False) on {self.aggregates} aggregates per training patient")

    def settings(self) -> dict:
        return asdict(self)


def blas_threads(path: str):
    """One BLAS thread on the scalable path (a no-op on the exact one, which uses no BLAS to speak of).

    Its tasks run on ``n_jobs`` threads already; one BLAS thread each makes the
    numbers the same at any ``n_jobs`` and on any machine (a multi-threaded sgemm
    splits its sums differently) and avoids oversubscribing the cores.
    """
    return threadpool_limits(1, user_api="blas") if path == "scalable" else contextlib.nullcontext()


def scalable_iteration(cells, it_seed, train_p, test_p, aggregates, aggregate_size, threshold,
                       config: ScaleConfig, statistic: str = "median") -> dict:
    """One of the study's iterations (same split, same seed, same aggregates) with the scalable classifier.

    One ``RandomState(it_seed)`` stream, as in the study: ``aggregates`` per
    training patient, then per test patient, so every aggregate is the exact
    path's; the classifier trains on the first ``config.aggregates`` of each
    training patient's. Drawn and scored in chunks: memory stays bounded.
    """
    agg = BootstrapMedianAggregator(aggregates, aggregate_size, it_seed, normalize=True,
                                    statistic=statistic).fit()
    step = max(1, CHUNK_AGGREGATES // aggregates)
    keep = np.arange(aggregates) < config.aggregates
    A, y_A = [], []
    for codes in _chunks(cells.codes(train_p), step):
        a, y_a, _ = agg.resample(cells.X, cells.y, cells.owner, order=codes)
        mask = np.tile(keep, len(codes))
        A.append(a[mask])
        y_A.append(y_a[mask])
    model = config.estimator(it_seed).fit(np.concatenate(A), np.concatenate(y_A).astype(int))
    del A
    column = list(model.classes_).index(1)
    proba, owners = [], []
    for codes in _chunks(cells.codes(test_p), step):  # the same stream continues, as in the study
        a, _, own = agg.resample(cells.X, None, cells.owner, order=codes)
        proba.append(model.predict_proba(a)[:, column])
        owners.append(own.astype(int))
    y_te = cells.positive[np.concatenate(owners)]
    m = binary_metrics(y_te, np.concatenate(proba), threshold)
    return {"seed": int(it_seed), "train_patients": list(map(str, train_p)),
            "test_patients": list(map(str, test_p)), **m}


def _chunks(items: list, size: int):
    return [items[i:i + size] for i in range(0, len(items), size)]


def _fold_scores(A, y_A, owners, train, test, estimator) -> pd.Series:
    """Mean positive probability of each test patient, from a model fitted on the training patients."""
    if len(np.unique(y_A[train])) < 2:
        raise InputError("a training fold holds patients of one class only: use fewer folds")
    model = clone(estimator).fit(A[train], y_A[train])
    p = model.predict_proba(A[test])[:, list(model.classes_).index(1)]
    return pd.Series(p).groupby(owners[test], sort=False).mean()


def _pair_counts(scores: pd.Series, truth: dict) -> tuple[float, int]:
    """(pairs ranked the right way round, 0.5 per tie; pairs) among one fold's patients."""
    y = np.array([truth[p] for p in scores.index])
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return 0.0, 0
    ranks = rankdata(scores.to_numpy())
    return float(ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2), n_pos * n_neg


def _splits(A, y_A, owners, config: ScaleConfig, seed: int, repeats: int):
    """``(repeat, train rows, test rows)`` of ``repeats`` seeded stratified patient-grouped K-folds."""
    return [(r, train, test) for r in range(repeats)
            for train, test in StratifiedGroupKFold(config.folds, shuffle=True, random_state=seed + r)
            .split(A, y_A, owners)]


def _permuted_repeat_auc(A, owners, names, labels, config: ScaleConfig, seed: int) -> float:
    """Repeat 0 re-run from the split on, with these patient ``labels``: one draw of its AUC's null."""
    of = dict(zip(names, labels))
    y_A = np.array([of[o] for o in owners])
    s = pd.concat([_fold_scores(A, y_A, owners, train, test, config.estimator(seed))
                   for _, train, test in _splits(A, y_A, owners, config, seed, 1)])
    return binary_metrics(labels, s.reindex(names).to_numpy())["auc"]


def _p_value(A, owners, names, y_p, per_repeat, config: ScaleConfig, seed, progress, n_jobs):
    """``(p, how)``: refit permutations when ``config.permutations``, else labels permuted, scores fixed."""
    if not config.permutations:
        return (auc_permutation_p(y_p, per_repeat.mean(axis=0)),
                "labels permuted, scores fixed (as for leave-one-patient-out); approximate: cross-validated "
                "scores depend on the other patients' labels, which this ignores (docs/experiments.md)")
    rng = np.random.default_rng(seed)
    null = run_tasks((delayed(_permuted_repeat_auc)(A, owners, names, rng.permutation(y_p), config, seed)
                      for _ in range(config.permutations)), n_jobs, config.permutations,
                     "patient level, permutations", progress)
    repeat0 = binary_metrics(y_p, per_repeat[0])["auc"]
    p = (1 + sum(a >= repeat0 - 1e-12 for a in null)) / (1 + len(null))
    return p, (f"repeat 0's AUC against the same cross-validation re-run on {len(null)} seeded label "
               f"permutations (exact test of no association)")


def kfold_patient_level(A, y_A, owners, label_of: dict, *, positive: str, config: ScaleConfig,
                        seed: int = 4512, threshold: float = 0.5, progress: ProgressArg = None,
                        n_jobs: int = 1) -> dict:
    """Repeated stratified patient-grouped K-fold: one score per patient per repeat (module docstring).

    ``A, y_A, owners``: aggregates of every patient (``config.aggregates`` each),
    their labels and patients. Repeat ``r`` splits with
    ``StratifiedGroupKFold(folds, shuffle=True, random_state=seed + r)``.
    ``p_value``: see :func:`_p_value` and ``p_value_method``.
    """
    owners = np.asarray(owners).astype(str)
    y_A = np.asarray(y_A).astype(int)
    names = sorted(label_of)
    truth = {n: int(label_of[n] == positive) for n in names}
    if min(sum(truth.values()), len(names) - sum(truth.values())) < 2:
        raise InputError("the scalable path needs at least 2 patients in each class")
    splits = _splits(A, y_A, owners, config, seed, config.repeats)
    fitted = run_tasks((delayed(_fold_scores)(A, y_A, owners, train, test, config.estimator(seed + r))
                        for r, train, test in splits), n_jobs, len(splits),
                       f"patient level, {config.folds}-fold x {config.repeats}", progress)
    index = {n: i for i, n in enumerate(names)}
    per_repeat = np.full((config.repeats, len(names)), np.nan)
    pairs = np.zeros((config.repeats, 2))
    for (r, _, _), s in zip(splits, fitted):
        per_repeat[r, [index[p] for p in s.index]] = s.to_numpy()
        pairs[r] += _pair_counts(s, truth)
    y_p = np.array([truth[n] for n in names])
    scores = per_repeat.mean(axis=0)
    m = binary_metrics(y_p, scores, threshold)
    p, how = _p_value(A, owners, names, y_p, per_repeat, config, seed, progress, n_jobs)
    return {"method": f"repeated stratified patient-grouped {config.folds}-fold ({config.repeats} repeats)",
            "auc": m["auc"], "sensitivity": m["sensitivity"], "specificity": m["specificity"],
            "p_value": p, "p_value_method": how,
            "pair_auc": float(np.mean(pairs[:, 0] / pairs[:, 1])),
            "repeat_aucs": [binary_metrics(y_p, s, threshold)["auc"] for s in per_repeat],
            "n_positive": int(y_p.sum()), "n_negative": int((1 - y_p).sum()),
            "settings": {**config.settings(), "seed": seed,
                         "classifier_text": config.describe_classifier()},
            "scores": dict(zip(names, scores.tolist())), "groups": {n: str(label_of[n]) for n in names}}
