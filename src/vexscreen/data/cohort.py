"""The study's cohort structure, bundled: patients, samples and cells per sample, per cell type."""
from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .encodings import EncodingSet

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


def published_encoder_test(cell_type: str) -> EncodingSet:
    """The study's published encoder-test encodings for ``cell_type`` (bundled)."""
    from .encodings import load_encodings

    folder = resources.files("vexscreen") / "resources" / "paper" / cell_type
    with resources.as_file(folder) as path:
        return load_encodings(path)


# The study's published phenotypic-prediction results, mean ROC-AUC [95% CI] (METHOD.md).
PUBLISHED_AUC = {
    ("PN", "UBA1-WT/VEXAS"): "0.87 [0.75-0.95]", ("PN", "MDS/VEXAS"): "0.93 [0.89-0.95]",
    ("PN", "MDS/UBA1-WT"): "0.46 [0.37-0.54]", ("PN", "MDS/UBA1-WT/VEXAS"): "0.95 [0.93-0.97]",
    ("MO", "UBA1-WT/VEXAS"): "0.93 [0.87-0.97]", ("MO", "MDS/VEXAS"): "0.92 [0.85-0.96]",
    ("MO", "MDS/UBA1-WT"): "0.56 [0.45-0.64]", ("MO", "MDS/UBA1-WT/VEXAS"): "0.91 [0.90-0.93]",
    ("LY", "UBA1-WT/VEXAS"): "0.73 [0.63-0.83]", ("LY", "MDS/VEXAS"): "0.54 [0.40-0.61]",
    ("LY", "MDS/UBA1-WT"): "0.59 [0.49-0.66]", ("LY", "MDS/UBA1-WT/VEXAS"): "0.67 [0.64-0.70]",
}
