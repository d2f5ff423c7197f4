"""Plain-text tables for the terminal and JSON-ready matrices."""
from __future__ import annotations

import math

import numpy as np


def matrix_to_json(M: np.ndarray) -> list:
    """NaN cells become ``null``."""
    return [[None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v)
             for v in row] for row in np.asarray(M, dtype=float).tolist()]


def format_consistency(order, M, digits: int = 6) -> str:
    """The study's upper-triangular AUC table, as text."""
    width = max(max(len(g) for g in order), digits + 2) + 1
    lines = [" " * width + "".join(g.rjust(width) for g in order)]
    for i, g in enumerate(order):
        cells = ["" if np.isnan(M[i, j]) else f"{M[i, j]:.{digits}f}" for j in range(len(order))]
        lines.append(g.ljust(width) + "".join(c.rjust(width) for c in cells))
    return "\n".join(lines)


def format_consistency_ci(order, M, low, high, digits: int = 3) -> str:
    """One line per computed pair: ``A vs B  AUC [95% CI]`` (the interval of
    :func:`vexscreen.evaluation.consistency_ci`: a seeded bootstrap over cells)."""
    width = max(len(a) + len(b) for a in order for b in order) + 5
    lines = ["pair".ljust(width) + "AUC [95% CI, bootstrap over cells]"]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            if not np.isnan(M[i, j]):
                lines.append(f"{a} vs {b}".ljust(width)
                             + f"{M[i, j]:.{digits}f} [{low[i, j]:.{digits}f}-{high[i, j]:.{digits}f}]")
    return "\n".join(lines)


def format_ci(d, pct=False) -> str:
    """``mean [low-high]`` of a ``{"mean", "low", "high"}`` dict; ``pct`` as percentages."""
    f = 100 if pct else 1
    fmt = "{:.1f}" if pct else "{:.2f}"
    return f"{fmt.format(d['mean'] * f)} [{fmt.format(d['low'] * f)}-{fmt.format(d['high'] * f)}]"


def format_patient_level(pl: dict) -> str:
    """``LOPO AUC x (p=y), leave-pair-out AUC z``, or for the scalable path (evaluation/scalable.py)
    ``5-fold x3 AUC x (p=y), pair AUC z``."""
    method = pl.get("method", "leave-one-patient-out")
    if method.startswith("leave-one-patient-out"):  # also the model's "..., cell types combined"
        text = f"LOPO AUC {pl['auc']:.2f} (p={pl['p_value']:.3f})"
    else:
        settings = pl.get("settings", {})
        text = f"{settings.get('folds', '?')}-fold x{settings.get('repeats', '?')} AUC {pl['auc']:.2f} " \
               f"(p={pl['p_value']:.3f})"
    if "leave_pair_out_auc" in pl:
        text += f", leave-pair-out AUC {pl['leave_pair_out_auc']:.2f}"
    if "pair_auc" in pl:
        text += f", pair AUC {pl['pair_auc']:.2f}"
    return text


def format_evaluation_row(result: dict) -> str:
    """One line: comparison, aggregate-level AUC [CI], sens/spec, patient-level AUC (p)."""
    agg = result["aggregate_level"]
    comp = f"{result['positive']} vs " + "+".join(g for g in result["groups"][:-1])
    text = (f"{comp:<28} AUC {format_ci(agg['auc'])}  sens {format_ci(agg['sensitivity'], True)}%  "
            f"spec {format_ci(agg['specificity'], True)}%")
    if result.get("patient_level"):
        text += "  | patients: " + format_patient_level(result["patient_level"])
    return text


def format_summary(rows: list[dict]) -> str:
    """The study's table beside ours, one line per :func:`vexscreen.pipeline.summary_row`:
    aggregate-level AUC [95% CI] and sens/spec (the study's figures), patient-level AUC
    leave-one-patient-out (p) and leave-pair-out, the published AUC."""
    head = (f"{'cell type':<10}{'comparison':<24}{'AUC aggregates [95% CI]':<26}"
            f"{'sens/spec %':<14}{'AUC LOPO (p)':<17}{'AUC LPO':<9}{'published':<18}")
    lines = [head, "-" * len(head)]
    for r in rows:
        pl = "" if r["patient_auc"] is None else f"{r['patient_auc']:.2f} (p={r['patient_p']:.3f})"
        lines.append(f"{r['cell_type']:<10}{r['comparison']:<24}"
                     f"{r['auc']:.2f} [{r['auc_low']:.2f}-{r['auc_high']:.2f}]".ljust(60)
                     + f"{100 * r['sensitivity']:.0f}/{100 * r['specificity']:.0f}".ljust(14)
                     + pl.ljust(17) + ("" if r.get("pair_auc") is None else f"{r['pair_auc']:.2f}").ljust(9)
                     + r["published"])
    return "\n".join(lines)


def format_recovery(rows: list[dict]) -> str:
    """Plain-text table of :func:`vexscreen.phantom.feature_recovery` rows."""
    lines = [f"{'cell':<5}{'feature':<24}{'within':<9}{'cells':>6}{'with':>6}{'AUC':>7}"]
    for r in rows:
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.2f}"
        lines.append(f"{r['cell_type']:<5}{r['feature']:<24}{r['group']:<9}{r['cells']:>6}{r['positives']:>6}"
                     f"{auc:>7}")
    return "\n".join(lines)
