"""Patient-level summaries of per-cell measurements, and the reference classes' ranges.

The measurement table (``measurements.csv``, one row per cell, physical units) is
whatever the morphology step writes; every numeric column except the metadata is
summarised per patient as its mean over the patient's cells, and a vacuole count
column (``vacuole_count``) also gives the share of vacuolated cells, the hallmark
of VEXAS (METHOD.md, "The clinical problem"). The reference range of a class is
[lowest, highest] patient value among the reference patients of that class.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .blocks import META_COLUMNS

#: per-cell columns the report shows in its cell table (None when absent)
CELL_COLUMNS = ("vacuole_count", "vacuole_area_um2", "nucleus_lobes", "quality")
COUNT_COLUMNS = ("vacuole_count", "nucleus_lobes")
VACUOLATED = "vacuolated cells"
_UNITS = (("_um2", "µm²"), ("_um", "µm"), ("_px", "px"), ("_pct", "%"), ("_percent", "%"),
          ("_fraction", "fraction"))
_NOT_MEASURES = set(META_COLUMNS) | {"quality", "quality_detail"}


def unit_of(column: str) -> str:
    """The unit a column name announces by its suffix ('' for counts and plain numbers)."""
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return unit
    return ""


def measure_columns(table: pd.DataFrame) -> list[str]:
    """Numeric columns with at least one value, metadata and quality flags excepted (a text column
    that happens to be empty, such as ``quality_detail`` when all cells are fine, reads as numeric)."""
    return [c for c in table.columns if c not in _NOT_MEASURES and pd.api.types.is_numeric_dtype(table[c])
            and table[c].notna().any()]


def patient_values(table: pd.DataFrame) -> dict[str, float]:
    """One value per measurement for one patient's cells (means; the vacuolated share in %)."""
    out = {}
    if "vacuole_count" in table.columns and pd.api.types.is_numeric_dtype(table["vacuole_count"]):
        v = table["vacuole_count"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]  # cells not measured count neither way
        out[VACUOLATED] = float(100.0 * np.mean(v > 0)) if v.size else None
    for c in measure_columns(table):
        v = table[c].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        out[c] = float(v.mean()) if v.size else None
    return out


def units(table: pd.DataFrame) -> dict[str, str]:
    out = {VACUOLATED: "%"} if "vacuole_count" in table.columns else {}
    out.update({c: unit_of(c) for c in measure_columns(table)})
    return out


def reference_ranges(table: pd.DataFrame, patients, classes_of: dict, classes) -> dict:
    """``{measure: {"unit", "reference": {class: [low, high]}, "patients": {patient: value}}}``."""
    patients = np.asarray(patients).astype(str)
    per_patient = {p: patient_values(table[patients == p]) for p in dict.fromkeys(patients)}
    out = {}
    for name, unit in units(table).items():
        vals = {p: v[name] for p, v in per_patient.items() if v.get(name) is not None}
        ref = {}
        for cls in classes:
            xs = [v for p, v in vals.items() if classes_of.get(p) == cls]
            if xs:  # a class without any value for this measure has no range (left out)
                ref[cls] = [float(min(xs)), float(max(xs))]
        out[name] = {"unit": unit, "reference": ref, "patients": vals}
    return out


def cell_values(table: pd.DataFrame | None, i: int) -> dict:
    """The report's per-cell measurement fields for row ``i`` (None where not measured).

    ``quality`` is the measuring step's flag when it gives one, else ``"ok"``: every cell
    screened has passed the scanner's decode checks, and the report schema reads "ok" as
    nothing known to be wrong (docs/report.md).
    """
    out = {}
    for c in CELL_COLUMNS:
        v = None
        if table is not None and c in table.columns:
            v = table[c].iloc[i]
            v = None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
        if c in COUNT_COLUMNS and isinstance(v, float) and v.is_integer():
            v = int(v)  # a count column with a blank (a cell not measured) is read as floats
        out[c] = v
    if out["quality"] is None:
        out["quality"] = "ok"
    return out
