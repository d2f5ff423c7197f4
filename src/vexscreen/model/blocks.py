"""Blocks of per-cell features: encodings and/or measurements, matched cell by cell on IMAGE.

A model rests on one or two blocks per cell type: the encodings ``encode`` writes
(``ENC_ROOT/PN``) and the measurements ``measure`` writes (``MEAS_ROOT/PN``: a
standardised, NaN-free encoding set plus ``measurements.csv`` in physical units).
Each block is L2-normalised on its own (as the study normalises encodings,
METHOD.md Step 2b) and the blocks are concatenated, so each weighs the same in
the RBF kernel's distances whatever its dimension.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import normalize

from ..data import load_encodings
from ..exceptions import InputError

KINDS = ("encodings", "measurements")
#: the provenance file each producer writes beside its encoding set
PROVENANCE = {"encodings": "encode.json", "measurements": "measure.json"}
MEASUREMENTS_TABLE = "measurements.csv"
#: metadata columns, never measurements
META_COLUMNS = ("PATIENT", "SAMPLE", "GROUP", "CELL_TYPE", "IMAGE")
#: provenance keys that describe one run rather than the settings (ignored when comparing settings):
#: timings, counts, paths, and what a run found in its images (quality counts, the per-scan
#: means and standard deviations, bad files) as ``vexscreen.morphology``'s measure.json records them
VOLATILE_PROVENANCE = frozenset({"seconds", "images", "images_per_second", "files", "encoder", "root",
                                 "out", "timing", "n_images", "source", "created", "vexscreen_version",
                                 "images_sha256", "layout", "quality", "mean", "std", "measured_now",
                                 "cells_per_second", "bad_files", "unmeasured_cells", "chunk"})


def provenance_settings(provenance: dict) -> dict:
    """The settings a producer recorded: its ``settings`` entry, else every non-volatile key."""
    if isinstance(provenance.get("settings"), dict):
        return provenance["settings"]
    return {k: v for k, v in provenance.items() if k not in VOLATILE_PROVENANCE}


def standardisation(provenance: dict) -> dict | None:
    """``{"columns", "mean", "std"}`` when the producer z-scored its columns (measure.json gives
    ``columns`` and, per column, its ``mean`` and ``std``), else None."""
    cols, mean, std = (provenance.get(k) for k in ("columns", "mean", "std"))
    if not (isinstance(cols, list) and cols and isinstance(mean, dict) and isinstance(std, dict)):
        return None
    if not all(c in mean and c in std for c in cols):
        return None
    return {"columns": list(cols), "mean": [float(mean[c]) for c in cols], "std": [float(std[c]) for c in cols]}


def restandardise(block: "Block", stats: dict) -> "Block":
    """The block with ``X`` recomputed from its raw measurements with ``stats`` (the reference's).

    A cell is z-scored column by column with the reference's means and standard deviations;
    a cell not measured (``quality`` other than ``ok``, or a missing value) gets 0 in every
    column, the reference mean, as the measuring step itself writes it (no signal).
    """
    cols = stats["columns"]
    if block.table is None:
        raise InputError(f"no {MEASUREMENTS_TABLE} to standardise with the reference's means", block.folder)
    missing = [c for c in cols if c not in block.table.columns]
    if missing:
        raise InputError(f"{MEASUREMENTS_TABLE} lacks column(s) the model uses: {', '.join(missing)}",
                         block.folder)
    values = block.table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(values).all(axis=1)
    if "quality" in block.table.columns:
        ok &= block.table["quality"].astype(str).eq("ok").to_numpy()
    std = np.asarray(stats["std"], dtype=np.float64)
    X = np.zeros(values.shape, dtype=np.float32)
    X[ok] = ((values[ok] - np.asarray(stats["mean"])) / np.where(std > 1e-12, std, 1.0)).astype(np.float32)
    return replace(block, X=X)


#: ``measurement_columns`` presets: which measurement columns the model's vector holds
MEASUREMENT_COLUMNS = ("all", "stain_robust")


def stain_dependent(column: str) -> bool:
    """A column that reads the stain's intensity rather than the cell's shape: optical densities
    and the cytoplasm's texture energy (``granularity``). A stain 20% stronger moves the nuclear OD
    by 26 reference-patient sds where vacuole counts, areas and lobes do not move
    (docs/experiments.md, section 5)."""
    return column.endswith("_od") or "_od_" in column or column == "granularity"


def check_measurement_columns(preset: str) -> str:
    if preset not in MEASUREMENT_COLUMNS:
        raise InputError(f"unknown measurement_columns {preset!r}; choose one of {', '.join(MEASUREMENT_COLUMNS)}")
    return preset


def select_columns(block: "Block", preset: str, columns: list[str] | None = None) -> tuple["Block", list[str]]:
    """(the block with only the preset's columns, their names). ``columns``: the names of ``block.X``'s
    columns (default: the producer's measure.json ``columns``); ``all`` keeps the block as it is."""
    check_measurement_columns(preset)
    names = list(columns) if columns is not None else (standardisation(block.provenance) or {}).get("columns")
    if preset == "all":
        return block, names
    if not names or len(names) != block.dim:
        raise InputError(f"measurement_columns={preset!r} needs the measurement columns' names "
                         "(measure.json 'columns', one per column of the encoding set)", block.folder)
    keep = [i for i, c in enumerate(names) if not stain_dependent(c)]
    return replace(block, X=np.ascontiguousarray(block.X[:, keep])), [names[i] for i in keep]


@dataclass
class Block:
    """One block: an encoding set (``X``, ``meta``), what made it, and raw measurements if any."""

    kind: str
    X: np.ndarray
    meta: pd.DataFrame
    folder: Path | None = None
    provenance: dict = field(default_factory=dict)
    table: pd.DataFrame | None = None   # measurements.csv rows, in ``meta`` order

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])


def load_block(folder, kind: str) -> Block:
    """Read one block from ``folder`` (encoding set + its provenance JSON + measurements.csv)."""
    if kind not in KINDS:
        raise InputError(f"unknown block kind {kind!r}; choose one of {', '.join(KINDS)}")
    folder = Path(folder)
    encset = load_encodings(folder)
    prov_path = folder / PROVENANCE[kind]
    provenance = {}
    if prov_path.is_file():
        try:
            provenance = json.loads(prov_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read as JSON ({exc})", prov_path) from None
    table = _read_table(folder / MEASUREMENTS_TABLE, encset.meta) if kind == "measurements" else None
    return Block(kind, np.asarray(encset.X, dtype=np.float32), encset.meta, folder, provenance, table)


def _read_table(path: Path, meta: pd.DataFrame) -> pd.DataFrame | None:
    """measurements.csv aligned to ``meta`` by IMAGE (same order), or None when absent."""
    if not path.is_file():
        return None
    from ..evaluation.measurements import read_measurements

    table = read_measurements(path)
    if "IMAGE" not in table.columns or "IMAGE" not in meta.columns:
        if len(table) != len(meta):
            raise InputError(f"{len(table)} rows but the encoding set has {len(meta)}, and no IMAGE "
                             "column to match them", path)
        return table.reset_index(drop=True)
    row = _unique_index(table["IMAGE"].astype(str), path)
    missing = [im for im in meta["IMAGE"].astype(str) if im not in row]
    if missing:
        raise InputError(f"{len(missing)} image(s) of the encoding set have no row, e.g. {missing[0]}", path)
    return table.iloc[[row[im] for im in meta["IMAGE"].astype(str)]].reset_index(drop=True)


def _unique_index(images: pd.Series, where) -> dict:
    dup = images[images.duplicated()]
    if len(dup):
        raise InputError(f"image {dup.iloc[0]!r} appears {int((images == dup.iloc[0]).sum())} times; "
                         "rows are matched by IMAGE, which must be unique", where)
    return {im: i for i, im in enumerate(images)}


def join_blocks(blocks: list[Block]) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame | None, int]:
    """(X, meta, measurements table, cells dropped): blocks matched by IMAGE, each L2-normalised.

    Rows follow the first block; a cell missing from another block is dropped (counted).
    PATIENT and GROUP, where two blocks both have them, must agree cell by cell.
    """
    if not blocks:
        raise InputError("no feature block: give encodings, measurements, or both")
    first = blocks[0]
    if len(blocks) == 1:
        return _l2(first.X), first.meta.reset_index(drop=True), first.table, 0
    images = first.meta["IMAGE"].astype(str) if "IMAGE" in first.meta.columns else None
    for b in blocks:
        if "IMAGE" not in b.meta.columns or images is None:
            raise InputError("several blocks are matched by image, but this metadata has no IMAGE column",
                             b.folder)
    index = [_unique_index(b.meta["IMAGE"].astype(str), b.folder) for b in blocks]
    keep = np.array([all(im in ix for ix in index[1:]) for im in images], dtype=bool)
    kept = images[keep]
    rows = [np.array([ix[im] for im in kept], dtype=int) for ix in index]
    for b, r in zip(blocks[1:], rows[1:]):
        _check_agree(first, b, rows[0], r)
    X = np.concatenate([_l2(b.X[r]) for b, r in zip(blocks, rows)], axis=1)
    table = next((b.table.iloc[r].reset_index(drop=True) for b, r in zip(blocks, rows)
                  if b.table is not None), None)
    return X, first.meta.iloc[rows[0]].reset_index(drop=True), table, int((~keep).sum())


def _check_agree(a: Block, b: Block, ra: np.ndarray, rb: np.ndarray) -> None:
    for col in ("PATIENT", "GROUP"):
        if col in a.meta.columns and col in b.meta.columns:
            va = a.meta[col].to_numpy()[ra].astype(str)
            vb = b.meta[col].to_numpy()[rb].astype(str)
            bad = np.nonzero(va != vb)[0]
            if len(bad):
                im = a.meta["IMAGE"].to_numpy()[ra][bad[0]]
                raise InputError(f"image {im}: {col} is {va[bad[0]]!r} in {a.folder} but {vb[bad[0]]!r} here "
                                 f"({len(bad)} cell(s) disagree)", b.folder)


def _l2(X: np.ndarray) -> np.ndarray:
    return normalize(np.asarray(X, dtype=np.float32), norm="l2", axis=1)
