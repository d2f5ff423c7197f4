"""Feature recovery: what an encoder's encodings hold of each morphology feature a phantom drew.

The group comparisons of Step 2b say *whether* an encoder separates patients;
feature recovery says *why not* when it doesn't. For each feature the phantom drew
(truth.csv), within the one group that carries it (so the group's other
features cannot stand in for it), a logistic regression on the standardised
encodings predicts "this cell has the feature" with folds grouped by patient
(no patient in both train and test); the score is the mean over the folds of
the ROC-AUC within each held-out fold. (Pooling the out-of-fold scores instead
is biased below 0.5 with few patients, like leave-one-patient-out: each fold's
intercept shifts against its held-out patients' prevalence.) 0.5 = the
encodings hold nothing of the feature.

Features: neutrophil vacuoles (VEXAS), pseudo-Pelger nuclei and hypogranulation
(MDS), toxic granulation (UBA1-WT); monocyte vacuoles (VEXAS); lymphocyte size
and blebs (all groups).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..exceptions import InputError

#: cell type -> [(feature, group that carries it or None for all, truth row -> bool)]
FEATURES = {
    "PN": [("vacuoles", "VEXAS", lambda t: t["n_vacuoles_drawn"] > 0),
           ("pseudo-Pelger nucleus", "MDS", lambda t: t["nucleus_shape"] == "pelger"),
           ("hypogranular", "MDS", lambda t: t["granulation"].isin(["none", "low"])),
           ("toxic granulation", "UBA1-WT", lambda t: t["granulation"] == "high")],
    "MO": [("vacuoles", "VEXAS", lambda t: t["n_vacuoles_drawn"] > 0)],
    "LY": [("large", None, lambda t: t["large"].astype(str) == "True"),
           ("blebs", None, lambda t: t["blebs"] > 0)],
}
MIN_POSITIVES = 8  # fewer cells with (or without) the feature: no score


def _truth_for(meta: pd.DataFrame, truth: pd.DataFrame, cell_type: str) -> pd.DataFrame:
    """truth rows in the order of the encodings (metadata IMAGE = path under the cell-type folder)."""
    t = truth[(truth["set"] == "cohort") & (truth["cell_type"] == cell_type)].copy()
    t["IMAGE"] = t["path"].str.slice(len(cell_type) + 1)
    t = t.set_index("IMAGE")
    missing = ~meta["IMAGE"].isin(t.index)
    if missing.any():
        raise InputError(f"{int(missing.sum())} encoded image(s) not in truth.csv, e.g. "
                         f"{meta['IMAGE'][missing].iloc[0]!r}: encodings and phantom do not match")
    return t.loc[meta["IMAGE"].to_numpy()].reset_index()


def feature_recovery(X: np.ndarray, meta: pd.DataFrame, truth: pd.DataFrame, cell_type: str,
                     n_splits: int = 5) -> list[dict]:
    """One row per feature of ``cell_type``: group, cells, positives, patients, mean within-fold
    AUC (None, with a ``note``, when there are too few cells or patients to score)."""
    X = np.asarray(X, dtype=np.float64)
    if len(X) != len(meta):
        raise InputError(f"{len(X)} encodings for {len(meta)} metadata rows")
    t = _truth_for(meta, truth, cell_type)
    rows = []
    for name, group, has in FEATURES.get(cell_type, []):
        keep = np.ones(len(t), bool) if group is None else (t["group"] == group).to_numpy()
        y = has(t).to_numpy()[keep].astype(int)
        patients = t["patient"].to_numpy()[keep]
        row = {"cell_type": cell_type, "feature": name, "group": group or "all", "cells": int(keep.sum()),
               "positives": int(y.sum()), "patients": int(len(set(patients))), "auc": None}
        k = min(n_splits, len(set(patients)))
        if min(y.sum(), len(y) - y.sum()) < MIN_POSITIVES or k < 2:
            row["note"] = "too few cells with/without the feature, or patients, to score"
            rows.append(row)
            continue
        aucs = []
        Xk = X[keep]
        for tr, te in StratifiedGroupKFold(n_splits=k, shuffle=False).split(Xk, y, patients):
            if len(set(y[tr])) < 2 or len(set(y[te])) < 2:
                continue
            model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
            model.fit(Xk[tr], y[tr])
            aucs.append(roc_auc_score(y[te], model.decision_function(Xk[te])))
        row["folds"] = len(aucs)
        if aucs:
            row["auc"] = float(np.mean(aucs))
        else:
            row["note"] = "no fold with cells both with and without the feature"
        rows.append(row)
    return rows


def phantom_feature_recovery(phantom_dir, enc_dirs: dict) -> list[dict]:
    """:func:`feature_recovery` for every cell type of a phantom folder, from its truth.csv and the
    encodings in ``enc_dirs`` ({cell type: encodings folder}); [] when there is no truth.csv
    (a folder of real images)."""
    from ..data import load_encodings
    from .cohort import read_truth

    if not (Path(phantom_dir) / "truth.csv").is_file():
        return []
    truth = read_truth(phantom_dir)
    rows = []
    for ct, d in enc_dirs.items():
        enc = load_encodings(d)
        rows += feature_recovery(enc.X, enc.meta, truth, ct)
    return rows
