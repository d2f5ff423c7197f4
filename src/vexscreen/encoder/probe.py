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

from ..evaluation.knn import N_NEIGHBORS, N_SPLITS, half_splits, knn_split_scores


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
    if "SAMPLE" in meta.columns:
        splits, note = _sample_splits(meta, groups, n_splits, n_neighbors)
    else:
        note = "no SAMPLE column: cells split (stratified by group) instead of samples"
        stratify = groups if pd.Series(groups).value_counts().min() >= 2 else None
        splits = half_splits(len(X), stratify=stratify, n_splits=n_splits)
    accs = knn_split_scores(X, groups, splits, n_neighbors=n_neighbors, scoring="accuracy")
    if not accs:
        return float("nan"), (note + "; " if note else "") + "no usable split"
    return float(np.mean(accs)), note


def _sample_splits(meta: pd.DataFrame, groups: np.ndarray, n_splits: int, n_neighbors: int):
    """Half splits of the samples (seed i), as cell indices ``(train, test)``; and a note on fallbacks.

    A split leaving fewer than ``n_neighbors`` training cells or no test cell is skipped.
    """
    # a sample is identified by its group/patient/sample path
    keys = (meta["GROUP"].astype(str) + "/" + meta.get("PATIENT", "").astype(str) + "/"
            + meta["SAMPLE"].astype(str)).to_numpy()
    samples, first = np.unique(keys, return_index=True)
    counts = pd.Series(groups[first]).value_counts()
    stratify = groups[first] if counts.min() >= 2 else None
    note = "" if stratify is not None else (
        f"group(s) {sorted(counts[counts < 2].index)} have fewer than 2 samples: sample split not stratified")
    splits = []
    for seed in range(n_splits):
        try:
            train_s, _ = train_test_split(samples, train_size=0.5, random_state=seed, shuffle=True,
                                          stratify=stratify)
        except ValueError:  # too few samples per group for an exact half
            train_s, _ = train_test_split(samples, train_size=0.5, random_state=seed, shuffle=True)
            note = note or "sample split not stratified (too few samples for stratified halves)"
        train = np.isin(keys, train_s)
        if train.sum() >= n_neighbors and (~train).any():
            splits.append((np.flatnonzero(train), np.flatnonzero(~train)))
    return splits, note
