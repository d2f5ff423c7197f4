"""Is a new patient like the reference patients? A conformal check of where the model applies.

A model knows only the cells of its reference cohort: one lab's scanner, stain and
magnification. Cells from elsewhere (another analyser, another stain, another pixel
size) still get a probability, and nothing in the probability says it extrapolates.
This check says so, with a false-alarm rate that holds by construction.

Per cell type, a patient is summarised by the mean of its cells' features, in the
model's own feature space (each block L2-normalised, as the classifier sees them).
Its *distance* to the reference is, per block, the root mean square over features of
its z-score against the reference patients' mean. The z-score's variance is what a
patient of ``k`` cells drawn like the reference's would show (a random-effects view):
the variance between patients (their means' variance less the part their own cell
sampling explains, at least 0), plus the cell sampling noise of ``k`` cells (the
pooled within-patient variance / ``k``), plus the uncertainty of the reference mean;
so a patient with few cells, or a reference patient with few, is not called atypical
for its noise alone. A standard deviation is floored at ``SD_FLOOR`` x the block's
median sd of patient means, so a feature on which the reference patients happen to
agree does not dominate. Blocks are averaged (each weighs the same, as in the
classifier), and the patient's distance is the largest over its assessable types.

Each reference patient's distance is computed against the *other* reference patients
(leave one out), as a new patient's is against all of them. The conformal p-value is
p = (1 + number of reference patients at least as distant) / (n + 1) (Vovk, Gammerman
and Shafer, *Algorithmic learning in a random world*, 2005): for a new patient
exchangeable with the reference ones, p <= a happens with probability at most about a.
A patient is flagged when p <= max(``ALPHA``, 1 / (n + 1)): with a reference of fewer
than 19 patients, when it is further than every reference patient, which happens to
1 / (n + 1) of patients like the reference's (1 in 13 for the demo's 12).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

METHOD = ("conformal (leave one reference patient out): per cell type, the patient's mean cell, "
          "root mean square z-score against the reference patients per feature block (variance "
          "between patients + cell sampling noise), blocks averaged; the largest over the assessable "
          "cell types")
ALPHA = 0.05
SD_FLOOR = 0.1
MIN_PATIENTS = 3


def fit_profile(X: np.ndarray, patients, block_dims) -> dict | None:
    """The reference of one cell type: per block, the patients' mean, the variance of their means,
    the variance between patients and within them (per feature), and each patient's leave-one-out
    distance. ``block_dims``: the columns of each block in ``X``, as (start, stop). None with
    fewer than ``MIN_PATIENTS`` patients (no variance left once one is left out)."""
    names, V, counts, within = _patient_means(X, patients)
    if len(names) < MIN_PATIENTS:
        return None
    inv = 1.0 / counts
    blocks, loo = [], np.zeros(len(names))
    for start, stop in block_dims:
        B, w = V[:, start:stop], within[start:stop]
        var = B.var(axis=0, ddof=1)
        floor = _floor(var)
        tau2 = np.clip(var - w * inv.mean(), 0.0, None)
        blocks.append({"start": int(start), "stop": int(stop), "n": len(names), "mean": B.mean(axis=0).tolist(),
                       "var": var.tolist(), "tau2": tau2.tolist(), "within": w.tolist(), "floor": floor})
        loo += _leave_one_out(B, w, counts, floor)
    loo /= len(block_dims)
    return {"blocks": blocks, "loo": dict(zip(names, loo.tolist())),
            "n_cells": dict(zip(names, counts.astype(int).tolist()))}


def _patient_means(X: np.ndarray, patients):
    """(names in order of appearance, means, cells per patient, pooled within-patient variance)."""
    patients = np.asarray(patients).astype(str)
    codes, names = pd.factorize(pd.Series(patients), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(names)))]
    V = np.zeros((len(names), X.shape[1]))
    ss = np.zeros(X.shape[1])
    for i in range(len(names)):
        rows = np.asarray(X[order[bounds[i]:bounds[i + 1]]], dtype=np.float64)
        V[i] = rows.mean(axis=0)
        ss += ((rows - V[i]) ** 2).sum(axis=0)
    counts = np.diff(bounds).astype(float)
    within = ss / max(len(X) - len(names), 1)
    return [str(n) for n in names], V, counts, within


def _floor(var: np.ndarray) -> float:
    med = float(np.median(np.sqrt(var))) if var.size else 0.0
    return SD_FLOOR * med if med > 0 else 1e-12


def _leave_one_out(B: np.ndarray, w: np.ndarray, counts: np.ndarray, floor: float) -> np.ndarray:
    """Each patient's RMS z-score against the others (module doc), in closed form."""
    n = len(B)
    S, Q = B.sum(axis=0), (B ** 2).sum(axis=0)
    mean = (S - B) / (n - 1)
    var = np.clip((Q - B ** 2 - (n - 1) * mean ** 2) / (n - 2), 0.0, None)
    inv = 1.0 / counts
    noise_others = (inv.sum() - inv) / (n - 1)
    tau2 = np.clip(var - w[None, :] * noise_others[:, None], 0.0, None)
    sd = np.maximum(np.sqrt(tau2 + w[None, :] / counts[:, None] + var / (n - 1)), floor)
    return np.sqrt(np.mean(((B - mean) / sd) ** 2, axis=1))


def distance(profile: dict, mean_cell: np.ndarray, n_cells: int) -> float:
    """A patient's distance to the reference of one cell type (its mean cell over ``n_cells`` cells)."""
    v = np.asarray(mean_cell, dtype=np.float64)
    per_block = []
    for b in profile["blocks"]:
        tau2, w, var = (np.asarray(b[k]) for k in ("tau2", "within", "var"))
        sd = np.maximum(np.sqrt(tau2 + w / max(int(n_cells), 1) + var / b["n"]), b["floor"])
        per_block.append(np.sqrt(np.mean(((v[b["start"]:b["stop"]] - np.asarray(b["mean"])) / sd) ** 2)))
    return float(np.mean(per_block))


def assess(profiles: dict, mean_cells: dict, n_cells: dict, alpha: float = ALPHA) -> dict | None:
    """Where a new patient stands against the reference patients.

    ``profiles``: ``{cell type: fit_profile(...)}`` (the model's ``applicability_``);
    ``mean_cells``: ``{cell type: the patient's mean cell}`` of its assessable types, and
    ``n_cells``: ``{cell type: its cells}``.
    Returns ``{"method", "distance", "p_value", "flagged", "alpha", "n_reference",
    "reference_range", "cell_types"}``; None when no type can be checked.
    """
    types = [ct for ct in mean_cells if (profiles or {}).get(ct)]
    if not types:
        return None
    per_type = {ct: distance(profiles[ct], mean_cells[ct], n_cells[ct]) for ct in types}
    d = max(per_type.values())
    scores = np.array(sorted(reference_distances(profiles, types).values()))
    n = len(scores)
    p_value = (1 + int(np.sum(scores >= d))) / (n + 1)
    return {"method": METHOD, "distance": d, "p_value": p_value,
            "flagged": bool(p_value <= flag_level(n, alpha)), "alpha": alpha, "n_reference": n,
            "reference_range": [float(scores[0]), float(scores[-1])], "cell_types": per_type}


def reference_distances(profiles: dict, types=None) -> dict[str, float]:
    """Each reference patient's leave-one-out distance, the largest over ``types`` (default: all
    types with a profile), as a new patient's is the largest over its assessable types."""
    out = {}
    for ct in (types if types is not None else list(profiles or {})):
        for p, s in ((profiles or {}).get(ct) or {}).get("loo", {}).items():
            out[p] = max(out.get(p, -np.inf), float(s))
    return out


def flag_level(n_reference: int, alpha: float = ALPHA) -> float:
    """The p-value at or under which a patient is flagged: ``alpha``, or ``1 / (n + 1)`` (further
    than every reference patient) when the reference is too small for ``alpha``; also the rate at
    which patients like the reference's are flagged by chance."""
    return max(alpha, 1.0 / (n_reference + 1))


def furthest_measurements(measurements: dict, patient_values: dict, k: int = 3) -> list[dict]:
    """The ``k`` measurements where the patient lies furthest from the reference patients.

    ``measurements``: ``{cell type: model.measurements_[ct]["reference"]}`` (per measure, the
    reference patients' values); ``patient_values``: ``{cell type: {measure: value}}``. Each
    entry: cell type, measure, unit, the patient's value, the reference patients' [lowest,
    highest] and the z-score against them (reference patients' mean and sd).
    """
    out = []
    for ct, ref in measurements.items():
        mine = patient_values.get(ct) or {}
        for name, entry in (ref or {}).items():
            xs = np.array([v for v in entry.get("patients", {}).values() if v is not None], dtype=float)
            v = mine.get(name)
            if v is None or xs.size < 2 or not np.isfinite(v):
                continue
            sd = xs.std(ddof=1)
            if sd <= 0:
                continue
            out.append({"cell_type": ct, "name": name, "unit": entry.get("unit", ""), "patient": float(v),
                        "reference": [float(xs.min()), float(xs.max())], "z": float((v - xs.mean()) / sd)})
    return sorted(out, key=lambda m: -abs(m["z"]))[:k]
