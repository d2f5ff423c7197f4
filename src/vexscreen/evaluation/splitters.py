"""Patient-stratified splitters: no patient is ever on both sides of a split."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ..exceptions import InputError


def patient_table(y, groups) -> pd.DataFrame:
    """One row per patient (order of first appearance) with its label; error if a patient has two."""
    frame = pd.DataFrame({"patient": np.asarray(groups), "label": np.asarray(y)})
    labels = frame.groupby("patient", sort=False)["label"].agg(["first", "nunique"])
    mixed = labels.index[labels["nunique"] > 1].tolist()
    if mixed:
        raise InputError(f"patient(s) {mixed[:5]} belong to more than one group")
    return pd.DataFrame({"patient": labels.index.to_numpy(), "label": labels["first"].to_numpy()})


def study_resample(items, n_samples: float, stratify, random_state):
    """Stratified sampling without replacement, as ``sklearn.utils.resample`` did in 0.24.

    The study called ``resample(patients, replace=False, n_samples=len(patients) * 0.5,
    stratify=groups, random_state=seed)``: a *float* ``n_samples`` (4.5 for 9
    patients), which scikit-learn >= 1.2 refuses. This keeps the study's exact
    arithmetic and random-number consumption (same draws as the current
    ``resample`` whenever ``n_samples`` is a whole number; a test checks it).
    """
    items = np.asarray(items)
    rng = check_random_state(random_state)
    classes, y_idx = np.unique(np.asarray(stratify), return_inverse=True)
    counts = np.bincount(y_idx)
    class_indices = np.split(np.argsort(y_idx, kind="mergesort"), np.cumsum(counts)[:-1])
    # the "approximate mode" of the multivariate hypergeometric, ties broken at random
    continuous = counts / counts.sum() * n_samples
    floored = np.floor(continuous)
    need = int(n_samples - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need -= add_now
            if need == 0:
                break
    n_i = floored.astype(int)
    chosen = []
    for i in range(len(classes)):
        chosen.extend(rng.choice(class_indices[i], n_i[i], replace=False))
    return items[rng.permutation(chosen)]


class StratifiedPatientSplit:
    """Repeated patient-level train/test partitions, stratified by group (METHOD.md Step 2b).

    Split ``n`` uses seed ``random_state + n``: the patients (order of first
    appearance) are sampled by :func:`study_resample` with
    ``n_samples = train_size * n_patients``; the others, sorted (the study used
    ``np.setdiff1d``), are the test set. ``split(X, y, groups)`` yields cell
    indices ``(train, test)`` like scikit-learn's group splitters;
    ``split_patients(y, groups)`` yields ``(seed, train_ids, test_ids)``.
    """

    def __init__(self, n_splits: int = 10, train_size: float = 0.5, random_state: int = 4512):
        self.n_splits = n_splits
        self.train_size = train_size
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split_patients(self, y, groups):
        table = patient_table(y, groups)
        patients = table["patient"].to_numpy()
        n_train = self.train_size * len(patients)
        if not 1 <= int(n_train) < len(patients):
            raise InputError(f"train fraction {self.train_size} leaves no patient on one side "
                             f"({len(patients)} patients)")
        for n in range(self.n_splits):
            seed = self.random_state + n
            train = study_resample(patients, n_train, table["label"].to_numpy(), seed)
            test = np.setdiff1d(patients, train)
            yield seed, train.tolist(), test.tolist()

    def split(self, X, y, groups):
        groups = np.asarray(groups)
        for _, train, test in self.split_patients(y, groups):
            yield np.flatnonzero(np.isin(groups, train)), np.flatnonzero(np.isin(groups, test))
