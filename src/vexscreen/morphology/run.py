"""Measure every image of a scan: ``measurements.csv`` and the same numbers as an encoding set.

Outputs in ``out`` (rows in the scan's sorted order, the same metadata as ``encode``):

* ``measurements.csv``: the metadata columns (``PATIENT,SAMPLE,GROUP,IMAGE``,
  ``GROUP,IMAGE`` or ``IMAGE`` by layout), ``quality``, ``quality_detail`` and every
  column of :data:`.measure.MEASUREMENTS` (empty for a cell that is not ``ok``);
* ``encodings.npy`` + ``metadata.csv`` (``encoder_test_*`` for the encoder-test
  layout): the measurements standardised (each column minus its mean over the
  ``ok`` cells, divided by its standard deviation; a constant column is only
  centred), float32. A cell that could not be measured gets the mean, 0 in every
  column, so it carries no signal (its flag is in ``measurements.csv``);
* ``measure.json``: settings, counts per quality flag, the means and standard
  deviations used, speed, and the scan's bad files with their reasons.

Streamed and resumable: images are measured in chunks of :data:`CHUNK`, each
written atomically to ``out/.parts/`` when complete; a re-run with the same
settings and images measures only the missing chunks. The final files are
written atomically and ``.parts`` is then removed. Deterministic (no
randomness), and identical whatever ``workers``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.atomic import write_csv, write_json, write_npy
from ..data.scan import load_rgb
from ..exceptions import InputError
from .measure import COLUMNS, MEASUREMENTS, empty_row, measure_cell
from .segment import DEFAULT_PIXEL_SIZE_UM, QUALITY_FLAGS
from .vacuoles import DEFAULT_PARAMS, VacuoleParams

log = logging.getLogger(__name__)

CHUNK = 32
DECIMALS = 4                 # measurements.csv precision (um, OD): far below what a pixel resolves
# 2: lobes also split at facing notches; constriction, notches. 3: vacuoles: the punched-out
# test replaces the halo test. 4: vacuoles: extent and wall contrast scale with pale cytoplasm.
MEASURE_VERSION = 4
PART_COLUMNS = ["IMAGE", "quality", "quality_detail", *COLUMNS]


def measure_file(path, pixel_size: float = DEFAULT_PIXEL_SIZE_UM, params: VacuoleParams = DEFAULT_PARAMS) -> dict:
    """One image file -> its row (``quality`` ``unreadable`` if it can no longer be decoded)."""
    try:
        image = np.asarray(load_rgb(path))
    except InputError as exc:
        row = {"quality": "unreadable", "quality_detail": str(exc)}
        row.update(empty_row())
        return row
    try:
        return measure_cell(image, pixel_size, params)
    except Exception as exc:  # noqa: BLE001 - one odd picture must not end a long scan; it keeps its row
        log.warning("measuring %s failed: %s: %s", path, type(exc).__name__, exc)
        row = {"quality": "segmentation_failed", "quality_detail": f"error: {type(exc).__name__}: {exc}"}
        row.update(empty_row())
        return row


def _measure_chunk(task) -> int:
    part, rels, paths, pixel_size, params = task
    rows = []
    for rel, path in zip(rels, paths):
        row = measure_file(path, pixel_size, params)
        row["IMAGE"] = rel
        rows.append(row)
    write_csv(part, pd.DataFrame(rows, columns=PART_COLUMNS))
    return len(rels)


def _stamp(path) -> str:
    """Size and modification time of one image: another file under the same name is measured again."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _settings(records, pixel_size: float, params: VacuoleParams) -> dict:
    digest = hashlib.sha256("\n".join(f"{r.rel}\t{_stamp(r.path)}" for r in records).encode()).hexdigest()
    return {"version": MEASURE_VERSION, "pixel_size_um": pixel_size, "vacuole_params": params.to_dict(),
            "images": len(records), "images_sha256": digest, "chunk": CHUNK}


def _prepare_parts(out: Path, settings: dict) -> Path:
    parts = out / ".parts"
    stamp = parts / "settings.json"
    if parts.is_dir():
        try:
            same = json.loads(stamp.read_text()) == settings
        except (OSError, ValueError):
            same = False
        if not same:
            log.info("discarding partial results made with other settings or images in %s", parts)
            shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    if not stamp.exists():
        write_json(stamp, settings)
    return parts


def standardise(values: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(encodings, means, stds): columns z-scored over the ``ok`` rows; other rows all 0; NaN-free."""
    good = values[ok]
    if len(good):
        mean = good.mean(0)
        std = good.std(0)
    else:
        mean = np.zeros(values.shape[1])
        std = np.ones(values.shape[1])
    std = np.where(std > 1e-12, std, 1.0)
    enc = np.zeros(values.shape, np.float32)
    enc[ok] = ((good - mean) / std).astype(np.float32)
    return enc, mean, std


def _run_chunks(tasks, workers: int, progress) -> None:
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            n = _measure_chunk(t)
            if progress:
                progress(n)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n in pool.map(_measure_chunk, tasks):
            if progress:
                progress(n)


def measure_scan(scan, out_dir, *, pixel_size: float = DEFAULT_PIXEL_SIZE_UM, workers: int = 1,
                 params: VacuoleParams = DEFAULT_PARAMS, progress=None) -> dict:
    """Measure every image of a ``ScanResult`` into ``out_dir``; returns the summary (measure.json).

    ``progress``: optional callable given the number of images finished after each chunk.
    """
    if not pixel_size > 0:
        raise InputError(f"pixel size must be positive, got {pixel_size}")
    records = list(scan.images)
    if not records:
        raise InputError("no usable images to measure", getattr(scan, "root", None))
    meta = scan.metadata()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = _settings(records, pixel_size, params)
    finished = _finished(out, settings)
    if finished is not None:
        return finished
    parts = _prepare_parts(out, settings)
    tasks, done = [], 0
    for i in range(0, len(records), CHUNK):
        part = parts / f"part_{i // CHUNK:06d}.csv"
        chunk = records[i:i + CHUNK]
        if part.exists():
            done += len(chunk)
            continue
        tasks.append((part, [r.rel for r in chunk], [str(r.path) for r in chunk], pixel_size, params))
    if progress and done:
        progress(done)
    t0 = time.perf_counter()
    _run_chunks(tasks, max(1, int(workers)), progress)
    seconds = time.perf_counter() - t0
    measured = sum(len(t[1]) for t in tasks)
    return _finish(out, parts, scan, meta, settings, seconds, measured)


def _finished(out: Path, settings: dict) -> dict | None:
    """The summary of a finished run in ``out`` with the same settings and images (version included),
    else None: a re-run keeps it, a run after a change of measuring code or settings measures again."""
    try:
        summary = json.loads((out / "measure.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or any(summary.get(k) != v for k, v in settings.items()):
        return None
    files = summary.get("files") or []
    return summary if files and all((out / f).is_file() for f in files) else None


def _finish(out: Path, parts: Path, scan, meta: pd.DataFrame, settings: dict, seconds: float,
            measured: int) -> dict:
    frames = [pd.read_csv(p, keep_default_na=True, dtype={"IMAGE": str, "quality": str, "quality_detail": str})
              for p in sorted(parts.glob("part_*.csv"))]
    rows = pd.concat(frames, ignore_index=True)
    if len(rows) != len(meta) or not (rows["IMAGE"].to_numpy() == meta["IMAGE"].to_numpy()).all():
        raise InputError("partial results do not match the scan's images; delete the .parts folder and re-run",
                         parts)
    rows["quality_detail"] = rows["quality_detail"].fillna("")
    table = pd.concat([meta.reset_index(drop=True), rows.drop(columns="IMAGE").round(DECIMALS)], axis=1)
    values = rows[list(COLUMNS)].round(DECIMALS).to_numpy(np.float64)  # the numbers in measurements.csv
    ok = (rows["quality"] == "ok").to_numpy()
    enc, mean, std = standardise(values, ok)
    if not np.isfinite(enc).all():
        raise InputError("measurements of ok cells hold NaN/inf values (a bug: please report)", out)
    prefix = "encoder_test_" if scan.layout == "encoder_test" else ""
    write_csv(out / "measurements.csv", table)
    write_npy(out / f"{prefix}encodings.npy", enc)
    write_csv(out / f"{prefix}metadata.csv", meta)
    counts = rows["quality"].value_counts()
    summary = {
        **settings, "layout": scan.layout, "dim": len(COLUMNS), "columns": list(COLUMNS),
        "units": {name: unit for name, unit, _ in MEASUREMENTS},
        "quality": {q: int(counts.get(q, 0)) for q in (*QUALITY_FLAGS, "unreadable") if counts.get(q, 0)},
        "mean": dict(zip(COLUMNS, map(float, mean))), "std": dict(zip(COLUMNS, map(float, std))),
        "unmeasured_cells": "0 in every column of the encoding (the mean of the ok cells)",
        "seconds": round(seconds, 3), "measured_now": measured,
        "cells_per_second": round(measured / seconds, 2) if seconds > 0 and measured else None,
        "bad_files": scan.bad_files(),  # relative to the images root, as encode.json has them
        "files": ["measurements.csv", f"{prefix}encodings.npy", f"{prefix}metadata.csv", "measure.json"],
    }
    write_json(out / "measure.json", summary)
    shutil.rmtree(parts, ignore_errors=True)
    return summary


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
