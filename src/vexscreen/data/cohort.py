"""The study's cohort structure, bundled: patients, samples and cells per sample, per cell type."""
from __future__ import annotations

from importlib import resources

import pandas as pd

CELL_TYPES = ("PN", "MO", "LY")
CELL_TYPE_NAMES = {"PN": "neutrophils", "MO": "monocytes", "LY": "lymphocytes"}
STUDY_COMPARISONS = (("UBA1-WT", "VEXAS"), ("MDS", "VEXAS"), ("MDS", "UBA1-WT"),
                     ("MDS", "UBA1-WT", "VEXAS"))


def study_structure(cell_type: str | None = None) -> pd.DataFrame:
    """Rows ``CELL_TYPE, GROUP, PATIENT, SAMPLE, N_CELLS`` (one per sample; 33,757 cells in all).

    Summarised from the study's published ``metadata.csv`` files (see
    ``resources/paper/SOURCE.md``); ``cell_type`` in PN, MO, LY selects one.
    """
    path = resources.files("vexscreen") / "resources" / "paper" / "cohort_structure.csv"
    with path.open("r") as fh:
        table = pd.read_csv(fh, dtype={"N_CELLS": int, "SAMPLE": str})
    if cell_type is not None:
        if cell_type not in CELL_TYPES:
            raise ValueError(f"unknown cell type {cell_type!r}; expected one of {CELL_TYPES}")
        table = table[table["CELL_TYPE"] == cell_type].reset_index(drop=True)
    return table


def published_encoder_test(cell_type: str) -> "EncodingSet":
    """The study's published encoder-test encodings for ``cell_type`` (bundled)."""
    from .encodings import load_encodings

    folder = resources.files("vexscreen") / "resources" / "paper" / cell_type
    with resources.as_file(folder) as path:
        return load_encodings(path)
