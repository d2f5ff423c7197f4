"""Encoding sets: a float32 matrix (one row per cell) and its metadata table.

Reads the study's layout directly (METHOD.md, "Data layout"): a folder holding
``encodings.npy`` + ``metadata.csv`` (columns ``PATIENT,SAMPLE,GROUP``, optional
``CELL_TYPE``, ``IMAGE``), or ``encoder_test_encodings.npy`` +
``encoder_test_metadata.csv`` (``GROUP`` only), or explicit file paths.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .atomic import write_csv, write_npy
from ..exceptions import InputError

COHORT_COLUMNS = ("PATIENT", "SAMPLE", "GROUP")
OPTIONAL_COLUMNS = ("CELL_TYPE", "IMAGE")
LAYOUTS = (
    ("encodings.npy", "metadata.csv", COHORT_COLUMNS),
    ("encoder_test_encodings.npy", "encoder_test_metadata.csv", ("GROUP",)),
)


@dataclass
class EncodingSet:
    """Cell encodings ``X`` (n_cells x dim, float32) with metadata ``meta`` (n_cells rows)."""

    X: np.ndarray
    meta: pd.DataFrame
    source: str = ""
    required: tuple = field(default=("GROUP",))

    def __post_init__(self):
        if len(self.X) != len(self.meta):
            raise InputError(f"{len(self.X)} encodings but {len(self.meta)} metadata rows", self.source or None)
        self.meta = self.meta.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.X)

    @property
    def labels(self) -> np.ndarray:
        """The GROUP (diagnosis or morphology) of each cell."""
        return self.meta["GROUP"].to_numpy()

    @property
    def patients(self) -> np.ndarray:
        self._need("PATIENT")
        return self.meta["PATIENT"].to_numpy()

    def label_order(self) -> list[str]:
        """Groups in order of first appearance."""
        return list(pd.unique(self.meta["GROUP"]))

    def _need(self, column: str) -> None:
        if column not in self.meta.columns:
            raise InputError(f"metadata has no {column} column (columns: {', '.join(self.meta.columns)})",
                             self.source or None)

    def check_classes(self, classes: Sequence[str]) -> list[str]:
        """Return ``classes`` (groups to compare) as a list; error naming any group not in the data."""
        classes = list(classes)
        if len(set(classes)) != len(classes):
            raise InputError(f"a group is named twice in {classes}")
        present = set(self.meta["GROUP"])
        missing = [c for c in classes if c not in present]
        if missing:
            raise InputError(f"group(s) {missing} not in the data; groups present: {sorted(present)}",
                             self.source or None)
        return classes

    def select_classes(self, classes: Sequence[str]) -> "EncodingSet":
        """Cells of ``classes`` only, in their original order."""
        classes = self.check_classes(classes)
        return self.subset(self.meta["GROUP"].isin(classes).to_numpy())

    def subset(self, mask) -> "EncodingSet":
        """The cells where ``mask`` (boolean, one per cell) is true, in their original order."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise InputError(f"a mask of {mask.shape} for {len(self)} cells", self.source or None)
        return EncodingSet(self.X[mask], self.meta[mask], self.source, self.required)


def _read_matrix(path: Path, mmap: bool = False) -> np.ndarray:
    if not path.is_file():
        raise InputError("encodings file not found", path)
    if path.stat().st_size == 0:
        raise InputError("encodings file is empty", path)
    try:
        X = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as exc:  # object arrays need pickle: refused
        raise InputError(f"not a plain numeric .npy array ({exc})", path) from None
    except Exception as exc:
        raise InputError(f"cannot read as .npy ({exc})", path) from None
    if X.ndim != 2:
        raise InputError(f"expected a 2-D matrix (cells x dimensions), got shape {X.shape}", path)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"empty matrix, shape {X.shape}", path)
    if not np.issubdtype(X.dtype, np.floating):
        raise InputError(f"expected floating-point encodings, got dtype {X.dtype}", path)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    bad = nonfinite(path) if isinstance(X, np.memmap) else _nonfinite(X)
    if bad:
        raise InputError(f"{bad[0]} NaN/inf value(s), in {bad[1]} row(s), first at row {bad[2]}", path)
    return X


def _nonfinite(X: np.ndarray, offset: int = 0):
    """``(values, rows, first row)`` that are not finite in ``X``, or None."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return None
    rows = np.unique(np.nonzero(bad)[0])
    return int(bad.sum()), len(rows), int(rows[0]) + offset


def nonfinite(path, block: int = 65536):
    """:func:`_nonfinite` of a ``.npy`` file, read ``block`` rows at a time, each block mapped only while
    it is checked: a 2 GB file is checked without 2 GB of memory. None when every value is finite."""
    n = np.load(path, mmap_mode="r").shape[0]
    found = []
    for start in range(0, n, block):
        part = _nonfinite(np.load(path, mmap_mode="r")[start:start + block], start)
        if part:
            found.append(part)
    if not found:
        return None
    return sum(f[0] for f in found), sum(f[1] for f in found), found[0][2]


def _read_metadata(path: Path, required: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("metadata file not found", path)
    if path.stat().st_size == 0:
        raise InputError("metadata file is empty", path)
    try:
        meta = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise InputError(f"cannot read as CSV ({exc})", path) from None
    missing = [c for c in required if c not in meta.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}; columns found: {list(meta.columns)}", path)
    if len(meta) == 0:
        raise InputError("metadata has a header but no rows", path)
    for col in required:
        blank = (meta[col].str.strip() == "").to_numpy()
        if blank.any():
            row = int(np.nonzero(blank)[0][0])
            raise InputError(f"{blank.sum()} row(s) with an empty {col}, first at data row {row + 1}", path)
    return meta


def load_encodings(path=None, *, encodings=None, metadata=None, mmap: bool = False) -> EncodingSet:
    """Load an encoding set from a folder (study layout) or explicit files.

    ``path``: a folder with ``encodings.npy`` + ``metadata.csv`` or the encoder-test
    pair. ``encodings``/``metadata``: explicit files (override ``path``).
    ``mmap``: the matrix is a read-only memory map of the file, not read into
    memory (:func:`~vexscreen.evaluation.evaluate` reads only the rows it draws);
    it is still checked for NaN/inf, block by block.
    """
    if encodings is not None or metadata is not None:
        if encodings is None or metadata is None:
            raise InputError("give both --encodings and --metadata")
        enc, met = Path(encodings), Path(metadata)
        X = _read_matrix(enc, mmap)
        try:  # a cohort table when it has the cohort columns, else the encoder-test layout
            header = list(pd.read_csv(met, nrows=0).columns)
        except Exception:
            header = []  # _read_metadata reports what is wrong with the file
        required = COHORT_COLUMNS if all(c in header for c in COHORT_COLUMNS) else ("GROUP",)
        meta = _read_metadata(met, required)
    else:
        if path is None:
            raise InputError("no input: give a folder or --encodings/--metadata")
        folder = Path(path)
        if not folder.exists():
            raise InputError("no such folder", folder)
        if not folder.is_dir():
            raise InputError("not a folder (give a folder, or --encodings FILE --metadata FILE)", folder)
        complete = [(folder / e, folder / m, r) for e, m, r in LAYOUTS
                    if (folder / e).exists() and (folder / m).exists()]
        if complete:
            enc, met, required = complete[0]
        else:
            partial = [f"{f.name} without {g.name}" for e, m, _ in LAYOUTS
                       for f, g in ((folder / e, folder / m), (folder / m, folder / e)) if f.exists()]
            raise InputError("no encodings.npy + metadata.csv, nor encoder_test_encodings.npy + "
                             "encoder_test_metadata.csv, in this folder"
                             + (f" (found {'; '.join(partial)})" if partial else ""), folder)
        X = _read_matrix(enc, mmap)
        meta = _read_metadata(met, required)
    if len(X) != len(meta):
        raise InputError(f"row-count mismatch: {enc} has {len(X)} rows, {met} has {len(meta)}", met)
    return EncodingSet(X, meta, source=str(met), required=tuple(required))


def save_encodings(folder, X: np.ndarray, meta: pd.DataFrame, *, encoder_test: bool = False) -> Path:
    """Write ``encodings.npy`` + ``metadata.csv`` (or the ``encoder_test_*`` pair) atomically."""
    folder = Path(folder)
    X = np.asarray(X, dtype=np.float32)
    if len(X) != len(meta):
        raise InputError(f"{len(X)} encodings but {len(meta)} metadata rows")
    prefix = "encoder_test_" if encoder_test else ""
    write_npy(folder / f"{prefix}encodings.npy", X)
    write_csv(folder / f"{prefix}metadata.csv", meta)
    return folder


def _first_difference(a: np.ndarray, b: np.ndarray) -> int:
    """Index of the first row where ``a`` and ``b`` differ (the shorter length when one is a prefix)."""
    n = min(len(a), len(b))
    diff = np.nonzero(a[:n] != b[:n])[0]
    return int(diff[0]) if len(diff) else n


def _check_same_cells(first: EncodingSet, other: EncodingSet) -> None:
    """``other`` holds the same cells as ``first``, row for row (by ``IMAGE``), with the same labels."""
    for block in (first, other):
        if "IMAGE" not in block.meta.columns:
            raise InputError("combining encoding folders needs an IMAGE column in every metadata table "
                             "(encode and measure write one)", block.source or None)
    a, b = first.meta["IMAGE"].to_numpy(str), other.meta["IMAGE"].to_numpy(str)
    if len(a) != len(b) or (a != b).any():
        i = _first_difference(a, b)
        left = str(a[i]) if i < len(a) else "(no row)"
        right = str(b[i]) if i < len(b) else "(no row)"
        raise InputError(f"not the same cells as {first.source or 'the first block'}: data row {i + 1} is "
                         f"{right!r} here but {left!r} there ({len(b)} vs {len(a)} rows)", other.source or None)
    for col in ("GROUP", "PATIENT", "SAMPLE"):
        if col in first.meta.columns and col in other.meta.columns:
            x, y = first.meta[col].to_numpy(str), other.meta[col].to_numpy(str)
            if (x != y).any():
                i = _first_difference(x, y)
                raise InputError(f"{col} differs from {first.source or 'the first block'} at data row {i + 1} "
                                 f"({a[i]}: {str(y[i])!r} here, {str(x[i])!r} there)", other.source or None)


def combine_blocks(blocks: Sequence[EncodingSet]) -> EncodingSet:
    """Several encoding sets of the same cells (e.g. CNN encodings and measurements) as one.

    Rows are matched by ``IMAGE`` (same images in the same order; a mismatch is an
    InputError naming the first differing row). Each block is L2-normalised per cell
    on its own, as the study normalises encodings before evaluation (METHOD.md Step 2b),
    so that a 512-dimensional block does not outweigh an 18-column one; the blocks are
    then concatenated (every block weighs the same in the joint vector). One block is
    returned unchanged. The metadata is the first block's.
    """
    blocks = list(blocks)
    if not blocks:
        raise InputError("no encoding sets to combine")
    if len(blocks) == 1:
        return blocks[0]
    for other in blocks[1:]:
        _check_same_cells(blocks[0], other)
    parts = []
    for block in blocks:
        X = np.asarray(block.X, dtype=np.float32)
        norm = np.linalg.norm(X, axis=1, keepdims=True)
        parts.append(X / np.where(norm > 0, norm, 1.0))  # an all-zero row (an unmeasured cell) stays 0
    source = " + ".join(b.source for b in blocks if b.source)
    return EncodingSet(np.concatenate(parts, axis=1).astype(np.float32), blocks[0].meta.copy(), source,
                       blocks[0].required)
