"""The study's constants in one place (Chabrun, Lacombe et al., Clin Chem Lab Med 2023; METHOD.md).

Cell types, their encoder-test morphology groups in the study's order (Step 2a),
the comparisons and published results of Step 2b, the full-size side of Step 1,
and the study's bundled cohort structure and encoder-test encodings.
"""
from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .data.encodings import EncodingSet

CELL_TYPES = ("PN", "MO", "LY")
CELL_TYPE_NAMES = {"PN": "neutrophils", "MO": "monocytes", "LY": "lymphocytes"}

#: METHOD.md Step 1: full-size inference zero-pads every image, centred, to 272 x 272.
FULL_SIZE = 272

#: METHOD.md Step 2a: the encoder-test morphology groups of each cell type, in the study's order.
ENCODER_TEST_GROUPS = {
    "PN": ("LS-LG", "LS-NG", "LS-HG", "NS-NG", "NS-HG", "HS-LG", "HS-NG"),
    "LY": ("SMALLMAT", "BLEBS", "LARGENOGRAINS", "LARGEGRAINS"),
    "MO": ("NOINCLUSIONS", "INCLUSIONS"),
}

#: METHOD.md: the three diagnosis groups of the cohort.
DIAGNOSIS_GROUPS = ("VEXAS", "UBA1-WT", "MDS")

#: METHOD.md Step 2b: the comparisons (last group positive).
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
    from .data.encodings import load_encodings

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
