"""Result files: the one writer of encoder-consistency outputs (METHOD.md Step 2a).

``vexscreen consistency``, the pipeline (phantom encoder-test cells) and the demo (the
study's published encodings) all write their matrices here, in the same form.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.atomic import write_csv, write_json
from .tables import matrix_to_json


def consistency_record(order, M, low=None, high=None) -> dict:
    """The JSON form of a consistency matrix: ``{"groups": order, "auc": M}``, cells not computed
    (lower triangle, diagonal) as null; with a 95% CI also ``"auc_low"`` and ``"auc_high"``."""
    order = list(order)
    k = len(order)
    if (low is None) != (high is None):
        raise ValueError("a confidence interval needs both low and high")
    for name, a in (("M", M), ("low", low), ("high", high)):
        if a is not None and np.shape(a) != (k, k):
            raise ValueError(f"{name} has shape {np.shape(a)}, expected ({k}, {k}) for {k} groups")
    record = {"groups": order, "auc": matrix_to_json(M)}
    if low is not None:
        record["auc_low"] = matrix_to_json(low)
        record["auc_high"] = matrix_to_json(high)
    return record


def write_consistency(folder, order, M, *, name: str = "consistency", low=None, high=None) -> list[Path]:
    """Write ``FOLDER/NAME.json`` (:func:`consistency_record`) and ``FOLDER/NAME.csv`` (a GROUP
    column, then the AUC matrix, one column per group; empty = not computed). Given a CI
    (``low``, ``high``), also ``FOLDER/NAME_ci.csv``: one row per computed pair, columns
    GROUP_A, GROUP_B, AUC, AUC_LOW, AUC_HIGH. Every file is written atomically; returns the paths."""
    folder = Path(folder)
    record = consistency_record(order, M, low, high)
    order = record["groups"]
    paths = [write_json(folder / f"{name}.json", record)]
    frame = pd.DataFrame(np.asarray(M, dtype=float), columns=order)
    frame.insert(0, "GROUP", order)
    paths.append(write_csv(folder / f"{name}.csv", frame))
    if low is not None:
        M, low, high = (np.asarray(a, dtype=float) for a in (M, low, high))
        pairs = [(order[i], order[j], M[i, j], low[i, j], high[i, j])
                 for i in range(len(order)) for j in range(len(order)) if not np.isnan(M[i, j])]
        ci = pd.DataFrame(pairs, columns=["GROUP_A", "GROUP_B", "AUC", "AUC_LOW", "AUC_HIGH"])
        paths.append(write_csv(folder / f"{name}_ci.csv", ci))
    return paths
