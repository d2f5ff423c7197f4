"""The cells of the compared groups, by patient, read in place (memory-mapped encodings stay on disk).

:func:`cohort_cells` selects nothing by copying: the encoding matrix is kept as
loaded (``load_encodings(..., mmap=True)`` gives a memory map) and every row gets
the code of its patient (-1 for rows outside the compared groups). The
aggregator (``BootstrapMedianAggregator(..., normalize=True)``) reads and
L2-normalises only the rows it draws, patient by patient, so a fold or an
iteration never copies the encodings. The aggregates are those of
``normalize(X[selected])`` exactly (METHOD.md Step 2b).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.encodings import EncodingSet
from ..exceptions import InputError
from .splitters import patient_table


@dataclass
class CohortCells:
    """Rows of ``X`` grouped by patient code; patients coded in sorted-name order.

    ``X``: every row as loaded (not copied, not normalised). ``owner``: the
    patient code of each row, -1 outside the compared classes. ``y``: 1 for rows
    of the positive class (the last). ``names[code]``: the patient's name;
    ``positive[code]``: 1 for a patient of the positive class.
    ``labels``/``patients``: group and patient of the selected rows, in their
    order (what the splitters stratify on). ``table``: one row per patient, order
    of first appearance, with its label.
    """

    X: np.ndarray
    owner: np.ndarray
    y: np.ndarray
    names: np.ndarray
    labels: np.ndarray
    patients: np.ndarray
    table: pd.DataFrame
    classes: list
    label_of: dict = field(init=False, repr=False)
    code_of: dict = field(init=False, repr=False)
    positive: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.label_of = dict(zip(self.table["patient"], self.table["label"]))
        self.code_of = {n: i for i, n in enumerate(self.names.tolist())}
        self.positive = np.array([self.label_of[n] == self.classes[-1] for n in self.names.tolist()],
                                 dtype=int)

    def codes(self, patients: Sequence) -> list[int]:
        """Codes of ``patients`` (names), in their order."""
        return [self.code_of[p] for p in patients]

    def counts(self) -> tuple[int, int]:
        """(positive patients, negative patients)."""
        n_pos = int(self.positive.sum())
        return n_pos, len(self.positive) - n_pos


def cohort_cells(encset: EncodingSet, classes: Sequence[str]) -> CohortCells:
    """The cells of ``classes`` (last positive) of ``encset``, without copying its float32 matrix."""
    classes = encset.check_classes(classes)
    if len(classes) < 2:
        raise InputError(f"need at least two groups to compare, got {classes}")
    all_labels = encset.labels
    keep = np.isin(all_labels, np.asarray(classes, dtype=object))
    labels = all_labels[keep]
    patients = encset.patients[keep]
    table = patient_table(labels, patients)  # checks one group per patient
    for c in classes:
        if (table["label"] == c).sum() < 1:
            raise InputError(f"group {c!r} has no patients", encset.source or None)
    codes, names = pd.factorize(patients, sort=True)
    owner = np.full(len(all_labels), -1, dtype=np.int64)
    owner[keep] = codes
    y = np.zeros(len(all_labels), dtype=int)
    y[keep] = labels == classes[-1]
    X = encset.X
    if X.dtype != np.float32:  # what prepare() did: float32, then normalised
        X = np.asarray(X, dtype=np.float32)
    return CohortCells(X, owner, y, np.asarray(names, dtype=object), labels, patients, table, list(classes))
