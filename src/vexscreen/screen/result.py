"""The screening result: what the report shows, as one JSON-ready object (schema in docs/screening.md)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..study import CELL_TYPE_NAMES

FORMAT = "vexscreen-screening"
VERSION = 1
DISCLAIMER = "vexscreen is a research tool, not a diagnostic device; UBA1 sequencing confirms VEXAS."
INDETERMINATE = "indeterminate"
CELL_FIELDS = ("image", "cell_type", "score", "vacuole_count", "vacuole_area_um2", "nucleus_lobes", "quality")


@dataclass
class CellTypeResult:
    """One cell type of one patient: cells found, probability and interval (None if not assessable)."""

    n_cells: int
    probability: float | None
    interval: list | None
    assessable: bool
    note: str

    def to_dict(self) -> dict:
        return {"n_cells": self.n_cells, "probability": self.probability, "interval": self.interval,
                "assessable": self.assessable, "note": self.note}


@dataclass
class ScreeningResult:
    """The verdict on one patient, what it rests on, and the cells behind it.

    ``to_dict()`` gives exactly the ``vexscreen-screening`` version 1 schema that
    ``report.json`` holds and the report renderer reads; ``image_root`` (the patient
    folder, against which ``cells[*].image`` is relative) and ``encodings`` (where the
    encodings were kept) are for the caller, not part of the schema.
    """

    patient: str
    probability: float | None
    interval: list | None
    verdict: str
    statement: str
    cell_types: dict
    reference: dict
    measurements: list
    cells: list
    gallery: dict
    ignored: dict
    model: dict
    vexscreen_version: str
    disclaimer: str = DISCLAIMER
    applicability: dict | None = None
    image_root: str = ""
    encodings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION, "vexscreen_version": self.vexscreen_version,
            "patient": self.patient, "probability": self.probability, "interval": self.interval,
            "verdict": self.verdict, "statement": self.statement,
            "cell_types": {ct: r.to_dict() for ct, r in self.cell_types.items()},
            "reference": self.reference, "measurements": self.measurements, "cells": self.cells,
            "gallery": self.gallery, "ignored": self.ignored, "model": self.model,
            "disclaimer": self.disclaimer, "applicability": self.applicability,
        }

    def cells_frame(self) -> pd.DataFrame:
        """One row per cell (cells.csv): image, cell type, score, measurements, quality."""
        return pd.DataFrame([{k: c.get(k) for k in CELL_FIELDS} for c in self.cells], columns=list(CELL_FIELDS))


def verdict_of(probability: float | None, threshold: float, positive: str = "VEXAS") -> str:
    """``<positive>-like`` at or above the threshold, ``not <positive>-like`` below, else indeterminate."""
    if probability is None:
        return INDETERMINATE
    return f"{positive}-like" if probability >= threshold else f"not {positive}-like"


def count_text(n: int, cell_type: str) -> str:
    """"412 neutrophils", "1 monocyte", "no lymphocytes"."""
    plural = CELL_TYPE_NAMES.get(cell_type, cell_type)
    if n == 0:
        return f"no {plural}"
    return f"{n:,} {plural[:-1] if n == 1 and plural.endswith('s') else plural}"


def _join(parts: list[str], word: str = "and") -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def statement_of(verdict: str, probability, interval, counts: dict, assessable: dict, min_cells: int) -> str:
    """The plain-language line: the verdict, its numbers, and the cells it rests on.

    "VEXAS-like: 0.91 [0.84-0.96] from 412 neutrophils and 63 monocytes";
    "indeterminate: 6 neutrophils, fewer than the 30 the model needs".
    """
    short = [ct for ct in counts if not assessable[ct]]
    need = f"fewer than the {min_cells} the model needs"
    if probability is None:
        if all(counts[ct] == 0 for ct in counts):
            names = [CELL_TYPE_NAMES.get(ct, ct) for ct in counts]
            return f"{verdict}: no {_join(names, 'or')} found"
        per = " per cell type" if len(counts) > 1 else ""
        return f"{verdict}: {_join([count_text(counts[ct], ct) for ct in counts])}, {need}{per}"
    used = [count_text(counts[ct], ct) for ct in counts if assessable[ct]]
    line = f"{verdict}: {probability:.2f} [{interval[0]:.2f}-{interval[1]:.2f}] from {_join(used)}"
    for ct in short:
        line += (f"; {count_text(0, ct)} found" if counts[ct] == 0
                 else f"; {count_text(counts[ct], ct)} not counted, {need}")
    return line


def type_note(n: int, cell_type: str, min_cells: int) -> str:
    if n == 0:
        return f"{count_text(0, cell_type)} found"
    if n < min_cells:
        return f"{count_text(n, cell_type)}, fewer than the {min_cells} the model needs: not assessable"
    return f"{count_text(n, cell_type)}"
