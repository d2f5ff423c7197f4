"""The measurements a haematologist reads, per patient and per group (issue 11, item 3).

From ``measurements.csv`` (written by :func:`vexscreen.morphology.measure_scan`): for
each patient of the compared groups, the fraction of measured cells with at least one
vacuole, the mean nuclear lobe count and the fraction of pseudo-Pelger nuclei; per
group, the mean and range of those patient values; per measurement, the AUC of the
patient values for the positive group (the last) against the others and its exact
permutation p-value (:func:`.metrics.auc_permutation_p`), one value per patient as in
evaluate's leave-one-patient-out. Only cells flagged ``ok`` are counted in a fraction.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..exceptions import InputError
from .metrics import auc_permutation_p

#: (column of the table, measurement column, how a cell's value is read, what it says)
PATIENT_MEASURES = (
    ("vacuolated_fraction", "vacuole_count", lambda v: (v >= 1).astype(float),
     "fraction of measured cells with >= 1 vacuole"),
    ("mean_lobes", "nucleus_lobes", lambda v: v, "mean nuclear lobe count"),
    ("pseudo_pelger_fraction", "pseudo_pelger", lambda v: (v >= 0.5).astype(float),
     "fraction of measured cells with a pseudo-Pelger nucleus"),
)
MEASURE_NAMES = tuple(m[0] for m in PATIENT_MEASURES)

#: the measures that mean something per cell type: lobes and pseudo-Pelger nuclei are read on
#: neutrophils (a monocyte's or a lymphocyte's round nucleus is not "pseudo-Pelger")
MEASURES_BY_CELL_TYPE = {"PN": MEASURE_NAMES, "MO": ("vacuolated_fraction",), "LY": ("vacuolated_fraction",)}


def _patient_rows(table: pd.DataFrame) -> pd.DataFrame:
    ok = (table["quality"].astype(str) == "ok").to_numpy()
    rows = []
    for (group, patient), sub in table.groupby(["GROUP", "PATIENT"], sort=True):
        good = sub[ok[sub.index]]
        row = {"level": "patient", "GROUP": group, "PATIENT": patient, "n_cells": len(sub),
               "n_measured": len(good)}
        for name, column, read, _ in PATIENT_MEASURES:
            values = read(pd.to_numeric(good[column], errors="coerce").to_numpy(float))
            row[name] = float(np.mean(values)) if len(values) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _group_rows(patients: pd.DataFrame, classes: Sequence[str]) -> list[dict]:
    rows = []
    for c in classes:
        sub = patients[patients["GROUP"] == c]
        row = {"level": "group", "GROUP": c, "PATIENT": f"{len(sub)} patients",
               "n_cells": int(sub["n_cells"].sum()), "n_measured": int(sub["n_measured"].sum())}
        for name in MEASURE_NAMES:
            row[name] = float(sub[name].mean()) if sub[name].notna().any() else np.nan
            row[f"{name}_min"] = float(sub[name].min()) if sub[name].notna().any() else np.nan
            row[f"{name}_max"] = float(sub[name].max()) if sub[name].notna().any() else np.nan
        rows.append(row)
    return rows


def patient_tests(patients: pd.DataFrame, positive: str) -> dict:
    """Per measurement: patient-level AUC of ``positive`` vs the rest and its exact one-sided p-value.

    The p-value is for the positive group scoring higher (an AUC below 0.5 means lower:
    e.g. fewer lobes); patients without a measured cell are left out.
    """
    out = {}
    for name in MEASURE_NAMES:
        sub = patients[patients[name].notna()]
        y = (sub["GROUP"] == positive).to_numpy()
        if y.all() or not y.any():
            out[name] = {"auc": None, "p_value": None, "n_positive": int(y.sum()), "n_negative": int((~y).sum())}
            continue
        s = sub[name].to_numpy(float)
        out[name] = {"auc": float(roc_auc_score(y, s)), "p_value": auc_permutation_p(y, s),
                     "n_positive": int(y.sum()), "n_negative": int((~y).sum())}
    return out


#: the identifying columns of measurements.csv, read as text (a patient "007" stays "007")
ID_COLUMNS = ("PATIENT", "SAMPLE", "GROUP", "IMAGE")


def read_measurements(path) -> pd.DataFrame:
    """``measurements.csv`` (``path``: the file, or the folder ``measure`` wrote), its identifying
    columns as text; a file that is not a CSV is an InputError naming it."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        path = path / "measurements.csv"
    try:
        return pd.read_csv(path, dtype={c: str for c in ID_COLUMNS})
    except Exception as exc:  # noqa: BLE001 - any read or parse failure is bad input
        raise InputError(f"cannot read as CSV ({exc})", path) from None


def measurements_by_patient(table: pd.DataFrame, classes: Sequence[str], source=None,
                            measures: Sequence[str] = MEASURE_NAMES) -> dict:
    """Per-patient and per-group measurement table of ``classes`` (last = positive), with tests.

    ``table``: measurements.csv as read (``PATIENT``, ``GROUP``, ``quality`` and the
    measurement columns). Returns ``{"table": DataFrame (patient rows, then group rows),
    "tests": {measure: {"auc", "p_value", ...}}, "positive": str, "measures": {name: meaning}}``.
    ``measures``: those shown and tested, of :data:`MEASURE_NAMES` (per cell type:
    :data:`MEASURES_BY_CELL_TYPE`).
    """
    classes = list(classes)
    need = ["PATIENT", "GROUP", "quality"] + [m[1] for m in PATIENT_MEASURES]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise InputError(f"measurements table lacks column(s) {missing} (is it measure's measurements.csv "
                         "of a labeled scan?)", source)
    absent = [c for c in classes if c not in set(table["GROUP"].astype(str))]
    if absent:
        raise InputError(f"group(s) {absent} not in the measurements", source)
    sub = table[table["GROUP"].astype(str).isin(classes)].reset_index(drop=True)
    patients = _patient_rows(sub)
    patients["_order"] = patients["GROUP"].map({c: i for i, c in enumerate(classes)})
    patients = patients.sort_values(["_order", "PATIENT"]).drop(columns="_order").reset_index(drop=True)
    unknown = [m for m in measures if m not in MEASURE_NAMES]
    if unknown:
        raise InputError(f"unknown measure(s) {unknown}; choose from {', '.join(MEASURE_NAMES)}")
    tests = {m: t for m, t in patient_tests(patients, classes[-1]).items() if m in measures}
    frame = pd.concat([patients, pd.DataFrame(_group_rows(patients, classes))], ignore_index=True)
    return {"table": frame, "tests": tests, "positive": classes[-1],
            "measures": {m[0]: m[3] for m in PATIENT_MEASURES if m[0] in measures}}


def _cell(v, digits=2) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def format_measurements_by_patient(result: dict, patients: bool = True) -> str:
    """The table as text: one line per patient (``patients``), per group (mean [min-max]), then
    AUC and p."""
    t, names = result["table"], list(result["measures"])
    head = f"{'group':10s} {'patient':14s} {'cells':>6s} {'meas.':>6s} " + " ".join(f"{n:>22s}" for n in names)
    lines = [head]
    for r in t.itertuples(index=False):
        r = r._asdict()
        if r["level"] == "patient" and not patients:
            continue
        if r["level"] == "patient":
            vals = " ".join(f"{_cell(r[n]):>22s}" for n in names)
        else:
            vals = " ".join(f"{_cell(r[n]) + ' [' + _cell(r[n + '_min']) + '-' + _cell(r[n + '_max']) + ']':>22s}"
                            for n in names)
            if patients and r["GROUP"] == t[t["level"] == "group"]["GROUP"].iloc[0]:
                lines.append("-" * len(head))
        lines.append(f"{r['GROUP']:10s} {r['PATIENT']:14s} {r['n_cells']:6d} {r['n_measured']:6d} {vals}")
    tests = result["tests"]
    lines.append(f"{'patient AUC, ' + result['positive'] + ' higher':39s} "
                 + " ".join(f"{_cell(tests[n]['auc']):>22s}" for n in names))
    lines.append(f"{'exact permutation p (one-sided)':39s} "
                 + " ".join(f"{_cell(tests[n]['p_value'], 3):>22s}" for n in names))
    return "\n".join(lines)


def measurement_rows(result: dict) -> pd.DataFrame:
    """The table as written to ``measurements_by_patient.csv``: patient rows, group rows, then
    an ``auc`` and a ``p_value`` row (level ``test``) holding each measurement's test."""
    tests = result["tests"]
    extra = [{"level": "test", "GROUP": result["positive"], "PATIENT": key,
              **{n: tests[n][key] for n in tests}} for key in ("auc", "p_value")]
    return pd.concat([result["table"], pd.DataFrame(extra)], ignore_index=True)
