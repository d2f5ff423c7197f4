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


def format_ci(d, pct=False) -> str:
    """``mean [low-high]`` of a ``{"mean", "low", "high"}`` dict; ``pct`` as percentages."""
    f = 100 if pct else 1
    fmt = "{:.1f}" if pct else "{:.2f}"
    return f"{fmt.format(d['mean'] * f)} [{fmt.format(d['low'] * f)}-{fmt.format(d['high'] * f)}]"


def format_patient_level(pl: dict) -> str:
    """``LOPO AUC x (p=y), leave-pair-out AUC z``."""
    text = f"LOPO AUC {pl['auc']:.2f} (p={pl['p_value']:.3f})"
    if "leave_pair_out_auc" in pl:
        text += f", leave-pair-out AUC {pl['leave_pair_out_auc']:.2f}"
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
