"""From per-type scores to the ScreeningResult: combined probability, verdict, cells, gallery.

Gallery: the ``GALLERY_TOP`` (24) cells with the highest solitary scores, most
positive-like first, and the ``GALLERY_BOTTOM`` (12) with the lowest, least first;
drawn from the cells of assessable types (the cells the verdict rests on; all
cells when no type is assessable), disjoint, ties broken by cell order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__ as VEXSCREEN_VERSION
from ..study import CELL_TYPE_NAMES
from ..model.applicability import assess, furthest_measurements
from ..model.combine import combine, combine_rows
from ..model.measures import VACUOLATED, cell_values, patient_values
from .result import CellTypeResult, ScreeningResult, statement_of, type_note, verdict_of

GALLERY_TOP = 24
GALLERY_BOTTOM = 12
UNLIKE = "cells unlike the reference patients'"


def build_result(model, scan, per_type: dict, work: Path | None) -> ScreeningResult:
    """Assemble the result of :func:`vexscreen.screen.screen_patient` from each type's scores."""
    min_cells = int(model.min_cells)
    level = float(model.interval)
    cell_types, assessable = {}, {}
    for ct, r in per_type.items():
        ok = r["p"] is not None
        assessable[ct] = ok
        cell_types[ct] = CellTypeResult(int(r["n"]), r["p"], _interval(r["reps"], level, r["p"]) if ok else None,
                                        ok, type_note(int(r["n"]), ct, min_cells))
    used = [ct for ct in per_type if assessable[ct]]
    weights = type_weights(model, used)
    probability = combine([per_type[ct]["p"] for ct in used], model.combiner, weights)
    interval = None
    if used:
        reps = np.column_stack([per_type[ct]["reps"] for ct in used])
        interval = _interval(combine_rows(reps, model.combiner, weights), level, probability)
    positive = model.classes[-1]
    verdict = verdict_of(probability, float(model.threshold), positive)
    counts = {ct: int(r["n"]) for ct, r in per_type.items()}
    cells = _cells(per_type)
    values = {ct: patient_values(r["table"]) for ct, r in per_type.items()
              if r["table"] is not None and len(r["table"])}
    fit = applicability(model, per_type, used, values)
    statement = statement_of(verdict, probability, interval, counts, assessable, min_cells)
    if fit and fit["flagged"]:
        lo, hi = fit["reference_range"]
        statement += f"; {UNLIKE} (distance {fit['distance']:.1f}, theirs {lo:.1f}-{hi:.1f}; p = {fit['p_value']:.2g})"
    return ScreeningResult(
        patient=scan.name, probability=probability, interval=interval, verdict=verdict, statement=statement,
        cell_types=cell_types, reference=reference_summary(model), measurements=_measurements(model, per_type, values),
        cells=cells, gallery=gallery(cells, used), ignored=_ignored(scan, per_type),
        model=model_summary(model), vexscreen_version=VEXSCREEN_VERSION, applicability=fit,
        image_root=str(scan.root),
        encodings={ct: str(work / ct) for ct in per_type} if work is not None else {})


def type_weights(model, types: list[str]) -> list[float] | None:
    """The ``weighted`` combiner's weights of ``types`` (each type's reference evidence), else None."""
    if model.combiner != "weighted":
        return None
    w = model.reference_["patient_level"].get("weights") or {}
    return [float(w.get(ct, 0.0)) for ct in types]


def applicability(model, per_type: dict, used: list[str], values: dict) -> dict | None:
    """The patient against the reference patients (:mod:`vexscreen.model.applicability`), over its
    assessable types, with the measurements furthest from the reference's (``values``: the patient's
    per type, :func:`patient_values`); None when the model has no reference profile (saved before
    the check existed) or no type is assessable."""
    profiles = getattr(model, "applicability_", None) or {}
    fit = assess(profiles, {ct: per_type[ct]["mean_cell"] for ct in used if per_type[ct]["mean_cell"] is not None},
                 {ct: int(per_type[ct]["n"]) for ct in used})
    if fit is None:
        return None
    refs = {ct: (model.measurements_.get(ct) or {}).get("reference") for ct in used}
    fit["furthest"] = [{**m, "name": _measure_label(m["cell_type"], m["name"])}
                       for m in furthest_measurements({ct: r for ct, r in refs.items() if r},
                                                      {ct: values[ct] for ct in used if ct in values})]
    return fit


def _measure_label(ct: str, name: str) -> str:
    noun = CELL_TYPE_NAMES.get(ct, ct)
    return f"vacuolated {noun}" if name == VACUOLATED else f"{noun}: {name}"


def _interval(reps: np.ndarray, level: float, estimate: float) -> list[float]:
    """Percentile interval of the bootstrap replicates at ``level`` (e.g. 0.95: 2.5th-97.5th),
    widened to hold the estimate itself: with few cells or replicates a skewed bootstrap
    distribution can leave it outside, and "0.30 [0.32-0.45]" would not read as an interval."""
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return [float(min(lo, estimate)), float(max(hi, estimate))]


def _cells(per_type: dict) -> list[dict]:
    cells = []
    for ct, r in per_type.items():
        for i, (image, score) in enumerate(zip(r["images"], r["scores"])):
            cells.append({"image": image, "cell_type": ct, "score": float(score),
                          **cell_values(r["table"], i)})
    return cells


def gallery(cells: list[dict], types: list[str], top: int = GALLERY_TOP, bottom: int = GALLERY_BOTTOM) -> dict:
    """Indices into ``cells``: the ``top`` highest scores (descending), then the ``bottom`` lowest."""
    pool = [i for i, c in enumerate(cells) if not types or c["cell_type"] in types]
    high = sorted(pool, key=lambda i: (-cells[i]["score"], i))[:top]
    rest = [i for i in pool if i not in set(high)]
    low = sorted(rest, key=lambda i: (cells[i]["score"], i))[:bottom]
    return {"top": high, "bottom": low}


def _measurements(model, per_type: dict, values: dict) -> list[dict]:
    """The patient's measurements beside each reference class's [lowest, highest] patient value."""
    out = []
    for ct in per_type:
        ref = (model.measurements_.get(ct) or {}).get("reference") or {}
        if not ref:
            continue
        mine = values.get(ct, {})
        for name, entry in ref.items():
            out.append({"name": _measure_label(ct, name), "unit": entry["unit"], "patient": mine.get(name),
                        "reference": entry["reference"]})
    return out


def _ignored(scan, per_type: dict) -> dict:
    bad = []
    for b in scan.bad:
        try:
            path = Path(b.path).relative_to(scan.root).as_posix()
        except ValueError:
            path = str(b.path)
        bad.append({"path": path, "reason": b.reason})
    return {"classes": scan.ignored(used=tuple(per_type)), "bad_files": bad}


def reference_summary(model) -> dict:
    """The reference cohort as the report shows it: classes, patients' scores, patient-level figures."""
    ref = model.reference_
    pl = ref["patient_level"]
    keep = ("method", "combiner", "auc", "p_value", "sensitivity", "specificity", "n_positive", "n_negative")
    level = {k: pl.get(k) for k in keep}
    if pl.get("weights"):
        level["weights"] = pl["weights"]
    level["cell_types"] = {ct: {"auc": r.get("auc"), "p_value": r.get("p_value")}
                           for ct, r in ref["cell_types"].items()}
    return {"classes": list(ref["classes"]), "scores": ref["scores"], "patient_level": level}


def model_summary(model) -> dict:
    return {"path": getattr(model, "model_path_", None), "sha256": getattr(model, "model_sha256_", None),
            "classes": list(model.classes), "positive": model.classes[-1], "uses": model.uses,
            "min_cells": {ct: int(model.min_cells) for ct in model.cell_types}, "vexscreen_version": model.vexscreen_version_}
