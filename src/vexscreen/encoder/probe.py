"""The study's per-epoch probe (METHOD.md Step 1).

Encodings at full size, L2-normalised; 10 times (seed i = 0..9): split the
*samples* (smears) into halves stratified by group, fit a 5-nearest-neighbour
classifier on the cells of one half, score accuracy on the cells of the other;
the probe accuracy is the mean over the 10 splits.

Fallbacks, reported in ``note`` (never silent): if a group has fewer than 2
samples the sample split cannot be stratified and is made unstratified; if the
metadata has no SAMPLE column (encoder-test or flat layout) cells are split
instead of samples, stratified by group.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

N_SPLITS = 10
N_NEIGHBORS = 5


def l2_normalise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms == 0, 1.0, norms)


def probe_accuracy(X: np.ndarray, meta: pd.DataFrame, n_splits: int = N_SPLITS,
                   n_neighbors: int = N_NEIGHBORS) -> tuple[float, str]:
    """Mean 5-NN accuracy over ``n_splits`` half splits; returns (accuracy, note)."""
    X = l2_normalise(X)
    groups = meta["GROUP"].astype(str).to_numpy()
    if len(set(groups)) < 2:
        return float("nan"), "probe needs at least 2 groups"
    note = ""
    accs = []
    if "SAMPLE" in meta.columns:
        # a sample is identified by its group/patient/sample path
        keys = meta["GROUP"].astype(str) + "/" + meta.get("PATIENT", "").astype(str) + "/" + meta["SAMPLE"].astype(str)
        keys = keys.to_numpy()
        samples, first = np.unique(keys, return_index=True)
        sample_group = groups[first]
        counts = pd.Series(sample_group).value_counts()
        stratify = sample_group if counts.min() >= 2 else None
        if stratify is None:
            note = (f"group(s) {sorted(counts[counts < 2].index)} have fewer than 2 samples: "
                    "sample split not stratified")
        for seed in range(n_splits):
            try:
                train_s, _ = train_test_split(samples, train_size=0.5, random_state=seed, shuffle=True,
                                              stratify=stratify)
            except ValueError:  # too few samples per group for an exact half
                train_s, _ = train_test_split(samples, train_size=0.5, random_state=seed, shuffle=True)
                note = note or "sample split not stratified (too few samples for stratified halves)"
            train = np.isin(keys, train_s)
            test = ~train
            if len(set(groups[train])) < 1 or train.sum() < n_neighbors or test.sum() == 0:
                continue
            knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, int(train.sum())))
            knn.fit(X[train], groups[train])
            accs.append(float((knn.predict(X[test]) == groups[test]).mean()))
    else:
        note = "no SAMPLE column: cells split (stratified by group) instead of samples"
        idx = np.arange(len(X))
        counts = pd.Series(groups).value_counts()
        stratify = groups if counts.min() >= 2 else None
        for seed in range(n_splits):
            train, test = train_test_split(idx, train_size=0.5, random_state=seed, shuffle=True, stratify=stratify)
            knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(train)))
            knn.fit(X[train], groups[train])
            accs.append(float((knn.predict(X[test]) == groups[test]).mean()))
    if not accs:
        return float("nan"), (note + "; " if note else "") + "no usable split"
    return float(np.mean(accs)), note
