"""How many cells a patient needs: the spread of a screening score against the number of cells.

The measurement behind ``min_cells`` (docs/screening.md). A patient's smear gives
some number ``n`` of cells of a type; the score the model gives depends on which
``n`` cells were captured. For held-out patients with many cells, draw ``n`` of
their cells (without replacement) many times, score each draw exactly as
screening does (mean positive probability over the bootstrapped-median
aggregates), and report, per ``n``: the standard deviation of the score, and how
often the draw's verdict agrees with the verdict on all the patient's cells.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..aggregation import BootstrapMedianAggregator
from .reference import ReferenceModel

SIZES = (5, 10, 15, 20, 30, 50, 100, 200)


def draw_scores(model, ct: str, X: np.ndarray, n: int, repeats: int, seed: int) -> np.ndarray:
    """Scores of ``repeats`` random subsets of ``n`` cells of one patient (aggregates redrawn each time)."""
    rng = np.random.RandomState(seed)
    agg = BootstrapMedianAggregator(int(model.n_aggregates), int(model.aggregate_size), rng,
                                    statistic=model.statistic)
    owner = np.zeros(n, dtype=int)
    out = np.empty(repeats)
    for r in range(repeats):
        cells = X[rng.choice(len(X), size=n, replace=False)]
        out[r] = model.score_cells(ct, agg.fit_resample(cells, None, owner)[0]).mean()
    return out


def score_spread(model, ct: str, patients: dict, sizes=SIZES, repeats: int = 40, seed: int = 0) -> pd.DataFrame:
    """One row per (patient, n): sd, mean |score - full score|, verdict agreement with all cells.

    ``patients``: ``{patient: X}`` (L2-normalised features of each held-out patient's cells).
    """
    rows = []
    for k, (patient, X) in enumerate(patients.items()):
        full = draw_scores(model, ct, X, len(X), 1, seed + 10_000 + k)[0]
        for n in sizes:
            if n > len(X):
                continue
            s = draw_scores(model, ct, X, n, repeats, seed + 100 * k + n)
            agree = np.mean((s >= model.threshold) == (full >= model.threshold))
            rows.append({"patient": patient, "n": n, "full_score": full, "sd": float(s.std(ddof=1)),
                         "mean_abs_dev": float(np.mean(np.abs(s - full))), "verdict_agreement": float(agree)})
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per n: median and largest sd over patients, and the pooled verdict agreement."""
    g = table.groupby("n")
    return pd.DataFrame({"median_sd": g["sd"].median(), "max_sd": g["sd"].max(),
                         "mean_abs_dev": g["mean_abs_dev"].mean(),
                         "verdict_agreement": g["verdict_agreement"].mean()}).reset_index()


#: share of a patient's cells carrying the VEXAS feature (vacuoles), as the phantom draws them
#: (vexscreen.phantom.phenotypes: VEXAS 20-60 % of neutrophils, other patients about 2 %)
FRACTIONS = {"VEXAS": (0.2, 0.6), "UBA1-WT": (0.02, 0.02)}


def planted_mixture(enc, strength: float, seed: int):
    """Add the signal to a *fraction* of each patient's cells (drawn per patient from FRACTIONS).

    Real VEXAS smears are mixtures: some neutrophils vacuolated, most not; a score
    on n cells then varies with how many feature-carrying cells the n happen to hold.
    """
    rng = np.random.default_rng([seed, 7])
    direction = rng.normal(size=enc.X.shape[1])
    direction /= np.linalg.norm(direction)
    X = enc.X.copy()
    patients = enc.meta["PATIENT"].to_numpy()
    groups = enc.meta["GROUP"].to_numpy()
    for p in dict.fromkeys(patients):
        rows = np.nonzero(patients == p)[0]
        lo, hi = FRACTIONS[groups[rows[0]]]
        carriers = rows[rng.random(len(rows)) < rng.uniform(lo, hi)]
        X[carriers] += strength * direction
    return type(enc)(X.astype(np.float32), enc.meta, enc.source, enc.required)


def synthetic_study(*, signal: float = 1.0, mixture: bool = True, dim: int = 64, held_out: int = 4,
                    held_out_cells: int = 500, sizes=SIZES, repeats: int = 40, seed: int = 0,
                    model_params: dict | None = None) -> dict:
    """The measurement on synthetic encodings (vexscreen.data.synthetic) with the study's cohort.

    Reference: the study's UBA1-WT and VEXAS neutrophil patients with their real cell
    counts (study_structure). Held out: ``held_out`` more patients per class from the
    same generator (same signal direction), ``held_out_cells`` cells each. ``mixture``:
    the signal is carried by a fraction of each patient's cells (:func:`planted_mixture`),
    else every cell of a VEXAS patient is shifted. Returns the per-patient table, its
    summary and the reference's leave-one-patient-out AUC.
    """
    from sklearn.preprocessing import normalize

    from ..data.synthetic import synthetic_encodings
    from ..study import study_structure

    ref = study_structure("PN")
    ref = ref[ref["GROUP"].isin(["UBA1-WT", "VEXAS"])][["GROUP", "PATIENT", "SAMPLE", "N_CELLS"]]
    extra = pd.DataFrame([{"GROUP": g, "PATIENT": f"held-out {g}[{i}]", "SAMPLE": f"h{g}{i}",
                           "N_CELLS": held_out_cells} for g in ("UBA1-WT", "VEXAS") for i in range(held_out)])
    structure = pd.concat([ref, extra])
    if mixture:
        enc = planted_mixture(synthetic_encodings(structure, dim=dim, signal=0.0, seed=seed), signal, seed)
    else:
        enc = synthetic_encodings(structure, dim=dim, signal=signal, seed=seed)
    held = enc.meta["PATIENT"].str.startswith("held-out").to_numpy()
    model = ReferenceModel(cell_types=("PN",), **(model_params or {})).fit({"PN": enc.subset(~held)})
    X = normalize(enc.X[held], norm="l2")
    owners = enc.meta["PATIENT"].to_numpy()[held]
    patients = {p: X[owners == p] for p in dict.fromkeys(owners)}
    table = score_spread(model, "PN", patients, sizes, repeats, seed)
    return {"table": table, "summary": summarise(table), "reference_auc": model.reference_["patient_level"]["auc"],
            "signal": signal, "mixture": mixture}
